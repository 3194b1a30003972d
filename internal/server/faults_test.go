package server_test

import (
	"net/http"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestDatabaseDownIs503: a dependency that is gone gets "try again later",
// not a 500 and not a hang.
func TestDatabaseDownIs503(t *testing.T) {
	e := apitest.New(t)
	token := e.LoginWeChat("patient1").AccessToken
	cm1 := e.LoginStaff("cm1")
	sqlDB, err := e.App.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.Close()
	for name, req := range map[string]apitest.Request{
		"me":           {Method: http.MethodGet, Path: "/api/v1/me", Token: token},
		"patient list": {Method: http.MethodGet, Path: "/api/v1/patients", Cookie: cm1.Cookie},
		"login":        {Method: http.MethodPost, Path: "/api/v1/auth/staff/login", Body: map[string]string{"username": "cm1", "password": apitest.Password}},
	} {
		resp := e.Do(req)
		if resp.Status != http.StatusServiceUnavailable || resp.ErrorCode() != "dependency_unavailable" {
			t.Errorf("%s with the database closed: %d %s, want 503 dependency_unavailable", name, resp.Status, resp.Body)
		}
	}
	resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/readyz"})
	if resp.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database closed: %d, want 503", resp.Status)
	}
}
