package audit_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

func count(t *testing.T, s *audit.Store, patientID string) int {
	t.Helper()
	events, err := s.ForPatient(context.Background(), patientID, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

// TestBatchedEventsSurviveShutdown: events recorded from many requests at
// once and still queued when the server shuts down are all written, once.
func TestBatchedEventsSurviveShutdown(t *testing.T) {
	db := dbtest.New(t)
	s := audit.NewStore(db, time.Now)
	s.StartBatching(time.Hour, 100000, nil) // only the shutdown writes them
	patient := "0193c0de-0000-7000-8000-00000000a001"
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				if err := s.Record(context.Background(), audit.Event{ActorKind: "staff", ActorID: fmt.Sprintf("cm%d", w), ActorRole: "cm",
					Action: "GET /api/v1/patients/:patientID/observations", PatientID: &patient, Result: audit.ResultOK}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if err := s.StopBatching(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, patient); got != 1200 {
		t.Errorf("after shutdown: %d audit events, want 1200", got)
	}
	// After shutdown an event is written at once.
	if err := s.Record(context.Background(), audit.Event{ActorKind: "staff", ActorID: "late", ActorRole: "cm", Action: "GET x", PatientID: &patient, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.Model(&audit.Event{}).Where("actor_id = ?", "late").Count(&n).Error; err != nil || n != 1 {
		t.Errorf("event recorded after shutdown: %d rows (%v), want 1", n, err)
	}
}

// TestAccessLogShowsQueuedEvents: a patient reading their access log sees a
// read that happened a moment ago, though its event is still queued.
func TestAccessLogShowsQueuedEvents(t *testing.T) {
	db := dbtest.New(t)
	s := audit.NewStore(db, time.Now)
	s.StartBatching(time.Hour, 100000, nil)
	t.Cleanup(func() { _ = s.StopBatching(context.Background()) })
	patient := "0193c0de-0000-7000-8000-00000000a002"
	if err := s.Record(context.Background(), audit.Event{ActorKind: "staff", ActorID: "cm1", ActorRole: "cm", Action: "GET /api/v1/patients/:patientID",
		PatientID: &patient, Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	events, err := s.Access(context.Background(), audit.AccessQuery{PatientID: patient, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].ActorID != "cm1" {
		t.Errorf("access log = %+v, want the CM's read", events)
	}
}
