package patient_test

import (
	"net/http"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/config"
)

// Two instances keep /me answers for a minute (far longer than the test).
// A change the database makes behind gorm's back is not seen until the entry
// expires, which shows the cache is used; every write through gorm — by model,
// by table name or as raw SQL — drops the answers on both instances.
func TestMeCacheIsDroppedByEveryWriteOnEveryInstance(t *testing.T) {
	longCache := func(c *config.Config) { c.Auth.MeCacheTTL = time.Minute }
	a := apitest.New(t, longCache)
	b := a.SecondInstance()
	for _, e := range []*apitest.Env{a, b} {
		apitest.WaitFor(t, "/me cache subscribed", e.App.MeCache.Live)
	}
	tok := a.LoginWeChat("patient1").AccessToken
	id := a.Demo.Patients["patient1"]
	bed := func(e *apitest.Env) string {
		resp := e.Do(apitest.Request{Method: http.MethodGet, Path: "/api/v1/me", Token: tok})
		if resp.Status != http.StatusOK {
			t.Fatalf("GET /me: %d %s", resp.Status, resp.Body)
		}
		var body struct {
			Patient struct {
				Bed string `json:"bed"`
			} `json:"patient"`
		}
		resp.JSON(t, &body)
		return body.Patient.Bed
	}
	for _, e := range []*apitest.Env{a, b} {
		if got := bed(e); got != "12-1" {
			t.Fatalf("bed = %q, want the demo's 12-1", got)
		}
	}

	// Behind gorm's back: both keep their answers.
	sqlDB, err := a.App.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlDB.Exec("UPDATE patients SET bed = '7-7' WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	if got := bed(b); got != "12-1" {
		t.Fatalf("b answered bed %q for a change no callback saw; the cache is not in use", got)
	}

	// Logins write only bookkeeping no answer shows (last login, failed
	// attempts): on either instance they leave the answers in place.
	b.LoginWeChat("patient2")
	a.LoginStaff("cm1")
	if resp := b.Do(apitest.Request{Method: http.MethodPost, Path: "/api/v1/auth/staff/login",
		Body: map[string]string{"username": "cm2", "password": "not-the-password"}}); resp.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", resp.Status, resp.Body)
	}
	for _, e := range []*apitest.Env{a, b} {
		if got := bed(e); got != "12-1" {
			t.Fatalf("an instance answered bed %q after logins: a login emptied the cache", got)
		}
	}

	// Through gorm on a, by model: a answers the change at once, b soon.
	if err := a.App.DB.Model(&patient.Patient{}).Where("id = ?", id).Update("bed", "8-8").Error; err != nil {
		t.Fatal(err)
	}
	if got := bed(a); got != "8-8" {
		t.Fatalf("a answered bed %q after its own write, want 8-8 at once", got)
	}
	apitest.WaitFor(t, "b drops its answer after a's write", func() bool { return bed(b) == "8-8" })

	// By table name and as raw SQL, through b this time.
	if err := b.App.DB.Table("patients").Where("id = ?", id).Update("bed", "9-9").Error; err != nil {
		t.Fatal(err)
	}
	apitest.WaitFor(t, "a sees b's write by table", func() bool { return bed(a) == "9-9" })
	if err := b.App.DB.Exec("UPDATE patients SET bed = '10-10' WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	apitest.WaitFor(t, "a sees b's raw write", func() bool { return bed(a) == "10-10" })
	if got := bed(b); got != "10-10" {
		t.Fatalf("b answered bed %q after its own raw write", got)
	}

	// In a transaction: announced once committed, on both instances.
	err = a.App.DB.Transaction(func(tx *gorm.DB) error {
		return tx.Model(&patient.Patient{}).Where("id = ?", id).Update("bed", "11-11").Error
	})
	if err != nil {
		t.Fatal(err)
	}
	apitest.WaitFor(t, "b sees a's write in a transaction", func() bool { return bed(b) == "11-11" })
	apitest.WaitFor(t, "a sees its own write in a transaction", func() bool { return bed(a) == "11-11" })
}
