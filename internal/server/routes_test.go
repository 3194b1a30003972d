package server_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/carepath/carepath/api"
	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z]+)`)

// TestEveryRouteHasAnAccessDecisionAndIsInTheContract walks the engine's
// route table: a route registered outside the guard, or missing from
// api/openapi.yaml, fails here.
func TestEveryRouteHasAnAccessDecisionAndIsInTheContract(t *testing.T) {
	e := apitest.New(t)
	decisions := e.App.Guard.Decisions()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not valid OpenAPI: %v", err)
	}
	inSpec := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			inSpec[method+" "+path] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range e.App.Engine.Routes() {
		key := r.Method + " " + r.Path
		d, ok := decisions[key]
		if !ok {
			t.Errorf("route %s has no access decision: register it through access.Guard", key)
			continue
		}
		if len(key) > 255 {
			t.Errorf("route %s does not fit the audit log's action column (255)", key)
		}
		if d.Kind == access.PatientScoped && d.Permission == "" {
			t.Errorf("patient route %s declares no permission", key)
		}
		if d.Kind == access.StaffOnly && len(d.Roles) == 0 {
			t.Errorf("staff route %s allows no role", key)
		}
		specKey := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{$1}")
		if !inSpec[specKey] {
			t.Errorf("route %s is not in api/openapi.yaml (as %s)", key, specKey)
		}
		seen[specKey] = true
	}
	var stale []string
	for k := range inSpec {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("api/openapi.yaml describes routes the server does not have: %s", strings.Join(stale, ", "))
	}
}

// TestPatientRecordAccessMatrix: who may read a patient record. Every denial
// is a 404 whose body does not leak the record.
func TestPatientRecordAccessMatrix(t *testing.T) {
	e := apitest.New(t)
	p1, p3 := e.Demo.Patients["patient1"], e.Demo.Patients["patient3"]

	patient1 := e.LoginWeChat("patient1").AccessToken
	patient2 := e.LoginWeChat("patient2").AccessToken
	family1 := e.LoginWeChat("family1").AccessToken // patient1's daughter, all scopes
	family2 := e.LoginWeChat("family2").AccessToken // patient3's son, appointments only
	stranger := e.LoginWeChat("stranger").AccessToken
	cm1, cm2, lead1, admin := e.LoginStaff("cm1"), e.LoginStaff("cm2"), e.LoginStaff("lead1"), e.LoginStaff("admin")

	type actor struct {
		token  string
		cookie string
	}
	actors := map[string]actor{
		"anonymous": {}, "garbage token": {token: "x.y.z"},
		"patient1": {token: patient1}, "patient2": {token: patient2},
		"family1": {token: family1}, "family2": {token: family2}, "stranger": {token: stranger},
		"cm1": {cookie: cm1.Cookie}, "cm2": {cookie: cm2.Cookie}, "lead1": {cookie: lead1.Cookie}, "admin": {cookie: admin.Cookie},
	}
	cases := []struct {
		actor, patient string
		want           int
	}{
		{"anonymous", p1, 401}, {"garbage token", p1, 401},
		{"patient1", p1, 200}, {"patient1", p3, 404},
		{"patient2", p1, 404},
		{"family1", p1, 200}, {"family1", p3, 404},
		{"family2", p3, 200}, // any active link may see the profile basics
		{"family2", p1, 404},
		{"stranger", p1, 404},
		{"cm1", p1, 200}, {"cm1", p3, 404},
		{"cm2", p3, 200}, {"cm2", p1, 404},
		{"lead1", p1, 200}, {"lead1", p3, 404}, // ortho lead: ortho patients only
		{"admin", p1, 404}, // administrators configure; they do not read records
		{"cm1", "no-such-patient", 404},
	}
	for _, tc := range cases {
		t.Run(tc.actor+" reads "+tc.patient[:8], func(t *testing.T) {
			a := actors[tc.actor]
			resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients/" + tc.patient, Token: a.token, Cookie: a.cookie})
			if resp.Status != tc.want {
				t.Fatalf("got %d %s, want %d", resp.Status, resp.Body, tc.want)
			}
			if tc.want == 404 && (strings.Contains(string(resp.Body), "张建国") || strings.Contains(string(resp.Body), "王志强")) {
				t.Fatalf("a denial leaks the record: %s", resp.Body)
			}
		})
	}
}

func TestRevokedFamilyLinkStopsAtTheNextRequest(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	family1 := e.LoginWeChat("family1").AccessToken
	path := "/api/v1/patients/" + p1
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: family1}); resp.Status != http.StatusOK {
		t.Fatalf("before revocation: %d", resp.Status)
	}
	if err := e.App.DB.Exec("UPDATE family_links SET status = 'revoked' WHERE patient_id = ?", p1).Error; err != nil {
		t.Fatal(err)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: family1}); resp.Status != http.StatusNotFound {
		t.Fatalf("after revocation: %d, want 404", resp.Status)
	}
}

func TestStaffAndFamilyReadsAreAudited(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	path := "/api/v1/patients/" + p1
	cm1 := e.LoginStaff("cm1")
	cm2 := e.LoginStaff("cm2")
	e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: cm1.Cookie})
	e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: cm2.Cookie}) // denied
	e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: e.LoginWeChat("family1").AccessToken})
	e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: e.LoginWeChat("patient1").AccessToken}) // own read: not audited

	events, err := e.App.Audit.ForPatient(context.Background(), p1, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		got = append([]string{ev.ActorRole + " " + ev.Result + " " + ev.Action}, got...)
	}
	want := []string{
		"cm ok GET /api/v1/patients/:patientID",
		"cm denied GET /api/v1/patients/:patientID",
		"user ok GET /api/v1/patients/:patientID",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ev := range events {
		if ev.IP == "" || ev.RequestID == "" || ev.ActorID == "" {
			t.Fatalf("audit event lacks who/where: %+v", ev)
		}
	}
}

func TestStaffPatientListIsScoped(t *testing.T) {
	e := apitest.New(t)
	list := func(s apitest.StaffSession, query string) []string {
		t.Helper()
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients" + query, Cookie: s.Cookie})
		if resp.Status != http.StatusOK {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		var body struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		resp.JSON(t, &body)
		var names []string
		for _, it := range body.Items {
			names = append(names, it.Name)
		}
		sort.Strings(names)
		return names
	}
	cm1, cm2, lead1 := e.LoginStaff("cm1"), e.LoginStaff("cm2"), e.LoginStaff("lead1")
	ortho := []string{"孙伟", "张建国", "李秀英", "陈明"}
	sort.Strings(ortho)
	if got := list(cm1, ""); strings.Join(got, ",") != strings.Join(ortho, ",") {
		t.Fatalf("cm1 sees %v, want %v", got, ortho)
	}
	if got := list(lead1, ""); strings.Join(got, ",") != strings.Join(ortho, ",") {
		t.Fatalf("ortho lead sees %v, want %v", got, ortho)
	}
	for _, n := range list(cm2, "") {
		for _, o := range ortho {
			if n == o {
				t.Fatalf("cm2 sees cm1's patient %s", n)
			}
		}
	}
	if got := list(cm1, "?phone=138-0000-0002"); strings.Join(got, ",") != "李秀英" {
		t.Fatalf("phone search: %v", got)
	}
	if got := list(cm2, "?phone=13800000002"); len(got) != 0 {
		t.Fatalf("phone search must not cross caseloads: %v", got)
	}
	if got := list(cm1, "?risk_level=medium"); strings.Join(got, ",") != "张建国,陈明" {
		t.Fatalf("risk filter: %v", got)
	}
	// Pages of two walk the whole caseload without repeats.
	var all []string
	cursor := ""
	for i := 0; i < 5; i++ {
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients?limit=2&cursor=" + cursor, Cookie: cm1.Cookie})
		var body struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		resp.JSON(t, &body)
		for _, it := range body.Items {
			all = append(all, it.Name)
		}
		if body.NextCursor == "" {
			break
		}
		cursor = body.NextCursor
	}
	sort.Strings(all)
	if strings.Join(all, ",") != strings.Join(ortho, ",") {
		t.Fatalf("paging returned %v, want %v", all, ortho)
	}
	// Patients and admins have no caseload list.
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients", Token: e.LoginWeChat("patient1").AccessToken}); resp.Status != http.StatusForbidden {
		t.Fatalf("a patient listing patients: %d, want 403", resp.Status)
	}
	if resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/patients?limit=0", Cookie: cm1.Cookie}); resp.Status != http.StatusBadRequest {
		t.Fatalf("limit=0: %d, want 400", resp.Status)
	}
}
