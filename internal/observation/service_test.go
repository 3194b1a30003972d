package observation_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/observation"
)

// TestConcurrentReportsFinishAndStoreEachReadingOnce: many reports at once,
// for a few patients, more than the connection pool holds (SQLite: 4), some
// of them retries. A report's transaction must never wait for a second
// pooled connection, and a retry racing its original stores nothing twice.
func TestConcurrentReportsFinishAndStoreEachReadingOnce(t *testing.T) {
	e := apitest.New(t)
	keys := []string{"patient2", "patient5", "patient6"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang, not a measurement
	defer cancel()
	const workers, each, distinct = 12, 4, 6
	measured := e.Clock.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := keys[w%len(keys)]
			who := observation.Reporter{
				Actor: auth.Actor{Kind: auth.KindUser, ID: e.Demo.Users["fake-openid-"+key], Role: auth.RoleUser},
				Grant: access.Grant{PatientID: e.Demo.Patients[key], Relation: access.RelationSelf},
			}
			for i := 0; i < each; i++ {
				sys := 120.0 + float64(i)
				if i == each-1 {
					sys = 185 // the last of each worker is critical: alerts are opened and folded concurrently
				}
				// Workers w and w+distinct report for the same patient the same
				// readings under the same keys: each pair races a retry against its original.
				twin := w % distinct
				in := observation.Input{Type: "blood_pressure", Systolic: &sys, Diastolic: f(80),
					MeasuredAt: measured.Add(-time.Duration(twin*each+i) * time.Minute).Format(time.RFC3339)}
				if _, err := e.App.Observations.Report(ctx, who, in, fmt.Sprintf("w%d-%d", twin, i)); err != nil {
					errs <- fmt.Errorf("worker %d report %d: %w", w, i, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var readings, openAlerts int64
	e.App.DB.Model(&observation.Reading{}).Where("patient_id IN ?", []string{e.Demo.Patients["patient2"], e.Demo.Patients["patient5"], e.Demo.Patients["patient6"]}).Count(&readings)
	if readings != distinct*each {
		t.Fatalf("%d readings stored, want %d (one per key)", readings, distinct*each)
	}
	e.App.DB.Table("alerts").Where("kind = ? AND status = ?", "blood_pressure", "open").
		Where("patient_id IN ?", []string{e.Demo.Patients["patient2"], e.Demo.Patients["patient5"], e.Demo.Patients["patient6"]}).Count(&openAlerts)
	if openAlerts != int64(len(keys)) {
		t.Fatalf("%d open blood-pressure alerts, want one per patient", openAlerts)
	}
}
