package careplan

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/carepath/carepath/internal/platform/catalog"
)

// A Pathway is a standard operating procedure (SOP) for one disease or
// operation, written as data in configs/pathways/*.yaml. Its YAML shape:
//
//	key: knee_arthroplasty            # ^[a-z][a-z0-9_]*$, unique
//	name: 全膝关节置换术全病程管理
//	version: 1
//	source: [中国髋膝关节置换术加速康复—围术期管理策略专家共识]   # guidelines the content follows
//	risk_floor: medium                # optional: the lowest risk level of anyone on this pathway
//	stages:                           # in journey order; at least one of each phase
//	  - key: pre_admission
//	    name: 院前准备
//	    phase: pre_admission          # pre_admission (院前) | in_hospital (院中) | post_discharge (院后)
//	    starts: {anchor: enrolment, day: 0}
//	    message: plan_stage_started   # subscription message key sent when the stage begins
//	    tasks:                        # owner patient | cm | doctor; due relative to an anchor, day >= 0
//	      - {key: preop_tests, title: 完成术前检查, owner: patient, due: {anchor: enrolment, day: 3}}
//	    followups:                    # contacts by the CM; channel phone | visit | online | questionnaire
//	      - {key: call_d3, title: 出院第3天电话随访, channel: phone, due: {anchor: discharge, day: 3}}
//	      - {key: d7, title: 出院第7天用药问卷, channel: questionnaire, due: {anchor: discharge, day: 7}, questionnaire: medication_adherence}
//	    education:                    # article keys (configs/education/<key>.md), pushed `day` days into the stage
//	      - {article: tka-before-surgery, day: 0}
//	    appointments:                 # proposed to the CM when the plan enters the stage (see Appointment)
//	      - {key: revisit_w2, kind: revisit, title: 术后2周复诊, due: {anchor: discharge, day: 14}, at: "09:00",
//	         duration_minutes: 30, department: 骨科门诊, preparation: 携带出院小结和医保卡}
//	    vitals:                       # what the patient reports during the stage, and how often
//	      - {type: blood_pressure, every_days: 1}
//	    thresholds:                   # alert threshold overrides while in the stage (see ThresholdKeys)
//	      pain_high: 7
//
// An anchor is an event (enrolment, admission, surgery, discharge) or the
// start of another stage, written stage:<key>. Dates are calendar days in the
// hospital's time zone.
type Pathway struct {
	Key       string   `yaml:"key" json:"key"`
	Name      string   `yaml:"name" json:"name"`
	Version   int      `yaml:"version" json:"version"`
	Disease   string   `yaml:"disease" json:"disease,omitempty"`
	Source    []string `yaml:"source" json:"source"`
	RiskFloor string   `yaml:"risk_floor" json:"risk_floor,omitempty"`
	Stages    []Stage  `yaml:"stages" json:"stages"`

	file string // where it was loaded from, for messages
}

// Stage is one phase of the journey.
type Stage struct {
	Key       string     `yaml:"key" json:"key"`
	Name      string     `yaml:"name" json:"name"`
	Phase     string     `yaml:"phase" json:"phase"`
	Starts    Offset     `yaml:"starts" json:"starts"`
	Message   string     `yaml:"message" json:"message,omitempty"`
	Tasks     []Task     `yaml:"tasks" json:"tasks"`
	Followups []Followup `yaml:"followups" json:"followups"`
	// Appointments are proposed (status proposed, not shown to the patient)
	// when the plan enters the stage; the CM accepts or dismisses each.
	Appointments []Appointment      `yaml:"appointments" json:"appointments"`
	Education    []EducationRef     `yaml:"education" json:"education"`
	Vitals       []VitalExpectation `yaml:"vitals" json:"vitals"`
	Thresholds   map[string]float64 `yaml:"thresholds" json:"thresholds,omitempty"`
}

// Offset is a day relative to an anchor: day 0 is the anchor's own day.
type Offset struct {
	Anchor string `yaml:"anchor" json:"anchor"`
	Day    int    `yaml:"day" json:"day"`
}

// Task is something to do in a stage.
type Task struct {
	Key   string `yaml:"key" json:"key"`
	Title string `yaml:"title" json:"title"`
	Owner string `yaml:"owner" json:"owner"`
	Due   Offset `yaml:"due" json:"due"`
}

// Followup is a contact the case manager makes.
type Followup struct {
	Key     string `yaml:"key" json:"key"`
	Title   string `yaml:"title" json:"title"`
	Channel string `yaml:"channel" json:"channel"`
	Due     Offset `yaml:"due" json:"due"`
	// Questionnaire (a key of configs/questionnaires, optional) is sent to
	// the patient on the due day by the questionnaire.send_due job.
	Questionnaire string `yaml:"questionnaire" json:"questionnaire,omitempty"`
}

// Appointment is an appointment the stage proposes to the CM: on the due
// day at At (HH:MM, hospital zone; 09:00 when empty), lasting
// DurationMinutes (30 when 0). Kind is one of AppointmentKinds. Its key
// shares the pathway's item keys; a plan proposes each key once.
type Appointment struct {
	Key             string `yaml:"key" json:"key"`
	Kind            string `yaml:"kind" json:"kind"`
	Title           string `yaml:"title" json:"title"`
	Due             Offset `yaml:"due" json:"due"`
	At              string `yaml:"at" json:"at"`
	DurationMinutes int    `yaml:"duration_minutes" json:"duration_minutes"`
	Department      string `yaml:"department" json:"department,omitempty"`
	Preparation     string `yaml:"preparation" json:"preparation,omitempty"`
}

// AppointmentKinds are the kinds an appointment may have (the appointment
// feature's kinds; a test in app checks the two lists agree).
var AppointmentKinds = []string{"pre_admission", "revisit", "examination", "treatment", "followup_visit", "mdt", "teleconsultation"}

// Appointment defaults and bounds (the appointment feature allows up to 12 hours).
const (
	DefaultAppointmentAt      = "09:00"
	DefaultAppointmentMinutes = 30
	maxAppointmentMinutes     = 720
)

// EducationRef pushes an article some days into the stage.
type EducationRef struct {
	Article string `yaml:"article" json:"article"`
	Day     int    `yaml:"day" json:"day"`
}

// VitalExpectation says which vital sign to report and how often. Type is one
// of VitalTypes.
type VitalExpectation struct {
	Type      string `yaml:"type" json:"type"`
	EveryDays int    `yaml:"every_days" json:"every_days"`
}

// Phases of the journey.
const (
	PhasePre  = "pre_admission"  // 院前
	PhaseIn   = "in_hospital"    // 院中
	PhasePost = "post_discharge" // 院后
)

// Event anchors a CM records (or that enrolment sets).
const (
	AnchorEnrolment = "enrolment"
	AnchorAdmission = "admission"
	AnchorSurgery   = "surgery"
	AnchorDischarge = "discharge"
)

// Anchors lists the event anchors in journey order.
var Anchors = []string{AnchorEnrolment, AnchorAdmission, AnchorSurgery, AnchorDischarge}

// Task owners.
const (
	OwnerPatient = "patient"
	OwnerCM      = "cm"
	OwnerDoctor  = "doctor"
)

// VitalTypes are the vital signs a stage may ask for (shared with observations).
var VitalTypes = []string{"blood_pressure", "glucose", "pain", "weight", "temperature", "spo2", "heart_rate"}

// ThresholdKeys are the alert thresholds a stage may override, and whether a
// stricter value is lower ("high" limits, report gaps) or higher ("low" limits).
// Units: mmHg, mmol/L, NRS 0–10, kg, °C, %, beats/min, days.
var ThresholdKeys = map[string]bool{ // key → stricter is lower
	"bp_systolic_high":     true,
	"bp_diastolic_high":    true,
	"bp_systolic_low":      false,
	"glucose_fasting_high": true,
	"glucose_random_high":  true,
	"glucose_low":          false,
	"pain_high":            true,
	"weight_gain_kg_3d":    true,
	"temperature_high":     true,
	"spo2_low":             false,
	"heart_rate_high":      true,
	"heart_rate_low":       false,
	"no_report_days":       true,
}

var (
	keyPattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	channels    = []string{"phone", "visit", "online", "questionnaire"}
	owners      = []string{OwnerPatient, OwnerCM, OwnerDoctor}
	phases      = []string{PhasePre, PhaseIn, PhasePost}
	riskLevels  = []string{RiskLow, RiskMedium, RiskHigh}
)

const stageRef = "stage:"

// StageIndex returns the position of the stage with key, or -1.
func (p *Pathway) StageIndex(key string) int {
	for i, s := range p.Stages {
		if s.Key == key {
			return i
		}
	}
	return -1
}

// UsesAnchor reports whether any date of the pathway depends on the event.
func (p *Pathway) UsesAnchor(event string) bool {
	used := false
	p.eachOffset(func(_ string, o Offset) {
		if o.Anchor == event {
			used = true
		}
	})
	return used
}

// eachOffset visits every offset with its path in the file.
func (p *Pathway) eachOffset(visit func(path string, o Offset)) {
	for i, s := range p.Stages {
		sp := fmt.Sprintf("stages[%d]", i)
		visit(sp+".starts", s.Starts)
		for j, t := range s.Tasks {
			visit(fmt.Sprintf("%s.tasks[%d].due", sp, j), t.Due)
		}
		for j, f := range s.Followups {
			visit(fmt.Sprintf("%s.followups[%d].due", sp, j), f.Due)
		}
		for j, a := range s.Appointments {
			visit(fmt.Sprintf("%s.appointments[%d].due", sp, j), a.Due)
		}
	}
}

// Library holds the loaded pathways by key.
type Library struct {
	*catalog.Set[*Pathway]
}

// Pathway returns the pathway with key.
func (l *Library) Pathway(key string) (*Pathway, bool) { return l.Get(key) }

// ArticleRefs lists every article key any stage references, with where, so
// the application can check them against the education library at start.
func (l *Library) ArticleRefs() map[string]string {
	out := map[string]string{}
	for _, p := range l.All() {
		for i, s := range p.Stages {
			for j, e := range s.Education {
				out[e.Article] = fmt.Sprintf("%s: stages[%d].education[%d].article", p.file, i, j)
			}
		}
	}
	return out
}

// With returns a copy of the library with p added, or in place of the
// pathway with the same key.
func (l *Library) With(p *Pathway) *Library {
	return &Library{l.Set.With(p.Key, p.file, p)}
}

// LoadPathways reads every *.yaml file in dir of fsys and validates it. The
// error lists every problem, each naming the file, the path in it and what is wrong.
func LoadPathways(fsys fs.FS, dir string) (*Library, error) {
	set, err := catalog.Load(fsys, path.Join(dir, "*.yaml"), "pathways", func(file string, b []byte) (*Pathway, string, error) {
		p, err := ParsePathway(file, b)
		if err != nil {
			return nil, "", err
		}
		return p, p.Key, nil
	})
	if err != nil {
		return nil, err
	}
	return &Library{set}, nil
}

// ParsePathway decodes and validates one pathway file; file names it in errors.
func ParsePathway(file string, b []byte) (*Pathway, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Pathway
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p.file = file
	if problems := p.validate(); len(problems) > 0 {
		errs := make([]error, len(problems))
		for i, pr := range problems {
			errs[i] = fmt.Errorf("%s: %s", file, pr)
		}
		return nil, errors.Join(errs...)
	}
	for i := range p.Stages { // empty lists, never null, in JSON
		st := &p.Stages[i]
		st.Tasks, st.Followups, st.Appointments = orEmpty(st.Tasks), orEmpty(st.Followups), orEmpty(st.Appointments)
		for j := range st.Appointments {
			a := &st.Appointments[j]
			if a.At == "" {
				a.At = DefaultAppointmentAt
			}
			if a.DurationMinutes == 0 {
				a.DurationMinutes = DefaultAppointmentMinutes
			}
		}
		st.Education, st.Vitals = orEmpty(st.Education), orEmpty(st.Vitals)
	}
	return &p, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// validate returns every problem as "path: what is wrong".
func (p *Pathway) validate() []string {
	var out []string
	bad := func(path, format string, args ...any) { out = append(out, path+": "+fmt.Sprintf(format, args...)) }
	if !keyPattern.MatchString(p.Key) {
		bad("key", "%q must be lower-case letters, digits and underscores, starting with a letter", p.Key)
	}
	if strings.TrimSpace(p.Name) == "" {
		bad("name", "is required")
	}
	if p.Version < 1 {
		bad("version", "must be 1 or more")
	}
	if len(p.Source) == 0 {
		bad("source", "name at least one guideline the pathway follows")
	}
	if p.RiskFloor != "" && !contains(riskLevels, p.RiskFloor) {
		bad("risk_floor", "%q is not one of %s", p.RiskFloor, strings.Join(riskLevels, ", "))
	}
	if len(p.Stages) == 0 {
		bad("stages", "at least one stage of each phase (%s) is required", strings.Join(phases, ", "))
		return out
	}
	stageKeys := map[string]int{}
	itemKeys := map[string]string{}
	seenPhase := map[string]bool{}
	lastPhase := 0
	for i, s := range p.Stages {
		sp := fmt.Sprintf("stages[%d]", i)
		if !keyPattern.MatchString(s.Key) {
			bad(sp+".key", "%q must be lower-case letters, digits and underscores", s.Key)
		} else if j, dup := stageKeys[s.Key]; dup {
			bad(sp+".key", "%q is already the key of stages[%d]", s.Key, j)
		}
		stageKeys[s.Key] = i
		if strings.TrimSpace(s.Name) == "" {
			bad(sp+".name", "is required")
		}
		if k := indexOf(phases, s.Phase); k < 0 {
			bad(sp+".phase", "%q is not one of %s", s.Phase, strings.Join(phases, ", "))
		} else {
			if k < lastPhase {
				bad(sp+".phase", "%s comes after %s: stages must be listed in journey order", s.Phase, phases[lastPhase])
			}
			lastPhase = max(lastPhase, k)
			seenPhase[s.Phase] = true
		}
		item := func(path, key string) {
			if !keyPattern.MatchString(key) {
				bad(path+".key", "%q must be lower-case letters, digits and underscores", key)
			} else if where, dup := itemKeys[key]; dup {
				bad(path+".key", "%q is already used at %s (task, follow-up and appointment keys are unique in a pathway)", key, where)
			}
			itemKeys[key] = path
		}
		for j, t := range s.Tasks {
			tp := fmt.Sprintf("%s.tasks[%d]", sp, j)
			item(tp, t.Key)
			if strings.TrimSpace(t.Title) == "" {
				bad(tp+".title", "is required")
			}
			if !contains(owners, t.Owner) {
				bad(tp+".owner", "%q is not one of %s", t.Owner, strings.Join(owners, ", "))
			}
		}
		for j, f := range s.Followups {
			fp := fmt.Sprintf("%s.followups[%d]", sp, j)
			item(fp, f.Key)
			if strings.TrimSpace(f.Title) == "" {
				bad(fp+".title", "is required")
			}
			if !contains(channels, f.Channel) {
				bad(fp+".channel", "%q is not one of %s", f.Channel, strings.Join(channels, ", "))
			}
			if f.Questionnaire != "" && !keyPattern.MatchString(f.Questionnaire) {
				bad(fp+".questionnaire", "%q is not a questionnaire key", f.Questionnaire)
			}
		}
		for j, a := range s.Appointments {
			ap := fmt.Sprintf("%s.appointments[%d]", sp, j)
			item(ap, a.Key)
			if strings.TrimSpace(a.Title) == "" {
				bad(ap+".title", "is required")
			}
			if !contains(AppointmentKinds, a.Kind) {
				bad(ap+".kind", "%q is not one of %s", a.Kind, strings.Join(AppointmentKinds, ", "))
			}
			if _, err := time.Parse("15:04", a.At); a.At != "" && (err != nil || len(a.At) != 5) {
				bad(ap+".at", "%q is not a time of day HH:MM", a.At)
			}
			if a.DurationMinutes < 0 || a.DurationMinutes > maxAppointmentMinutes || a.DurationMinutes > 0 && a.DurationMinutes < 5 {
				bad(ap+".duration_minutes", "%d is outside 5–%d minutes", a.DurationMinutes, maxAppointmentMinutes)
			}
			if utf8.RuneCountInString(a.Title) > 128 || utf8.RuneCountInString(a.Department) > 64 || utf8.RuneCountInString(a.Preparation) > 2000 {
				bad(ap, "title (128), department (64) or preparation (2000 characters) is too long")
			}
		}
		for j, e := range s.Education {
			ep := fmt.Sprintf("%s.education[%d]", sp, j)
			if !slugPattern.MatchString(e.Article) {
				bad(ep+".article", "%q is not an article key (the file name without .md)", e.Article)
			}
			if e.Day < 0 {
				bad(ep+".day", "%d is before the stage begins", e.Day)
			}
		}
		for j, v := range s.Vitals {
			vp := fmt.Sprintf("%s.vitals[%d]", sp, j)
			if !contains(VitalTypes, v.Type) {
				bad(vp+".type", "unknown vital %q (known: %s)", v.Type, strings.Join(VitalTypes, ", "))
			}
			if v.EveryDays < 1 {
				bad(vp+".every_days", "must be 1 or more")
			}
		}
		for _, k := range sortedKeys(s.Thresholds) {
			if _, ok := ThresholdKeys[k]; !ok {
				bad(sp+".thresholds."+k, "unknown threshold (known: %s)", strings.Join(sortedKeys(ThresholdKeys), ", "))
			} else if s.Thresholds[k] <= 0 {
				bad(sp+".thresholds."+k, "must be a positive number")
			}
		}
	}
	for _, ph := range phases {
		if !seenPhase[ph] {
			bad("stages", "no stage has phase %s: a pathway covers %s", ph, strings.Join(phases, ", "))
		}
	}
	p.eachOffset(func(path string, o Offset) {
		switch {
		case contains(Anchors, o.Anchor):
		case strings.HasPrefix(o.Anchor, stageRef):
			if _, ok := stageKeys[strings.TrimPrefix(o.Anchor, stageRef)]; !ok {
				bad(path+".anchor", "no stage %q in this pathway", strings.TrimPrefix(o.Anchor, stageRef))
				return
			}
		default:
			bad(path+".anchor", "unknown anchor %q (known: %s, or stage:<key>)", o.Anchor, strings.Join(Anchors, ", "))
			return
		}
		if o.Day < 0 {
			bad(path+".day", "%d is before its anchor %s: due dates are on or after their anchor", o.Day, o.Anchor)
		}
	})
	if cycle := p.stageCycle(); cycle != "" {
		bad("stages", "stage starts form a cycle: %s", cycle)
	}
	return out
}

// stageCycle finds stages whose starts refer to each other in a loop, and
// describes the loop ("a → b → a"), or returns "".
func (p *Pathway) stageCycle() string {
	next := map[string]string{}
	for _, s := range p.Stages {
		if ref, ok := strings.CutPrefix(s.Starts.Anchor, stageRef); ok {
			next[s.Key] = ref
		}
	}
	for _, s := range p.Stages {
		seen := map[string]bool{}
		chain := []string{}
		for k := s.Key; k != ""; k = next[k] {
			chain = append(chain, k)
			if seen[k] {
				if k == s.Key {
					return strings.Join(chain, " → ")
				}
				break // a loop not through s: reported from one of its members
			}
			seen[k] = true
		}
	}
	return ""
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
