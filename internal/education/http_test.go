package education_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type item struct {
	ID      string `json:"id"`
	Article struct {
		Key            string `json:"key"`
		Title          string `json:"title"`
		ReadingMinutes int    `json:"reading_minutes"`
	} `json:"article"`
	Source     string     `json:"source"`
	Stage      string     `json:"stage"`
	OpenedAt   *time.Time `json:"opened_at"`
	FinishedAt *time.Time `json:"finished_at"`
	ReadBy     string     `json:"read_by"`
	Unread     bool       `json:"unread"`
	HTML       string     `json:"html"`
}

type feed struct {
	Items  []item `json:"items"`
	Unread int    `json:"unread"`
}

func (f feed) keys() string {
	var out []string
	for _, it := range f.Items {
		out = append(out, it.Article.Key)
	}
	return strings.Join(out, ",")
}

func call(t *testing.T, e *apitest.Env, r apitest.Request, want int, v any) apitest.Response {
	t.Helper()
	resp := e.Do(r)
	if resp.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", r.Method, r.Path, resp.Status, resp.Body, want)
	}
	if v != nil {
		resp.JSON(t, v)
	}
	return resp
}

func TestFeedReadTrackingAndManualPush(t *testing.T) {
	e := apitest.New(t)
	p1 := "/api/v1/patients/" + e.Demo.Patients["patient1"] + "/education"
	patient := e.LoginWeChat("patient1").AccessToken
	family := e.LoginWeChat("family1").AccessToken
	cm := e.LoginStaff("cm1")

	// patient1 (knee, week 2 after discharge) has every stage's article so far;
	// the two oldest were read during the seed.
	var f feed
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1, Token: patient}, 200, &f)
	if f.keys() != "tka-rehab-weeks-2-6,tka-home-rehab-week1,tka-in-hospital,tka-before-surgery" || f.Unread != 2 {
		t.Fatalf("feed %s (%d unread)", f.keys(), f.Unread)
	}
	if !f.Items[0].Unread || f.Items[3].Unread || f.Items[0].Source != "stage" || f.Items[0].Article.ReadingMinutes < 1 {
		t.Fatalf("feed items %+v", f.Items)
	}
	newest, second := f.Items[0].ID, f.Items[1].ID

	// A CM looking does not count as reading.
	var d item
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "/" + newest, Cookie: cm.Cookie}, 200, &d)
	if d.OpenedAt != nil || !strings.Contains(d.HTML, "<h1") {
		t.Fatalf("staff view: %+v", d)
	}
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + newest + "/finished", Cookie: cm.Cookie, CSRF: cm.CSRF}, 403, nil)

	// The patient opens it; the daughter reads another to the end.
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "/" + newest, Token: patient}, 200, &d)
	if d.OpenedAt == nil || d.ReadBy != "self" || d.FinishedAt != nil || d.Unread {
		t.Fatalf("after opening: %+v", d)
	}
	var fin item
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1 + "/" + second + "/finished", Token: family}, 200, &fin)
	if fin.OpenedAt == nil || fin.FinishedAt == nil || fin.ReadBy != "family" {
		t.Fatalf("after finishing: %+v", fin)
	}
	// The CM sees who read what.
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1, Cookie: cm.Cookie}, 200, &f)
	if f.Unread != 0 || f.Items[0].ReadBy == "" {
		t.Fatalf("CM's view of the feed: %+v", f)
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "?status=unread", Token: patient}, 200, &f)
	if len(f.Items) != 0 {
		t.Fatalf("unread filter: %s", f.keys())
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "?status=bogus", Token: patient}, 400, nil)

	// The CM pushes an article by hand: it is new and comes first.
	var pushed item
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1, Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]string{"article": "tka-long-term"}}, 201, &pushed)
	if pushed.Source != "manual" || !pushed.Unread {
		t.Fatalf("pushed %+v", pushed)
	}
	if r := call(t, e, apitest.Request{Method: http.MethodPost, Path: p1, Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]string{"article": "tka-long-term"}}, 409, nil); r.ErrorCode() != "article_already_assigned" {
		t.Fatalf("second push: %s", r.Body)
	}
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1, Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]string{"article": "no-such-article"}}, 404, nil)
	call(t, e, apitest.Request{Method: http.MethodPost, Path: p1, Token: patient, Body: map[string]string{"article": "htn-lifestyle"}}, 404, nil)
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1, Token: patient}, 200, &f)
	if f.Items[0].Article.Key != "tka-long-term" || f.Unread != 1 {
		t.Fatalf("after the push: %s (%d unread)", f.keys(), f.Unread)
	}

	// Another patient's assignment is not found under patient1, nor by patient2.
	other := "/api/v1/patients/" + e.Demo.Patients["patient2"] + "/education"
	var f2 feed
	call(t, e, apitest.Request{Method: http.MethodGet, Path: other, Cookie: cm.Cookie}, 200, &f2)
	if len(f2.Items) == 0 {
		t.Fatal("patient2 has no education")
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: p1 + "/" + f2.Items[0].ID, Token: patient}, 404, nil)
	call(t, e, apitest.Request{Method: http.MethodGet, Path: other + "/" + f2.Items[0].ID, Token: patient}, 404, nil)
	// family2 may see patient3's appointments only, not the education.
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + e.Demo.Patients["patient3"] + "/education", Token: e.LoginWeChat("family2").AccessToken}, 404, nil)
}

func TestLibrary(t *testing.T) {
	e := apitest.New(t)
	admin := e.LoginStaff("admin")
	var list struct {
		Items []struct{ Key string } `json:"items"`
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/articles?pathway=heart_failure", Cookie: admin.Cookie}, 200, &list)
	if len(list.Items) != 3 {
		t.Fatalf("heart failure articles: %+v", list.Items)
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/articles?pathway=type2_diabetes&topic=低血糖", Cookie: admin.Cookie}, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Key != "t2d-hypoglycemia" {
		t.Fatalf("hypoglycaemia articles: %+v", list.Items)
	}
	var art item
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/articles/hf-salt-fluid", Cookie: admin.Cookie}, 200, &art)
	if !strings.Contains(art.HTML, "限盐") {
		t.Fatalf("article html: %s", art.HTML)
	}
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/articles/nope", Cookie: admin.Cookie}, 404, nil)
	call(t, e, apitest.Request{Method: http.MethodGet, Path: "/api/v1/articles", Token: e.LoginWeChat("patient1").AccessToken}, 403, nil)
}
