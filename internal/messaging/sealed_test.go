package messaging_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/carepath/carepath/internal/apitest"
)

// TestMessageTextSealedAtRest reads the raw rows after a patient's message
// and a CM's internal note: neither text is in the database in the clear,
// while the thread still shows both to whom it should.
func TestMessageTextSealedAtRest(t *testing.T) {
	e := apitest.New(t)
	p1 := e.Demo.Patients["patient1"]
	tok := e.LoginWeChat("patient1").AccessToken
	path := "/api/v1/patients/" + p1 + "/thread/messages"
	const text, note = "伤口渗液了要紧吗SEALTEST", "内部备注SEALTEST家属焦虑"
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: path, Token: tok, Body: map[string]any{"client_msg_id": "seal-1", "text": text}}); r.Status != http.StatusCreated {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	cm := e.LoginStaff("cm1")
	if r := e.Do(apitest.Request{Method: http.MethodPost, Path: path, Cookie: cm.Cookie, CSRF: cm.CSRF, Body: map[string]any{"client_msg_id": "seal-2", "kind": "note", "text": note}}); r.Status != http.StatusCreated {
		t.Fatalf("note: %d %s", r.Status, r.Body)
	}
	var bodies []string
	if err := e.App.DB.Raw("SELECT body FROM thread_messages").Scan(&bodies).Error; err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		if strings.Contains(b, "SEALTEST") || strings.Contains(b, "伤口") || strings.Contains(b, "家属焦虑") {
			t.Errorf("plaintext message text in the database: %q", b)
		}
	}
	var demoPlain int64
	e.App.DB.Raw("SELECT COUNT(*) FROM thread_messages WHERE body <> '' AND body_sealed = ?", false).Scan(&demoPlain)
	if demoPlain != 0 {
		t.Errorf("%d message rows written unsealed", demoPlain)
	}
	r := e.Do(apitest.Request{Method: http.MethodGet, Path: path, Token: tok})
	if !strings.Contains(string(r.Body), text) || strings.Contains(string(r.Body), note) {
		t.Errorf("the patient's thread: %s", r.Body)
	}
	r = e.Do(apitest.Request{Method: http.MethodGet, Path: path, Cookie: cm.Cookie})
	if !strings.Contains(string(r.Body), text) || !strings.Contains(string(r.Body), note) {
		t.Errorf("the CM's thread: %s", r.Body)
	}
}
