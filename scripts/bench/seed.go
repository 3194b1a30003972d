package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/demo"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/database"
)

// hospital is what the seeding made and the scenarios address.
type hospital struct {
	sum      demo.Summary
	cms      []string          // CM staff ids
	cmNames  []string          // their usernames
	patients []string          // every seeded active patient
	cmOf     map[string]string // patient id → CM id
	sample   []string          // patients with WeChat logins, plans, appointments, recent readings
	yearly   []string          // patients (of the sample) with a year of readings
	catchup  string            // the patient whose thread holds the missed messages
	readings int               // readings stored
}

const cmPassword = "bench-cm-password"

// seedHospital loads the demo data (pathways, hospital, departments), adds
// cms case managers and n active patients (batch inserts: one registered
// through the service gives the encrypted name every copy reuses), then,
// for a sample, plans, appointments, recent readings, a year of readings
// for a few, and one thread of `missed` messages.
func seedHospital(ctx context.Context, a *app.App, cms, n, sample, yearly, perDay, missed int) (hospital, error) {
	h := hospital{cmOf: map[string]string{}}
	sum, _, err := a.SeedDemo(ctx, "bench-password")
	if err != nil {
		return h, err
	}
	h.sum = sum
	dept := sum.Departments["CARDIO"]
	for i := 0; i < cms; i++ {
		st := auth.Staff{HospitalID: sum.HospitalID, Username: fmt.Sprintf("benchcm%02d", i), DisplayName: fmt.Sprintf("压测个管师%02d", i), Role: auth.RoleCM, DepartmentID: &dept}
		if err := a.Auth.CreateStaff(ctx, &st, cmPassword); err != nil {
			return h, fmt.Errorf("cm %d: %w", i, err)
		}
		h.cms = append(h.cms, st.ID)
		h.cmNames = append(h.cmNames, st.Username)
	}
	tmpl, err := a.Patients.Register(ctx, patient.NewPatient{HospitalID: sum.HospitalID, DepartmentID: dept, Name: "压测患者", AssignedCMID: h.cms[0], RiskLevel: "medium", MRN: "BENCH-T"})
	if err != nil {
		return h, err
	}
	var row patient.Patient
	if err := a.DB.WithContext(ctx).Where("id = ?", tmpl.ID).First(&row).Error; err != nil {
		return h, err
	}
	h.patients = append(h.patients, row.ID)
	h.cmOf[row.ID] = h.cms[0]
	batch := make([]patient.Patient, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := a.DB.WithContext(ctx).CreateInBatches(batch, 1000).Error
		batch = batch[:0]
		return err
	}
	for i := 1; i < n; i++ {
		p := row
		p.ID = database.NewID()
		p.MRN = fmt.Sprintf("BENCH-%07d", i)
		cm := h.cms[i%len(h.cms)]
		p.AssignedCMID = &cm
		batch = append(batch, p)
		h.patients = append(h.patients, p.ID)
		h.cmOf[p.ID] = cm
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return h, fmt.Errorf("patients: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return h, fmt.Errorf("patients: %w", err)
	}

	// The sample: spread over the patients (and so over the CMs).
	step := max(1, n/sample)
	for i := 0; i < n && len(h.sample) < sample; i += step {
		h.sample = append(h.sample, h.patients[i])
	}
	loc := a.Observations.Location()
	now := time.Now()
	today := now.In(loc)
	var rows []observation.Reading
	rng := rand.New(rand.NewPCG(1, 2))
	for i, pid := range h.sample {
		cm := auth.Actor{Kind: auth.KindStaff, ID: h.cmOf[pid], Role: auth.RoleCM, HospitalID: sum.HospitalID, DepartmentID: dept}
		if _, err := a.Careplan.Enrol(ctx, cm, pid, careplan.Enrolment{Pathway: "hypertension", Anchors: map[string]string{
			careplan.AnchorEnrolment: today.AddDate(0, 0, -30).Format(time.DateOnly)}}); err != nil {
			return h, fmt.Errorf("enrol: %w", err)
		}
		start := time.Date(today.Year(), today.Month(), today.Day(), 9, 0, 0, 0, loc).AddDate(0, 0, 3+i%20)
		if _, _, err := a.Appointments.Create(ctx, cm, pid, appointment.Input{Kind: appointment.KindRevisit, StartsAt: start, EndsAt: start.Add(30 * time.Minute),
			Department: "心血管内科", Location: "门诊楼2楼"}); err != nil {
			return h, fmt.Errorf("appointment: %w", err)
		}
		days, per := 14, 2 // recent readings for every sample patient
		if i < yearly {
			days, per = 365, perDay
			h.yearly = append(h.yearly, pid)
		}
		for d := days; d >= 1; d-- {
			for k := 0; k < per; k++ {
				t := now.AddDate(0, 0, -d).Add(time.Duration(k) * 24 * time.Hour / time.Duration(per)).UTC().Truncate(time.Second)
				sys, dia, pulse := math.Round(115+rng.Float64()*25), math.Round(70+rng.Float64()*15), 60+float64(rng.IntN(30))
				rows = append(rows, observation.Reading{
					ID: database.NewID(), PatientID: pid, Type: observation.TypeBloodPressure, MeasuredAt: t,
					LocalDay: t.In(loc).Format(time.DateOnly), Code: "85354-9", Value: &sys, Value2: &dia, Value3: &pulse,
					Unit: "mm[Hg]", Source: observation.SourceDevice, ReportedBy: "bench", ReceivedAt: t,
				})
			}
		}
		if len(rows) >= 5000 {
			if err := a.DB.WithContext(ctx).CreateInBatches(rows, 1000).Error; err != nil {
				return h, fmt.Errorf("readings: %w", err)
			}
			h.readings += len(rows)
			rows = rows[:0]
		}
	}
	if err := a.DB.WithContext(ctx).CreateInBatches(rows, 1000).Error; err != nil {
		return h, fmt.Errorf("readings: %w", err)
	}
	h.readings += len(rows)

	// Missed messages: the CM wrote `missed` messages while the patient was away.
	h.catchup = h.sample[0]
	msgs := messaging.NewStore(a.DB)
	t, err := msgs.EnsureThread(ctx, h.catchup, now)
	if err != nil {
		return h, err
	}
	var ms []messaging.Message
	for i := 1; i <= missed; i++ {
		at := now.Add(-time.Duration(missed-i) * time.Minute).UTC().Truncate(time.Millisecond)
		ms = append(ms, messaging.Message{ID: database.NewID(), ThreadID: t.ID, Seq: int64(i), SenderKind: string(auth.KindStaff), SenderID: h.cmOf[h.catchup],
			SenderRole: string(auth.RoleCM), Kind: messaging.KindText, Body: fmt.Sprintf("第%d条随访提醒：请按时服药并记录血压。", i), CreatedAt: at})
	}
	if err := a.DB.WithContext(ctx).CreateInBatches(ms, 500).Error; err != nil {
		return h, fmt.Errorf("messages: %w", err)
	}
	if err := a.DB.WithContext(ctx).Model(&messaging.Thread{}).Where("id = ?", t.ID).
		Updates(map[string]any{"last_seq": missed, "last_message_at": now.UTC()}).Error; err != nil {
		return h, err
	}
	return h, nil
}
