package audit_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func record(t *testing.T, s *audit.Store, at time.Time, patient, actor, action string) {
	t.Helper()
	e := audit.Event{At: at, ActorKind: "staff", ActorID: actor, ActorRole: "cm", IP: "10.0.0.1", UserAgent: "test",
		Action: action, PatientID: &patient, Result: audit.ResultOK}
	if err := s.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// TestAuditLogIsAppendOnly: the database itself refuses to change or delete
// an event, whatever the application's code does.
func TestAuditLogIsAppendOnly(t *testing.T) {
	db := dbtest.New(t)
	now := time.Now().UTC()
	s := audit.NewStore(db, func() time.Time { return now })
	record(t, s, now.Add(-time.Hour), "p1", "cm1", "GET /api/v1/patients/:patientID")
	if err := db.Exec("UPDATE audit_events SET result = 'denied'").Error; err == nil {
		t.Error("UPDATE of audit_events succeeded")
	}
	if err := db.Exec("DELETE FROM audit_events").Error; err == nil {
		t.Error("DELETE of audit_events succeeded without a purge permit")
	}
	// A permit that would cut retention below 180 days is refused.
	if err := db.Exec("INSERT INTO audit_purge_permits (id, before_at, created_at) VALUES (?, ?, ?)",
		database.NewID(), now.Add(-24*time.Hour), now).Error; err == nil {
		t.Error("a purge permit for events 1 day old was accepted")
	}
	var n int64
	db.Table("audit_events").Where("result = ?", audit.ResultOK).Count(&n)
	if n != 1 {
		t.Errorf("events after the attempts: %d, want the 1 unchanged", n)
	}
}

// TestPurgeKeepsRetention: the job deletes what is older than retention and
// nothing newer, through the permit the triggers ask for.
func TestPurgeKeepsRetention(t *testing.T) {
	db := dbtest.New(t)
	now := time.Now().UTC()
	s := audit.NewStore(db, func() time.Time { return now })
	day := 24 * time.Hour
	record(t, s, now.Add(-400*day), "p1", "cm1", "GET a")
	record(t, s, now.Add(-366*day), "p1", "cm1", "GET b")
	record(t, s, now.Add(-364*day), "p1", "cm1", "GET c")
	record(t, s, now.Add(-time.Hour), "p1", "cm1", "GET d")
	n, err := s.Purge(context.Background(), 365*day, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	var left []string
	db.Table("audit_events").Order("action").Pluck("action", &left)
	if len(left) != 2 || left[0] != "GET c" || left[1] != "GET d" {
		t.Errorf("left %v, want [GET c GET d]", left)
	}
	var permits int64
	db.Table("audit_purge_permits").Count(&permits)
	if permits != 0 {
		t.Errorf("%d permits left behind", permits)
	}
	// Without a permit, still nothing can be deleted.
	if err := db.Exec("DELETE FROM audit_events").Error; err == nil {
		t.Error("DELETE after the purge succeeded")
	}
	// A retention the database refuses fails the job instead of deleting.
	if _, err := s.Purge(context.Background(), 30*day, 100); err == nil {
		t.Error("a 30-day purge was allowed")
	}
}

func TestSearch(t *testing.T) {
	db := dbtest.New(t)
	now := time.Now().UTC()
	s := audit.NewStore(db, func() time.Time { return now })
	for i := range 5 {
		record(t, s, now.Add(-time.Duration(i)*time.Hour), "p1", "cm1", "GET /api/v1/patients/:patientID/observations")
	}
	record(t, s, now, "p2", "cm2", "GET /api/v1/patients/:patientID")
	record(t, s, now.Add(-48*time.Hour), "p1", "cm2", "POST /api/v1/patients/:patientID/thread/messages")
	ctx := context.Background()
	check := func(name string, q audit.SearchQuery, want int) []audit.Event {
		t.Helper()
		q.Within = func(db *gorm.DB) *gorm.DB { return db } // the scope is access.AuditEvents' (tested in admin)
		got, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s: %d events, want %d", name, len(got), want)
		}
		return got
	}
	check("patient", audit.SearchQuery{PatientID: "p1", Limit: 50}, 6)
	check("actor", audit.SearchQuery{ActorID: "cm2", Limit: 50}, 2)
	check("action prefix", audit.SearchQuery{Action: "POST ", Limit: 50}, 1)
	check("wildcards are literal", audit.SearchQuery{Action: "%", Limit: 50}, 0)
	check("date range", audit.SearchQuery{PatientID: "p1", From: now.Add(-72 * time.Hour), To: now.Add(-24 * time.Hour), Limit: 50}, 1)
	page := check("page 1", audit.SearchQuery{PatientID: "p1", Limit: 4}, 4)
	check("page 2", audit.SearchQuery{PatientID: "p1", Limit: 4, Cursor: page[3].ID}, 2)
}
