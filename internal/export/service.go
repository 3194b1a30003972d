// Package export gives a patient a copy of their data (PIPL articles 45 and
// 47: access, copy, portability): a FHIR R4 Bundle (Patient, Observation with
// LOINC codes and UCUM units, CarePlan, Appointment, Communication,
// QuestionnaireResponse) and a readable summary. It only reads; the route is
// the patient's alone (access.DataExport). Staff-only notes and other
// patients' data are never in it.
package export

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/observation"
	"github.com/carepath/carepath/internal/platform/database"
)

// Opener opens sealed personal fields (fieldcrypt).
type Opener interface {
	Open(sealed string) (string, error)
}

// Names looks up display names in the configured catalogues.
type Names interface {
	Pathway(key string) (name string, stages map[string]string)
	Questionnaire(key string) string
}

// Service builds exports.
type Service struct {
	store  *Store
	opener Opener
	names  Names
	now    func() time.Time
}

// NewService returns a Service.
func NewService(store *Store, opener Opener, names Names, now func() time.Time) *Service {
	return &Service{store: store, opener: opener, names: names, now: now}
}

// RetentionNotice says what deactivation or deletion leaves behind.
const RetentionNotice = "本副本包含您在 CarePath 中的个人信息与健康数据。临床记录按医院病历管理规定保存（《医疗机构病历管理规定》：门诊病历不少于15年，住院病历不少于30年），注销账号不会删除临床记录，但会解除微信绑定、停止推送并撤销家属授权。"

// Bundle builds the patient's FHIR Bundle.
func (s *Service) Bundle(ctx context.Context, patientID string) (Bundle, error) {
	d, err := s.store.Load(ctx, patientID)
	if err != nil {
		return Bundle{}, err
	}
	return s.bundle(d)
}

func (s *Service) open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	return s.opener.Open(sealed)
}

func (s *Service) bundle(d Data) (Bundle, error) {
	now := s.now().UTC()
	name, err := s.open(d.Patient.NameEnc)
	if err != nil {
		return Bundle{}, fmt.Errorf("export: open name: %w", err)
	}
	phone, err := s.open(d.Patient.PhoneEnc)
	if err != nil {
		return Bundle{}, fmt.Errorf("export: open phone: %w", err)
	}
	pid := d.Patient.ID
	entries := []Entry{{FullURL: ref(pid), Resource: patientResource(d, name, phone)}}
	add := func(id string, r Resource) { entries = append(entries, Entry{FullURL: ref(id), Resource: r}) }
	if err := observation.OpenNotes(s.opener, d.Observations); err != nil {
		return Bundle{}, fmt.Errorf("export: %w", err)
	}
	for _, r := range d.Observations {
		add(r.ID, observationResource(pid, r))
	}
	tasks := map[string][]careplan.PlanTask{}
	for _, t := range d.Tasks {
		tasks[t.PlanID] = append(tasks[t.PlanID], t)
	}
	for _, p := range d.Plans {
		pathway, stages := s.names.Pathway(p.PathwayKey)
		stage := stages[p.StageKey]
		if stage == "" {
			stage = p.StageKey
		}
		if pathway == "" {
			pathway = p.PathwayKey
		}
		add(p.ID, carePlanResource(pid, p, pathway, stage, tasks[p.ID]))
	}
	for _, a := range d.Appointments {
		add(a.ID, appointmentResource(pid, a))
	}
	userID := ""
	if d.Patient.UserID != nil {
		userID = *d.Patient.UserID
	}
	for _, m := range d.Messages {
		if m.BodySealed {
			if m.Body, err = s.opener.Open(m.Body); err != nil {
				return Bundle{}, fmt.Errorf("export: open message %s: %w", m.ID, err)
			}
		}
		add(m.ID, communicationResource(pid, userID, m))
	}
	for _, q := range d.Questionnaires {
		if q.AnswersSealed {
			if q.Answers, err = s.opener.Open(q.Answers); err != nil {
				return Bundle{}, fmt.Errorf("export: open answers %s: %w", q.ID, err)
			}
		}
		r, err := questionnaireResponseResource(pid, q, s.names.Questionnaire(q.Questionnaire))
		if err != nil {
			return Bundle{}, fmt.Errorf("export: questionnaire %s: %w", q.ID, err)
		}
		add(q.ID, r)
	}
	total := len(entries)
	return Bundle{
		ResourceType: "Bundle", ID: database.NewID(), Meta: Meta{LastUpdated: fhirTime(now)},
		Type: "collection", Timestamp: fhirTime(now), Total: &total, Entry: entries,
	}, nil
}

// Section is one heading of the readable summary.
type Section struct {
	Heading string   `json:"heading"`
	Items   []string `json:"items"`
}

// Summary is the readable version of the export.
type Summary struct {
	GeneratedAt     time.Time `json:"generated_at"`
	Title           string    `json:"title"`
	Sections        []Section `json:"sections"`
	RetentionNotice string    `json:"retention_notice"`
}

// Summary builds the readable summary from the same data as the bundle.
func (s *Service) Summary(ctx context.Context, patientID string, loc *time.Location) (Summary, error) {
	d, err := s.store.Load(ctx, patientID)
	if err != nil {
		return Summary{}, err
	}
	name, err := s.open(d.Patient.NameEnc)
	if err != nil {
		return Summary{}, fmt.Errorf("export: open name: %w", err)
	}
	day := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04") }
	basics := []string{"姓名：" + name, "性别：" + map[string]string{"M": "男", "F": "女"}[d.Patient.Gender]}
	if d.Patient.BirthDate != nil {
		basics = append(basics, "出生日期："+d.Patient.BirthDate.Format(time.DateOnly))
	}
	if d.Patient.MRN != "" {
		basics = append(basics, "病案号："+d.Patient.MRN)
	}
	var plans []string
	for _, p := range d.Plans {
		pathway, stages := s.names.Pathway(p.PathwayKey)
		if pathway == "" {
			pathway = p.PathwayKey
		}
		state := "进行中"
		if p.Status != careplan.StatusActive {
			state = "已结束"
		}
		plans = append(plans, fmt.Sprintf("%s（%s，当前阶段：%s，入组于 %s）", pathway, state, orKey(stages[p.StageKey], p.StageKey), day(p.CreatedAt)))
	}
	counts := map[string]int{}
	last := map[string]time.Time{}
	for _, r := range d.Observations {
		counts[r.Type]++
		if r.MeasuredAt.After(last[r.Type]) {
			last[r.Type] = r.MeasuredAt
		}
	}
	var vitals []string
	for _, t := range sortedKeys(counts) {
		label := t
		if spec, ok := specOf(t); ok {
			label = spec
		}
		vitals = append(vitals, fmt.Sprintf("%s：%d 条，最近一次 %s", label, counts[t], day(last[t])))
	}
	var appts []string
	for _, a := range d.Appointments {
		appts = append(appts, fmt.Sprintf("%s %s（%s）", day(a.StartsAt), a.Title, a.Status))
	}
	var qs []string
	for _, q := range d.Questionnaires {
		line := orKey(s.names.Questionnaire(q.Questionnaire), q.Questionnaire)
		if q.AnsweredAt != nil {
			line += "，填写于 " + day(*q.AnsweredAt)
		}
		if q.Score != nil {
			line += "，得分 " + strconv.FormatFloat(*q.Score, 'f', -1, 64)
		}
		qs = append(qs, line)
	}
	return Summary{
		GeneratedAt: s.now().UTC().Truncate(time.Second),
		Title:       "我的健康数据副本",
		Sections: []Section{
			{Heading: "基本信息", Items: basics},
			{Heading: "照护计划", Items: orNone(plans)},
			{Heading: "自我监测记录", Items: orNone(vitals)},
			{Heading: "预约", Items: orNone(appts)},
			{Heading: "与照护团队的消息", Items: []string{fmt.Sprintf("共 %d 条（完整内容见 FHIR 导出文件）", len(d.Messages))}},
			{Heading: "随访问卷", Items: orNone(qs)},
		},
		RetentionNotice: RetentionNotice,
	}, nil
}

func orKey(name, key string) string {
	if name == "" {
		return key
	}
	return name
}

func orNone(items []string) []string {
	if len(items) == 0 {
		return []string{"暂无"}
	}
	return items
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func itoa(i int) string { return strconv.Itoa(i) }
