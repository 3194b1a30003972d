// Package demo loads the demonstration hospital used by the embedded default,
// the README and tests: a hospital with two departments, staff cm1, cm2,
// lead1 and admin, patients patient1… whose WeChat codes test-patientN log
// them in, two family members, and one patient not yet on WeChat, the
// consents all of that rests on, and one pending family invitation. Patients
// 1–6 are enrolled in the five shipped pathways at different points of their
// journey, with tasks done and education read as a living caseload would have;
// patient1's message thread is answered and patient3's waits for cm2; home
// readings of the last weeks (see vitals.go) left two open alerts.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/alert"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/followup"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/org"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/questionnaire"
)

// InvitationCode is the code of patient2's pending invitation (for 老伴, her
// husband): open GET /api/v1/family/invitations/DEMOINVITEPATIENTTWOAAAAAA
// as any new WeChat user. It is fixed so the demo can be tried by hand.
const InvitationCode = "DEMOINVITEPATIENTTWOAAAAAA"

// Deps are the stores and services the seed writes through.
type Deps struct {
	Org       *org.Store
	Auth      *auth.Service
	Accounts  *auth.Store
	Patients  *patient.Service
	Family    *family.Store
	Careplan  *careplan.Service
	Education *education.Service
	Messages  *messaging.Store
	Consents  *consent.Store
	Versions  consent.Config
	Location  *time.Location // the hospital's zone
	// Readings are reported through the real service, so the demo's alerts
	// were raised by the rules themselves.
	Observations   *observation.Service
	Alerts         *alert.Service
	Now            func() time.Time
	Appointments   *appointment.Service
	Followups      *followup.Service
	Questionnaires *questionnaire.Service
}

// Summary tells what was created, for the start-up banner and tests.
type Summary struct {
	HospitalID  string
	Departments map[string]string // code → id
	Staff       map[string]string // username → id
	Patients    map[string]string // patientN → patient id
	Users       map[string]string // openid → user id
	Invitation  string            // id of patient2's pending invitation (code InvitationCode)
}

type demoPatient struct {
	key, name, phone, gender, dept, cm, risk, mrn, bed string
	birth                                              string
	onWeChat                                           bool
	healthConsent                                      bool
}

var patients = []demoPatient{
	{"patient1", "张建国", "13800000001", "M", "ORTHO", "cm1", patient.RiskMedium, "ZY2026001", "12-1", "1956-03-14", true, true},
	{"patient2", "李秀英", "13800000002", "F", "ORTHO", "cm1", patient.RiskLow, "ZY2026002", "12-3", "1961-08-02", true, true},
	{"patient3", "王志强", "13800000003", "M", "CARDIO", "cm2", patient.RiskHigh, "ZY2026003", "8-5", "1949-11-20", true, true},
	{"patient4", "刘桂兰", "13800000004", "F", "CARDIO", "cm2", patient.RiskMedium, "ZY2026004", "8-7", "1958-01-09", true, true},
	{"patient5", "陈明", "13800000005", "M", "ORTHO", "cm1", patient.RiskMedium, "ZY2026005", "", "1972-05-30", true, false},
	{"patient6", "赵丽华", "13800000006", "F", "CARDIO", "cm2", patient.RiskLow, "ZY2026006", "", "1966-12-12", true, true},
	// patient5 has not yet given the separate consent to process health data,
	// so cannot invite family until he does (POST /patients/:id/consents).
	// Registered by a CM before first opening the mini-program: binding the
	// phone 13800000007 (getPhoneNumber code phone-13800000007) links the record.
	{"patient7", "孙伟", "13800000007", "M", "ORTHO", "cm1", patient.RiskLow, "ZY2026007", "", "1970-07-07", false, false},
}

// Seed creates the demo data. It expects an empty database.
func Seed(ctx context.Context, d Deps, password string) (Summary, error) {
	sum := Summary{Departments: map[string]string{}, Staff: map[string]string{}, Patients: map[string]string{}, Users: map[string]string{}}
	h, err := d.Org.EnsureHospital(ctx, "DEMO", "CarePath 演示医院")
	if err != nil {
		return Summary{}, err
	}
	sum.HospitalID = h.ID
	for _, dep := range []struct{ code, name string }{{"ORTHO", "骨科"}, {"CARDIO", "心血管内科"}} {
		dd, err := d.Org.EnsureDepartment(ctx, h.ID, dep.code, dep.name)
		if err != nil {
			return Summary{}, err
		}
		sum.Departments[dep.code] = dd.ID
	}
	for _, st := range []struct {
		username, name, dept string
		role                 auth.Role
	}{
		{"cm1", "周敏（骨科个案管理师）", "ORTHO", auth.RoleCM},
		{"cm2", "吴婷（心内个案管理师）", "CARDIO", auth.RoleCM},
		{"lead1", "郑红（骨科护士长）", "ORTHO", auth.RoleLead},
		{"admin", "系统管理员", "", auth.RoleAdmin},
	} {
		s := auth.Staff{HospitalID: h.ID, Username: st.username, DisplayName: st.name, Role: st.role}
		if st.dept != "" {
			id := sum.Departments[st.dept]
			s.DepartmentID = &id
		}
		if err := d.Auth.CreateStaff(ctx, &s, password); err != nil {
			return Summary{}, fmt.Errorf("demo staff %s: %w", st.username, err)
		}
		sum.Staff[st.username] = s.ID
	}
	now := d.Now().UTC()
	for _, dp := range patients {
		in := patient.NewPatient{HospitalID: h.ID, DepartmentID: sum.Departments[dp.dept], MRN: dp.mrn, Name: dp.name,
			Phone: dp.phone, Gender: dp.gender, Bed: dp.bed, AssignedCMID: sum.Staff[dp.cm], RiskLevel: dp.risk}
		if b, err := time.Parse(time.DateOnly, dp.birth); err == nil {
			in.BirthDate = &b
		}
		if dp.onWeChat {
			u, err := weChatUser(ctx, d, dp.key, now)
			if err != nil {
				return Summary{}, err
			}
			in.UserID = u
			sum.Users["fake-openid-"+dp.key] = u
		}
		p, err := d.Patients.Register(ctx, in)
		if err != nil {
			return Summary{}, fmt.Errorf("demo patient %s: %w", dp.key, err)
		}
		sum.Patients[dp.key] = p.ID
		if dp.healthConsent {
			c := consent.Consent{ID: database.NewID(), Kind: consent.KindHealthData, PatientID: &p.ID, Version: d.Versions.HealthDataVersion,
				GivenBy: consent.GivenByPatient, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: in.UserID, GrantedAt: now}
			if err := d.Consents.Create(ctx, &c); err != nil {
				return Summary{}, err
			}
		}
	}
	// family1 is patient1's daughter, allowed to see the plan, vitals and
	// appointments, message the CM and report on her father's behalf.
	if err := relative(ctx, d, &sum, "family1", "patient1", "女儿", access.AllScopes, now); err != nil {
		return Summary{}, err
	}
	// family2 is patient3's son, who may only see appointments.
	if err := relative(ctx, d, &sum, "family2", "patient3", "儿子", []access.Scope{access.ScopeViewAppointments}, now); err != nil {
		return Summary{}, err
	}
	// patient2 has invited her husband; he has not accepted yet.
	inv := family.Invitation{ID: database.NewID(), PatientID: sum.Patients["patient2"], Status: family.InvitationPending,
		CodeHash: family.HashCode(InvitationCode), Relationship: "老伴",
		Scopes:       access.FormatScopes([]access.Scope{access.ScopeViewPlan, access.ScopeViewAppointments, access.ScopeReceivePush}),
		IssuedByKind: string(auth.KindUser), IssuedByID: sum.Users["fake-openid-patient2"],
		ConsentGivenBy: consent.GivenByPatient, ConsentMethod: consent.MethodInApp, ConsentGivenAt: now,
		ExpiresAt: now.Add(30 * 24 * time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := d.Family.CreateInvitation(ctx, &inv); err != nil {
		return Summary{}, err
	}
	if err := enrolAll(ctx, d, sum); err != nil {
		return Summary{}, err
	}
	if err := seedMessages(ctx, d, sum, now); err != nil {
		return Summary{}, err
	}
	if err := seedVitals(ctx, d, sum); err != nil {
		return Summary{}, fmt.Errorf("demo readings: %w", err)
	}
	if err := seedAppointments(ctx, d, sum); err != nil {
		return Summary{}, err
	}
	if err := seedFollowups(ctx, d, sum); err != nil {
		return Summary{}, err
	}
	sum.Invitation = inv.ID
	return sum, nil
}

// journey is where a demo patient stands: events in days from today.
type journey struct {
	patient, cm, pathway string
	events               map[string]int
	comorbidities        []string
	override, reason     string // a CM's risk override
	read                 int    // how many of the assigned articles the patient has read
}

// The risk each plan computes matches the level in the patients table above
// (patient3's high is the CM's override).
var journeys = []journey{
	{"patient1", "cm1", "knee_arthroplasty", map[string]int{careplan.AnchorEnrolment: -20, careplan.AnchorAdmission: -14,
		careplan.AnchorSurgery: -13, careplan.AnchorDischarge: -10}, []string{"diabetes", "hypertension"}, "", "", 2},
	{"patient2", "cm1", "knee_arthroplasty", map[string]int{careplan.AnchorEnrolment: -3, careplan.AnchorAdmission: 7},
		[]string{"hypertension"}, "", "", 0},
	{"patient3", "cm2", "heart_failure", map[string]int{careplan.AnchorEnrolment: -50, careplan.AnchorAdmission: -48,
		careplan.AnchorDischarge: -40}, []string{"heart_failure", "ckd", "diabetes", "atrial_fibrillation"},
		careplan.RiskHigh, "半年内两次因急性心衰加重再入院，NYHA III级", 1},
	{"patient4", "cm2", "hypertension", map[string]int{careplan.AnchorEnrolment: -200, careplan.AnchorAdmission: -192,
		careplan.AnchorDischarge: -185}, []string{"hypertension", "diabetes"}, "", "", 3},
	{"patient5", "cm1", "lung_cancer_chemo", map[string]int{careplan.AnchorEnrolment: -10, careplan.AnchorAdmission: -1},
		[]string{"cancer"}, "", "", 1},
	{"patient6", "cm2", "type2_diabetes", map[string]int{careplan.AnchorEnrolment: -9, careplan.AnchorAdmission: -8,
		careplan.AnchorDischarge: -3}, []string{"diabetes", "obesity"}, "", "", 0},
}

// enrolAll enrols patients 1–6, completes the tasks of the stages they have
// passed, assigns the education of every stage so far and marks some read.
func enrolAll(ctx context.Context, d Deps, sum Summary) error {
	today := careplan.DayOf(d.Now(), d.Location)
	lib := d.Careplan.Pathways()
	for _, j := range journeys {
		cm := auth.Actor{Kind: auth.KindStaff, ID: sum.Staff[j.cm], Role: auth.RoleCM, HospitalID: sum.HospitalID}
		patientID := sum.Patients[j.patient]
		anchors := map[string]string{}
		for ev, offset := range j.events {
			anchors[ev] = careplan.FormatDay(today.AddDate(0, 0, offset))
		}
		plan, err := d.Careplan.Enrol(ctx, cm, patientID, careplan.Enrolment{Pathway: j.pathway, Anchors: anchors, Comorbidities: j.comorbidities})
		if err != nil {
			return fmt.Errorf("demo plan of %s: %w", j.patient, err)
		}
		if j.override != "" {
			if _, err := d.Careplan.SetRisk(ctx, cm, patientID, plan.ID, j.override, j.reason); err != nil {
				return err
			}
		}
		view, err := d.Careplan.View(ctx, patientID, plan.ID)
		if err != nil {
			return err
		}
		for _, t := range view.Tasks {
			if t.Stage != view.CurrentStage.Key && t.Status == careplan.TaskOverdue {
				if _, err := d.Careplan.CompleteTask(ctx, cm, access.RelationStaff, patientID, plan.ID, t.ID); err != nil {
					return err
				}
			}
		}
		p, _ := lib.Pathway(j.pathway)
		for _, st := range p.Stages {
			pos := education.Position{PatientID: patientID, PlanID: plan.ID, Pathway: p.Key, Stage: st.Key, StageDay: view.CurrentStage.Day}
			for _, r := range st.Education {
				pos.Refs = append(pos.Refs, education.Ref{Article: r.Article, Day: r.Day})
			}
			if st.Key != view.CurrentStage.Key {
				pos.StageDay = 1 << 16 // a stage passed: all its articles were due
			}
			if _, err := d.Education.AssignDue(ctx, pos); err != nil {
				return err
			}
			if st.Key == view.CurrentStage.Key {
				break
			}
		}
		feed, err := d.Education.Feed(ctx, patientID, false)
		if err != nil {
			return err
		}
		for i := 0; i < j.read && i < len(feed.Items); i++ {
			if _, err := d.Education.Finish(ctx, access.RelationSelf, patientID, feed.Items[len(feed.Items)-1-i].ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// demoMessage is one entry of a demo thread, minutes before the seed.
type demoMessage struct {
	ago    int
	sender string // a staff username or an openid key (patientN, family1)
	kind   string
	text   string
}

// seedMessages fills patient1's thread (answered, with the daughter and a
// staff note) and patient3's (waiting for cm2's reply), and two shared
// quick replies.
func seedMessages(ctx context.Context, d Deps, sum Summary, now time.Time) error {
	threads := map[string][]demoMessage{
		"patient1": {
			{180, "patient1", messaging.KindText, "周护士您好，出院第三天，膝盖还有点肿，正常吗？"},
			{170, "family1", messaging.KindText, "我是他女儿，我爸说晚上有点疼，睡不太好。"},
			{150, "cm1", messaging.KindText, "您好张大爷，术后一周内轻度肿胀是正常的。每天冰敷 3 次、每次 15 分钟，平躺时抬高患肢；睡前半小时可按医嘱服止痛药。如果发热或伤口渗液请马上告诉我。"},
			{135, "cm1", messaging.KindNote, "家属配合度高；下次电话随访关注肿胀消退和屈膝角度。"},
		},
		"patient3": {
			{1440, "cm2", messaging.KindText, "王大爷您好，我是您的个案管理师吴婷，出院后有任何不适都可以在这里找我。"},
			{42, "patient3", messaging.KindText, "吴护士，这两天早上起来脚踝有点肿，体重也涨了一点，要紧吗？"},
		},
	}
	for _, key := range []string{"patient1", "patient3"} {
		pid := sum.Patients[key]
		t, err := d.Messages.EnsureThread(ctx, pid, now)
		if err != nil {
			return err
		}
		for i, dm := range threads[key] {
			m := messaging.Message{Kind: dm.kind, Body: dm.text, Internal: dm.kind == messaging.KindNote,
				CreatedAt: now.Add(-time.Duration(dm.ago) * time.Minute).Truncate(time.Millisecond)}
			clientID := fmt.Sprintf("demo-%s-%d", key, i+1)
			m.ClientMsgID = &clientID
			if id, ok := sum.Staff[dm.sender]; ok {
				m.SenderKind, m.SenderID, m.SenderRole = string(auth.KindStaff), id, string(auth.RoleCM)
			} else {
				m.SenderKind, m.SenderID, m.SenderRole = string(auth.KindUser), sum.Users["fake-openid-"+dm.sender], messaging.RoleFamily
				if dm.sender == key {
					m.SenderRole = messaging.RolePatient
				}
			}
			if _, err := d.Messages.Append(ctx, t.ID, &m, nil); err != nil {
				return fmt.Errorf("demo message: %w", err)
			}
		}
	}
	for _, q := range []messaging.QuickReply{
		{Title: "术后肿胀", Body: "术后轻度肿胀是正常的：每天冰敷 3 次、每次 15 分钟，平躺时抬高患肢；如有发热、伤口渗液或疼痛加重请及时联系我。"},
		{Title: "血压复测", Body: "请安静休息 5 分钟后再测一次血压，并把结果发给我；如果超过 180/110 或有头痛、胸闷，请立即就医。"},
	} {
		q.HospitalID, q.CreatedAt, q.UpdatedAt = sum.HospitalID, now, now
		if err := d.Messages.CreateQuickReply(ctx, &q); err != nil {
			return err
		}
	}
	return nil
}

// weChatUser creates a demo WeChat user who has accepted the privacy policy.
func weChatUser(ctx context.Context, d Deps, name string, now time.Time) (string, error) {
	u, _, err := d.Accounts.UpsertWeChatUser(ctx, "fake-openid-"+name, "fake-unionid-"+name, now)
	if err != nil {
		return "", err
	}
	c := consent.Consent{ID: database.NewID(), Kind: consent.KindPrivacyPolicy, UserID: &u.ID, Version: d.Versions.PrivacyPolicyVersion,
		GivenBy: consent.GivenByUser, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: u.ID, GrantedAt: now}
	return u.ID, d.Consents.Create(ctx, &c)
}

// relative links the demo WeChat user name to a demo patient, with the
// patient's sharing consent.
func relative(ctx context.Context, d Deps, sum *Summary, name, patientKey, relationship string, scopes []access.Scope, now time.Time) error {
	userID, err := weChatUser(ctx, d, name, now)
	if err != nil {
		return err
	}
	sum.Users["fake-openid-"+name] = userID
	patientID := sum.Patients[patientKey]
	l := family.NewLink(database.NewID(), patientID, userID, relationship, scopes, now)
	if err := d.Family.CreateLink(ctx, &l); err != nil {
		return fmt.Errorf("demo relative %s: %w", name, err)
	}
	c := consent.Consent{ID: database.NewID(), Kind: consent.KindFamilySharing, PatientID: &patientID, FamilyLinkID: &l.ID,
		Relationship: relationship, Scopes: l.Scopes, Version: d.Versions.HealthDataVersion,
		GivenBy: consent.GivenByPatient, Method: consent.MethodInApp, RecordedByKind: string(auth.KindUser), RecordedByID: sum.Users["fake-openid-"+patientKey], GrantedAt: now}
	return d.Consents.Create(ctx, &c)
}

// seedAppointments books upcoming appointments for several patients;
// patient3 has asked to move his MDT consultation (waiting in cm2's queue).
func seedAppointments(ctx context.Context, d Deps, sum Summary) error {
	today := time.Now().In(d.Location)
	if d.Now != nil {
		today = d.Now().In(d.Location)
	}
	at := func(days, hour, minute int) time.Time {
		return time.Date(today.Year(), today.Month(), today.Day()+days, hour, minute, 0, 0, d.Location)
	}
	for _, b := range []struct {
		patient, cm string
		in          appointment.Input
		confirm     bool
	}{
		{"patient1", "cm1", appointment.Input{Kind: appointment.KindRevisit, StartsAt: at(4, 9, 0), EndsAt: at(4, 9, 30),
			Department: "骨科门诊", Clinician: "陈主任", Location: "门诊楼3楼骨科12诊室",
			Directions: "从医院东门进入，门诊楼乘电梯至3楼右转", Preparation: "携带出院小结和膝关节X线片；穿宽松裤子便于检查"}, true},
		{"patient2", "cm1", appointment.Input{Kind: appointment.KindPreAdmission, Title: "全膝关节置换术入院预约", StartsAt: at(7, 8, 0), EndsAt: at(7, 9, 0),
			Department: "骨科", Location: "住院部1楼入院服务中心", Directions: "住院部正门进入左手边",
			Preparation: "入院前一晚22点后禁食禁水；携带身份证、医保卡、术前检查报告；如服用阿司匹林请遵医嘱停药"}, false},
		{"patient3", "cm2", appointment.Input{Kind: appointment.KindMDT, Title: "心衰多学科会诊", StartsAt: at(3, 14, 0), EndsAt: at(3, 15, 0),
			Department: "心血管内科", Clinician: "心内科、肾内科、营养科", Location: "内科楼5楼多学科会诊室",
			Preparation: "携带近期化验单和每日体重记录"}, false},
		{"patient4", "cm2", appointment.Input{Kind: appointment.KindExamination, Title: "24小时动态血压监测", StartsAt: at(10, 8, 30), EndsAt: at(10, 9, 0),
			Department: "心血管内科", Location: "内科楼2楼心功能室", Preparation: "当天穿宽松上衣，照常服药"}, false},
		{"patient6", "cm2", appointment.Input{Kind: appointment.KindTeleconsultation, Title: "糖尿病视频复诊", StartsAt: at(5, 16, 0), EndsAt: at(5, 16, 20),
			Department: "内分泌科", Clinician: "刘医生"}, false},
	} {
		cm := auth.Actor{Kind: auth.KindStaff, ID: sum.Staff[b.cm], HospitalID: sum.HospitalID, Role: auth.RoleCM}
		a, _, err := d.Appointments.Create(ctx, cm, sum.Patients[b.patient], b.in)
		if err != nil {
			return fmt.Errorf("demo appointment for %s: %w", b.patient, err)
		}
		self := auth.Actor{Kind: auth.KindUser, ID: sum.Users["fake-openid-"+b.patient]}
		switch {
		case b.confirm:
			_, err = d.Appointments.Confirm(ctx, self, a.PatientID, a.ID)
		case b.patient == "patient3":
			_, err = d.Appointments.RequestReschedule(ctx, self, a.PatientID, a.ID, []time.Time{at(5, 9, 0), at(6, 14, 0)}, "那天要去透析，想换个时间")
		}
		if err != nil {
			return fmt.Errorf("demo appointment for %s: %w", b.patient, err)
		}
	}
	return nil
}

// seedFollowups plans the follow-ups every demo plan calls for (some are
// overdue in cm1's and cm2's caseloads), records a few outcomes, and
// leaves questionnaire answers below their alert thresholds.
func seedFollowups(ctx context.Context, d Deps, sum Summary) error {
	if _, err := d.Followups.Sync(ctx); err != nil {
		return fmt.Errorf("demo follow-ups: %w", err)
	}
	reached, notReached := true, false
	for _, r := range []struct {
		patient, cm, key string
		outcome          followup.Outcome
	}{
		{"patient1", "cm1", "call_preadmission", followup.Outcome{Reached: &reached, Adherence: "good",
			Symptoms: "无不适", NextAction: "按计划入院"}},
		{"patient3", "cm2", "call_d3", followup.Outcome{Reached: &reached, Adherence: "partial",
			Symptoms: "轻度气促，下肢无水肿", Problems: "偶尔忘服呋塞米", NextAction: "家属协助用药提醒，3天后复查体重"}},
		{"patient3", "cm2", "call_d7", followup.Outcome{Reached: &notReached, NextAction: "次日再次电话联系"}},
	} {
		list, err := d.Followups.List(ctx, sum.Patients[r.patient], 200)
		if err != nil {
			return err
		}
		for _, f := range list {
			if f.PlanID != nil && f.ItemKey == *f.PlanID+":"+r.key {
				cm := auth.Actor{Kind: auth.KindStaff, ID: sum.Staff[r.cm], HospitalID: sum.HospitalID, Role: auth.RoleCM}
				if _, err := d.Followups.Record(ctx, cm, f.PatientID, f.ID, r.outcome); err != nil {
					return fmt.Errorf("demo follow-up outcome: %w", err)
				}
			}
		}
	}
	for _, q := range []struct {
		patient, cm, key string
		answers          map[string]string // JSON values
	}{
		{"patient1", "cm1", "pain_nrs", map[string]string{"pain_now": "3", "pain_worst_24h": "5", "pain_sleep": `"sometimes"`}},
		{"patient1", "cm1", "knee_function", nil}, // waiting for the patient
		{"patient3", "cm2", "phq2", map[string]string{"interest": `"1"`, "mood": `"1"`}},
		{"patient4", "cm2", "nps", map[string]string{"recommend": "9", "reason": `"随访很及时"`}},
	} {
		cm := auth.Actor{Kind: auth.KindStaff, ID: sum.Staff[q.cm], HospitalID: sum.HospitalID, Role: auth.RoleCM}
		a, err := d.Questionnaires.Assign(ctx, cm, sum.Patients[q.patient], q.key, nil)
		if err != nil {
			return fmt.Errorf("demo questionnaire: %w", err)
		}
		if q.answers == nil {
			continue
		}
		raw := map[string]json.RawMessage{}
		for k, v := range q.answers {
			raw[k] = json.RawMessage(v)
		}
		self := auth.Actor{Kind: auth.KindUser, ID: sum.Users["fake-openid-"+q.patient]}
		if _, err := d.Questionnaires.Answer(ctx, self, a.PatientID, a.ID, raw); err != nil {
			return fmt.Errorf("demo questionnaire answer: %w", err)
		}
	}
	return nil
}
