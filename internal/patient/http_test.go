package patient_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

type meBody struct {
	Kind string `json:"kind"`
	Role string `json:"role"`
	User *struct {
		PhoneBound  bool   `json:"phone_bound"`
		PhoneMasked string `json:"phone_masked"`
	} `json:"user"`
	Patient *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"patient"`
	Relatives []struct {
		PatientID    string   `json:"patient_id"`
		Name         string   `json:"name"`
		Relationship string   `json:"relationship"`
		Scopes       []string `json:"scopes"`
	} `json:"relatives"`
	Staff *struct {
		Username string `json:"username"`
	} `json:"staff"`
}

func getMe(t *testing.T, e *apitest.Env, req apitest.Request) meBody {
	t.Helper()
	req.Method, req.Path = http.MethodGet, "/api/v1/me"
	resp := e.Do(req)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /me: %d %s", resp.Status, resp.Body)
	}
	var b meBody
	resp.JSON(t, &b)
	return b
}

func TestMeForPatientFamilyAndStaff(t *testing.T) {
	e := apitest.New(t)
	p := getMe(t, e, apitest.Request{Token: e.LoginWeChat("patient1").AccessToken})
	if p.Patient == nil || p.Patient.Name != "张建国" || p.Patient.ID != e.Demo.Patients["patient1"] || len(p.Relatives) != 0 {
		t.Fatalf("patient1's /me: %+v", p)
	}
	f := getMe(t, e, apitest.Request{Token: e.LoginWeChat("family1").AccessToken})
	if f.Patient != nil || len(f.Relatives) != 1 || f.Relatives[0].Name != "张建国" || f.Relatives[0].Relationship != "女儿" || len(f.Relatives[0].Scopes) != 6 {
		t.Fatalf("family1's /me: %+v", f)
	}
	s := getMe(t, e, apitest.Request{Cookie: e.LoginStaff("cm2").Cookie})
	if s.Kind != "staff" || s.Role != "cm" || s.Staff == nil || s.Staff.Username != "cm2" || s.User != nil {
		t.Fatalf("cm2's /me: %+v", s)
	}
}

func TestPhoneBindingLinksTheRecordACaseManagerCreated(t *testing.T) {
	e := apitest.New(t)
	tok := e.LoginWeChat("sunwei").AccessToken
	before := getMe(t, e, apitest.Request{Token: tok})
	if before.Patient != nil || before.User.PhoneBound {
		t.Fatalf("before binding: %+v", before)
	}
	resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/phone", Token: tok, Body: map[string]string{"code": "phone-13800000007"}})
	if resp.Status != http.StatusOK {
		t.Fatalf("bind phone: %d %s", resp.Status, resp.Body)
	}
	var after meBody
	resp.JSON(t, &after)
	if !after.User.PhoneBound || after.User.PhoneMasked != "138****0007" {
		t.Fatalf("user after binding: %+v", after.User)
	}
	if after.Patient == nil || after.Patient.ID != e.Demo.Patients["patient7"] || after.Patient.Name != "孙伟" {
		t.Fatalf("binding the phone must link patient7's record, got %+v", after.Patient)
	}
	// The phone is encrypted at rest: the number itself is nowhere in the users row.
	var stored string
	e.App.DB.Raw("SELECT phone_enc FROM users WHERE phone_enc <> ''").Scan(&stored)
	if stored == "" || strings.Contains(stored, "13800000007") {
		t.Fatalf("stored phone %q: want ciphertext", stored)
	}
	// A second user with the same phone finds no unlinked record to take.
	other := e.LoginWeChat("impostor").AccessToken
	resp = e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/phone", Token: other, Body: map[string]string{"code": "phone-13800000007"}})
	var second meBody
	resp.JSON(t, &second)
	if second.Patient != nil {
		t.Fatal("an already linked record was linked again")
	}
}

func TestPhoneBindingErrors(t *testing.T) {
	e := apitest.New(t)
	tok := e.LoginWeChat("patient2").AccessToken
	cases := []struct {
		name       string
		req        apitest.Request
		wantStatus int
		wantCode   string
	}{
		{"bad code", apitest.Request{Token: tok, Body: map[string]string{"code": "nonsense"}}, 400, "phone_code_invalid"},
		{"missing code", apitest.Request{Token: tok, Body: map[string]string{}}, 400, "invalid_field"},
		{"anonymous", apitest.Request{Body: map[string]string{"code": "phone-13800000002"}}, 401, "unauthenticated"},
		{"staff", apitest.Request{Cookie: e.LoginStaff("cm1").Cookie, Body: map[string]string{"code": "phone-13800000002"}}, 403, "csrf_token_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Method, tc.req.Path = http.MethodPost, "/api/v1/me/phone"
			resp := e.Do(tc.req)
			if resp.Status != tc.wantStatus || resp.ErrorCode() != tc.wantCode {
				t.Fatalf("got %d %s, want %d %s", resp.Status, resp.Body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	t.Run("staff with csrf", func(t *testing.T) {
		s := e.LoginStaff("cm1")
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/phone", Cookie: s.Cookie, CSRF: s.CSRF, Body: map[string]string{"code": "phone-13800000002"}})
		if resp.Status != http.StatusForbidden || resp.ErrorCode() != "user_only" {
			t.Fatalf("got %d %s, want 403 user_only", resp.Status, resp.Body)
		}
	})
	t.Run("wechat down", func(t *testing.T) {
		e.Fake.SetDown(true)
		defer e.Fake.SetDown(false)
		resp := e.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/me/phone", Token: tok, Body: map[string]string{"code": "phone-13800000002"}})
		if resp.Status != http.StatusServiceUnavailable {
			t.Fatalf("got %d, want 503", resp.Status)
		}
	})
}
