package kpi_test

import (
	"os"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// at is a local time in Shanghai in 2026; month 2 = February, 3 = March.
func at(month, day, hour, min int) time.Time {
	return time.Date(2026, time.Month(month), day, hour, min, 0, 0, shanghai)
}

// closes is the end of a follow-up window: local midnight starting March day.
func closes(day int) time.Time { return at(3, day, 0, 0) }

type rhythms map[string][]kpi.Vital

func (r rhythms) StageVitals(pathway, stage string) []kpi.Vital { return r[pathway+"/"+stage] }

type seed struct {
	t  *testing.T
	db *gorm.DB
	n  int
}

func (s *seed) id() string {
	s.n++
	return time.Date(2000, 1, 1, 0, 0, s.n, 0, time.UTC).Format("20060102150405")
}

func (s *seed) row(table string, v map[string]any) string {
	s.t.Helper()
	if _, ok := v["id"]; !ok {
		v["id"] = s.id()
	}
	for k, x := range v {
		if tm, ok := x.(time.Time); ok {
			v[k] = tm.UTC()
		}
	}
	if err := s.db.Table(table).Create(v).Error; err != nil {
		s.t.Fatalf("insert into %s: %v", table, err)
	}
	return v["id"].(string)
}

func (s *seed) patient(id, hospital, dept, cm, covering, status string) {
	v := map[string]any{"id": id, "hospital_id": hospital, "department_id": dept, "name_enc": "x", "status": status,
		"created_at": at(1, 1, 0, 0), "updated_at": at(1, 1, 0, 0)}
	if cm != "" {
		v["assigned_cm_id"] = cm
	}
	if covering != "" {
		v["covering_cm_id"] = covering
	}
	s.row("patients", v)
}

func (s *seed) followup(patient string, end time.Time, recorded *time.Time) {
	status := "pending"
	if recorded != nil {
		status = "done"
	}
	v := map[string]any{"patient_id": patient, "item_key": s.id(), "source": "manual", "title": "随访", "channel": "phone",
		"window_start": end.AddDate(0, 0, -3), "window_end": end, "status": status, "created_at": at(1, 1, 0, 0), "updated_at": at(1, 1, 0, 0)}
	if recorded != nil {
		v["recorded_at"] = *recorded
	}
	s.row("followups", v)
}

func (s *seed) alert(patient string, raised time.Time, ackAfter, resolveAfter int) {
	v := map[string]any{"patient_id": patient, "kind": s.id(), "rule": "r", "severity": "high", "status": "open", "summary": "s",
		"first_raised_at": raised, "last_triggered_at": raised, "created_at": raised, "updated_at": raised}
	if ackAfter > 0 {
		v["acknowledged_at"], v["status"] = raised.Add(time.Duration(ackAfter)*time.Minute), "acknowledged"
	}
	if resolveAfter > 0 {
		v["resolved_at"], v["status"] = raised.Add(time.Duration(resolveAfter)*time.Minute), "resolved"
	}
	s.row("alerts", v)
}

func (s *seed) thread(patient string) string {
	return s.row("message_threads", map[string]any{"patient_id": patient, "created_at": at(1, 1, 0, 0), "updated_at": at(1, 1, 0, 0)})
}

func (s *seed) message(thread string, seq int64, staff bool, kind string, internal bool, when time.Time) {
	sender := "user"
	if staff {
		sender = "staff"
	}
	s.row("thread_messages", map[string]any{"thread_id": thread, "seq": seq, "sender_kind": sender, "sender_id": "s" + sender,
		"sender_role": "x", "kind": kind, "body": "", "internal": internal, "created_at": when})
}

func (s *seed) answer(patient, questionnaire string, score *float64, answered time.Time) {
	v := map[string]any{"patient_id": patient, "questionnaire": questionnaire, "version": 1, "assigned_by_kind": "staff",
		"assigned_by_id": "cm", "assigned_at": answered.AddDate(0, 0, -1), "status": "pending",
		"created_at": answered, "updated_at": answered}
	if score != nil {
		v["status"], v["score"], v["answered_at"] = "answered", *score, answered
	}
	s.row("questionnaire_assignments", v)
}

func (s *seed) plan(patient, pathway string, created time.Time, closed *time.Time) string {
	v := map[string]any{"patient_id": patient, "pathway_key": pathway, "pathway_version": 1, "status": "active",
		"stage_key": "x", "stage_entered_at": created, "risk_level": "low", "risk_computed": "low", "enrolled_by": "cm",
		"created_at": created, "updated_at": created}
	if closed != nil {
		v["status"], v["closed_at"] = "closed", *closed
	}
	return s.row("care_plans", v)
}

func (s *seed) stage(plan, patient, stage string, when time.Time) {
	s.row("care_plan_history", map[string]any{"plan_id": plan, "patient_id": patient, "kind": "stage", "to_value": stage,
		"actor_kind": "system", "at": when})
}

func (s *seed) event(plan, anchor, day string) { s.anchor(plan, anchor, day, false) }

// plannedAdmission is an admission recorded as planned (计划内入院).
func (s *seed) plannedAdmission(plan, day string) { s.anchor(plan, "admission", day, true) }

func (s *seed) anchor(plan, anchor, day string, planned bool) {
	s.row("care_plan_anchors", map[string]any{"plan_id": plan, "anchor": anchor, "on_date": day, "planned": planned,
		"recorded_at": at(1, 1, 0, 0), "recorded_by": "cm"})
}

func (s *seed) reading(patient, typ string, when time.Time) {
	s.row("observations", map[string]any{"patient_id": patient, "type": typ, "measured_at": when,
		"local_day": when.In(shanghai).Format(time.DateOnly), "value": 1, "code": "x", "source": "patient", "reported_by": "u",
		"received_at": when, "created_at": when})
}

func ptr[T any](v T) *T { return &v }

// The fixed data set. Hospital H1: department D1 (CMs cmA, cmB; lead
// leadD1), department D2 (cmC). Patients P1, P2 (cmA), P3 (cmB, covered by
// cmA), P4 (cmC), P5 (cmC, case closed), P6 (D2, no CM); PX in hospital H2
// has data of every kind and must never count. The period is March 2026 in
// Shanghai; the report is made on 10 April, so no window is cut short.
func fixture(t *testing.T) *gorm.DB {
	db := dbtest.New(t)
	s := &seed{t: t, db: db}
	s.patient("P1", "H1", "D1", "cmA", "", "active")
	s.patient("P2", "H1", "D1", "cmA", "", "active")
	s.patient("P3", "H1", "D1", "cmB", "cmA", "active")
	s.patient("P4", "H1", "D2", "cmC", "", "active")
	s.patient("P5", "H1", "D2", "cmC", "", "closed")
	s.patient("P6", "H1", "D2", "", "", "active")
	s.patient("PX", "H2", "D1", "cmA", "", "active")

	// Follow-ups: windows end at local midnight.
	s.followup("P1", closes(5), ptr(at(3, 4, 10, 0)))                                                                                 // in time
	s.followup("P1", closes(10), ptr(at(3, 9, 23, 0)))                                                                                // in time, last hour
	s.followup("P1", closes(12), ptr(at(3, 12, 0, 0)))                                                                                // at the close: late
	s.followup("P1", at(4, 1, 0, 0), nil)                                                                                             // closes 1 April = period end: outside
	s.followup("P1", at(2, 28, 0, 0), ptr(at(2, 26, 8, 0)))                                                                           // closed 28 Feb: outside
	s.followup("P2", closes(20), nil)                                                                                                 // never made
	s.row("followups", map[string]any{"patient_id": "P2", "item_key": s.id(), "source": "pathway", "title": "随访", "channel": "phone", // its plan was closed (结案): never due
		"window_start": closes(19), "window_end": closes(22), "status": "cancelled", "created_at": at(1, 1, 0, 0), "updated_at": at(1, 1, 0, 0)})
	s.followup("P2", closes(25), ptr(at(3, 26, 9, 0)))                                                                                // late
	s.followup("P2", closes(31), ptr(at(3, 30, 15, 0)))                                                                               // in time
	s.followup("P3", closes(15), ptr(at(3, 14, 9, 0)))                                                                                // in time
	s.followup("P3", closes(16), ptr(at(3, 15, 9, 0)))                                                                                // in time
	s.followup("P4", closes(3), ptr(at(3, 2, 9, 0)))                                                                                  // in time
	s.followup("P4", closes(1), nil)                                                                                                  // closes exactly at the period start (28 Feb 16:00 UTC): inside
	s.row("followups", map[string]any{"patient_id": "P4", "item_key": s.id(), "source": "pathway", "title": "随访", "channel": "phone", // missed, then its plan was closed: still missed
		"window_start": closes(6), "window_end": closes(8), "status": "cancelled", "created_at": at(1, 1, 0, 0), "updated_at": at(3, 20, 0, 0)})
	s.followup("PX", closes(5), nil)

	// Alerts: minutes to acknowledge (or resolve).
	s.alert("P1", at(3, 3, 10, 0), 10, 0)
	s.alert("P1", at(3, 4, 10, 0), 30, 90)
	s.alert("P2", at(3, 6, 10, 0), 0, 50) // resolved without acknowledging: 50
	s.alert("P2", at(3, 7, 10, 0), 0, 0)  // still open: pending
	s.alert("P3", at(3, 8, 10, 0), 120, 0)
	s.alert("P4", at(3, 9, 10, 0), 5, 0)
	s.alert("P4", at(2, 28, 23, 59), 1, 0) // raised in February (15:59 UTC on 28 Feb)
	s.alert("PX", at(3, 9, 10, 0), 1000, 0)

	// Messages.
	t1 := s.thread("P1")
	s.message(t1, 1, false, "text", false, at(3, 2, 9, 0))
	s.message(t1, 2, false, "image", false, at(3, 2, 9, 5)) // same wait
	s.message(t1, 3, true, "text", false, at(3, 2, 9, 20))  // 20 min
	s.message(t1, 4, false, "text", false, at(3, 3, 8, 0))
	s.message(t1, 5, true, "note", true, at(3, 3, 8, 10)) // internal note: no answer
	s.message(t1, 6, true, "text", false, at(3, 3, 9, 0)) // 60 min
	s.message(t1, 7, false, "text", false, at(3, 31, 23, 50))
	s.message(t1, 8, true, "text", false, at(4, 1, 0, 30)) // 40 min, answered after the period
	t2 := s.thread("P2")
	s.message(t2, 1, false, "text", false, at(2, 28, 23, 0)) // wait began in February
	s.message(t2, 2, false, "text", false, at(3, 1, 8, 0))
	s.message(t2, 3, true, "text", false, at(3, 1, 9, 0))
	s.message(t2, 4, false, "text", false, at(3, 10, 10, 0)) // unanswered: pending
	t3 := s.thread("P3")
	s.message(t3, 1, false, "text", false, at(3, 5, 10, 0))
	s.message(t3, 2, true, "text", false, at(3, 5, 12, 0)) // 120 min
	tx := s.thread("PX")
	s.message(tx, 1, false, "text", false, at(3, 5, 10, 0))
	s.message(tx, 2, true, "text", false, at(3, 9, 10, 0))

	// NPS answers.
	s.answer("P1", "nps", ptr(10.0), at(3, 5, 9, 0))
	s.answer("P1", "nps", ptr(9.0), at(3, 20, 9, 0))
	s.answer("P1", "pain_nrs", ptr(9.0), at(3, 20, 9, 0)) // another questionnaire
	s.answer("P2", "nps", ptr(6.0), at(3, 8, 9, 0))
	s.answer("P2", "nps", ptr(8.0), at(3, 9, 9, 0))
	s.answer("P2", "nps", ptr(3.0), at(2, 27, 9, 0)) // February
	s.answer("P2", "nps", nil, at(3, 9, 9, 0))       // not answered
	s.answer("P3", "nps", ptr(7.0), at(3, 10, 9, 0))
	s.answer("P4", "nps", ptr(0.0), at(3, 11, 9, 0))
	s.answer("PX", "nps", ptr(0.0), at(3, 11, 9, 0))

	// Care plans: stages with their rhythms, readings, admissions and discharges.
	p1a := s.plan("P1", "knee", at(1, 10, 9, 0), ptr(at(2, 10, 9, 0)))
	s.event(p1a, "admission", "2026-01-20")
	s.event(p1a, "discharge", "2026-02-01")
	p1b := s.plan("P1", "knee", at(2, 20, 9, 0), nil)
	s.plannedAdmission(p1b, "2026-02-20") // 19 days after: readmission, planned
	s.stage(p1b, "P1", "pre", at(2, 20, 9, 0))
	s.stage(p1b, "P1", "post", at(3, 25, 10, 0))
	s.reading("P1", "pain", at(3, 24, 9, 0)) // "pre" asks for nothing
	s.reading("P1", "pain", at(3, 25, 9, 0)) // the day the stage began counts
	s.reading("P1", "pain", at(3, 26, 8, 0))
	s.reading("P1", "pain", at(3, 26, 20, 0)) // second in the slot
	s.reading("P1", "pain", at(3, 28, 8, 0))
	s.reading("P1", "pain", at(3, 31, 23, 30)) // 15:30 UTC: still 31 March in Shanghai
	s.reading("P1", "pain", at(4, 1, 0, 30))   // April
	s.reading("P1", "blood_pressure", at(3, 30, 8, 0))
	p2 := s.plan("P2", "knee", at(1, 5, 9, 0), ptr(at(3, 10, 0, 0)))
	s.event(p2, "discharge", "2026-02-10")
	s.stage(p2, "P2", "late", at(2, 1, 9, 0))
	s.reading("P2", "pain", at(3, 2, 9, 0))
	s.reading("P2", "pain", at(3, 3, 9, 0))
	s.reading("P2", "pain", at(3, 9, 9, 0))
	p2b := s.plan("P2", "knee", at(3, 18, 9, 0), nil)
	s.event(p2b, "admission", "2026-03-20") // 38 days after: not a readmission
	p3a := s.plan("P3", "knee", at(1, 1, 9, 0), ptr(at(2, 1, 0, 0)))
	s.event(p3a, "discharge", "2026-01-28") // window closed 28 Feb: outside
	p3b := s.plan("P3", "knee", at(2, 4, 9, 0), nil)
	s.event(p3b, "admission", "2026-02-05")
	s.event(p3b, "discharge", "2026-02-28") // window closes 31 March
	s.stage(p3b, "P3", "late", at(3, 20, 12, 0))
	s.reading("P3", "pain", at(3, 21, 9, 0))
	p3c := s.plan("P3", "other", at(3, 29, 9, 0), nil)
	s.event(p3c, "admission", "2026-03-30")  // exactly 30 days after: readmission
	s.stage(p3c, "P3", "x", at(3, 29, 9, 0)) // unknown pathway: not expected
	p4 := s.plan("P4", "knee", at(1, 1, 9, 0), nil)
	s.event(p4, "discharge", "2026-02-15")
	p4b := s.plan("P4", "knee", at(3, 18, 9, 0), nil)
	s.event(p4b, "admission", "2026-03-18") // 31 days after: not a readmission
	pxa := s.plan("PX", "knee", at(1, 1, 9, 0), nil)
	s.event(pxa, "discharge", "2026-02-01")
	s.stage(pxa, "PX", "post", at(3, 1, 9, 0))
	return db
}

func pct(v float64) *float64 { return &v }

func eqPtr(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestReportOnFixedData checks every KPI against answers computed by hand
// for a CM's caseload, a lead's department and an admin's hospital.
func TestReportOnFixedData(t *testing.T) {
	db := fixture(t)
	svc := kpi.NewService(kpi.NewStore(db), rhythms{
		"knee/post": {{Type: "pain", EveryDays: 1}, {Type: "blood_pressure", EveryDays: 7}},
		"knee/late": {{Type: "pain", EveryDays: 3}},
	}, shanghai, func() time.Time { return at(4, 10, 12, 0) })
	period, err := svc.ParsePeriod("2026-03-01", "2026-04-01")
	if err != nil {
		t.Fatal(err)
	}
	cmA := auth.Actor{Kind: auth.KindStaff, ID: "cmA", Role: auth.RoleCM, HospitalID: "H1", DepartmentID: "D1"}
	lead := auth.Actor{Kind: auth.KindStaff, ID: "leadD1", Role: auth.RoleLead, HospitalID: "H1", DepartmentID: "D1"}
	admin := auth.Actor{Kind: auth.KindStaff, ID: "adm", Role: auth.RoleAdmin, HospitalID: "H1"}

	type want struct {
		scope                   string
		timely, due             int
		timeliness              *float64
		received, expected      int
		completeness            *float64
		ackCount, ackPending    int
		ackMedian, ackP90       *float64
		respCount, respPending  int
		respMedian, respP90     *float64
		npsN, promoters, detrac int
		nps                     *float64
		active, cms             int
		perCM                   *float64
		readmitted, discharges  int
		readmission             *float64
		unplanned               int
		unplannedRate           *float64
	}
	for _, tc := range []struct {
		name  string
		actor auth.Actor
		want  want
	}{
		// cmA = P1, P2 (P3 only covered, PX another hospital).
		// Timeliness: windows 5, 10, 12 (P1), 20, 25, 31 (P2); in time 5, 10, 31 → 3/6.
		// Completeness: P1 "post" 25–31 March = 7 days: pain 7 slots, got 25, 26, 28, 31 → 4;
		//   blood pressure 1 slot of 7 days, got → 1. P2 "late" 1–9 March (closed 10 March 00:00):
		//   pain every 3 days → slots 1–3, 4–6, 7–9; got 2 and 3 (one slot), 9 → 2. 7/11 = 63.6.
		// Alerts: 10, 30 (acknowledged before resolved), 50 (resolved); one pending.
		//   median 30; p90 = rank ⌈0.9×3⌉ = 3rd = 50.
		// First response: P1 20, 60 (the note is no answer), 40 (answered in April); P2's wait
		//   began in February (not counted), its 10 March message is pending. [20 40 60]: median 40, p90 60.
		// NPS: 10, 9, 6, 8 → (2 − 1)/4 = 25.
		// Caseload: P1, P2 for one CM → 2.
		// Readmission: P1 discharged 1 Feb (window closes 3 March), admitted 20 Feb → yes;
		//   P2 discharged 10 Feb, admitted 20 March (38 days) → no. 1/2.
		//   Unplanned: P1's readmission was planned → 0/2.
		{"cm", cmA, want{"caseload", 3, 6, pct(50), 7, 11, pct(63.6), 3, 1, pct(30), pct(50), 3, 1, pct(40), pct(60),
			4, 2, 1, pct(25), 2, 1, pct(2), 1, 2, pct(50), 0, pct(0)}},
		// lead D1 = P1, P2, P3.
		// Timeliness: + P3's 15 and 16, both in time → 5/8 = 62.5.
		// Completeness: + P3 "late" from 20 March (12:00) to 31 March = 12 days → 4 slots, got
		//   21 March → 1; P3's "other" pathway is unknown → 8/15 = 53.3.
		// Alerts: + 120 → [10 30 50 120]: median 40, p90 = 4th = 120.
		// First response: + 120 → [20 40 60 120]: median 50, p90 = 4th = 120.
		// NPS: + 7 (passive) → (2 − 1)/5 = 20.
		// Caseload: 3 patients, 2 CMs → 1.5.
		// Readmission: + P3 discharged 28 Feb, admitted 30 March (day 30) → 2/3; P3's 28 Jan
		//   discharge closed its window in February. Unplanned: P3's → 1/3.
		{"lead", lead, want{"department", 5, 8, pct(62.5), 8, 15, pct(53.3), 4, 1, pct(40), pct(120), 4, 1, pct(50), pct(120),
			5, 2, 1, pct(20), 3, 2, pct(1.5), 2, 3, pct(66.7), 1, pct(33.3)}},
		// admin H1 = P1–P6 (not PX).
		// Timeliness: + P4's 3 (in time), 1 (at the period start, missed) and 8 (missed, cancelled
		//   on 20 March when its plan was closed: it had been due) → 6/11.
		// Alerts: + 5 (the February one is out) → [5 10 30 50 120]: median 30, p90 = 5th = 120.
		// NPS: + 0 → (2 − 2)/6 = 0. Caseload: P1–P4 (P5 closed, P6 without CM), 3 CMs → 1.3.
		// Readmission: + P4 discharged 15 Feb, admitted 18 March (31 days) → 2/4; unplanned 1/4.
		{"admin", admin, want{"organisation", 6, 11, pct(54.5), 8, 15, pct(53.3), 5, 1, pct(30), pct(120), 4, 1, pct(50), pct(120),
			6, 2, 2, pct(0), 4, 3, pct(1.3), 2, 4, pct(50), 1, pct(25)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := svc.Report(t.Context(), tc.actor, period)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if r.Scope != w.scope || r.From != "2026-03-01" || r.To != "2026-04-01" {
				t.Errorf("scope %q %s–%s", r.Scope, r.From, r.To)
			}
			rate := func(name string, got kpi.Rate, num, den int, p *float64) {
				if got.Numerator != num || got.Denominator != den || !eqPtr(got.Percent, p) {
					t.Errorf("%s = %d/%d %v; want %d/%d %v", name, got.Numerator, got.Denominator, show(got.Percent), num, den, show(p))
				}
			}
			durs := func(name string, got kpi.Durations, n, pending int, med, p90 *float64) {
				if got.Count != n || got.Pending != pending || !eqPtr(got.MedianMinutes, med) || !eqPtr(got.P90Minutes, p90) {
					t.Errorf("%s = n %d pending %d median %v p90 %v; want %d %d %v %v", name, got.Count, got.Pending,
						show(got.MedianMinutes), show(got.P90Minutes), n, pending, show(med), show(p90))
				}
			}
			rate("timeliness", r.Timeliness, w.timely, w.due, w.timeliness)
			rate("completeness", r.Completeness, w.received, w.expected, w.completeness)
			durs("alert acknowledge", r.AlertAcknowledge, w.ackCount, w.ackPending, w.ackMedian, w.ackP90)
			durs("first response", r.FirstResponse, w.respCount, w.respPending, w.respMedian, w.respP90)
			if n := r.NPS; n.Responses != w.npsN || n.Promoters != w.promoters || n.Detractors != w.detrac || !eqPtr(n.Score, w.nps) {
				t.Errorf("nps = %+v %v; want %d %d %d %v", n, show(n.Score), w.npsN, w.promoters, w.detrac, show(w.nps))
			}
			if c := r.ActivePerCM; c.ActivePatients != w.active || c.CaseManagers != w.cms || !eqPtr(c.PerCM, w.perCM) {
				t.Errorf("caseload = %d/%d %v; want %d/%d %v", c.ActivePatients, c.CaseManagers, show(c.PerCM), w.active, w.cms, show(w.perCM))
			}
			rate("readmission", r.Readmission30Days, w.readmitted, w.discharges, w.readmission)
			rate("unplanned readmission", r.UnplannedReadmission30Days, w.unplanned, w.discharges, w.unplannedRate)
		})
	}

	t.Run("no scope", func(t *testing.T) {
		for _, a := range []auth.Actor{
			{Kind: auth.KindUser, ID: "u1"},
			{Kind: auth.KindStaff, ID: "l2", Role: auth.RoleLead, HospitalID: "H1"}, // a lead without a department
		} {
			if _, err := svc.Report(t.Context(), a, period); !apperr.Is(err, apperr.KindForbidden) {
				t.Errorf("%+v: %v, want forbidden", a, err)
			}
		}
	})

	t.Run("empty period", func(t *testing.T) {
		p, _ := svc.ParsePeriod("2025-06-01", "2025-07-01")
		r, err := svc.Report(t.Context(), admin, p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timeliness.Percent != nil || r.Completeness.Percent != nil || r.AlertAcknowledge.MedianMinutes != nil ||
			r.FirstResponse.MedianMinutes != nil || r.NPS.Score != nil || r.Readmission30Days.Percent != nil ||
			r.UnplannedReadmission30Days.Percent != nil {
			t.Errorf("figures with nothing to measure: %+v", r)
		}
	})
}
