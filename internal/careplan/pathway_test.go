package careplan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/careplan"
)

func TestShippedPathwaysLoad(t *testing.T) {
	lib, err := careplan.LoadPathways(configs.Files, "pathways")
	if err != nil {
		t.Fatalf("shipped pathways: %v", err)
	}
	want := []string{"heart_failure", "hypertension", "knee_arthroplasty", "lung_cancer_chemo", "type2_diabetes"}
	var got []string
	for _, p := range lib.All() {
		got = append(got, p.Key)
		if len(p.Source) == 0 {
			t.Errorf("%s cites no guideline", p.Key)
		}
		tasks, followups := 0, 0
		for _, s := range p.Stages {
			tasks += len(s.Tasks)
			followups += len(s.Followups)
		}
		if tasks < 5 || followups < 4 {
			t.Errorf("%s has %d tasks and %d follow-ups: too thin to be a pathway", p.Key, tasks, followups)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pathways %v, want %v", got, want)
	}
	// The appointments the pathways propose, as days after discharge.
	proposes := map[string]string{
		"knee_arthroplasty": "post_d1_7 revisit +14, post_w2_4 revisit +42", // 2 and 6 weeks
		"heart_failure":     "post_d1_7 revisit +10",                        // within 7–14 days
		"lung_cancer_chemo": "post_w2_3 treatment +18",                      // the next 21-day cycle
	}
	for _, p := range lib.All() {
		var list []string
		for _, s := range p.Stages {
			for _, a := range s.Appointments {
				if a.Due.Anchor != careplan.AnchorDischarge || a.Preparation == "" || a.Department == "" {
					t.Errorf("%s %s: due %+v, department %q, preparation %q", p.Key, a.Key, a.Due, a.Department, a.Preparation)
				}
				list = append(list, fmt.Sprintf("%s %s +%d", s.Key, a.Kind, a.Due.Day))
			}
		}
		if got := strings.Join(list, ", "); got != proposes[p.Key] {
			t.Errorf("%s proposes %q, want %q", p.Key, got, proposes[p.Key])
		}
	}
}

const goodPathway = `
key: demo
name: 演示路径
version: 1
source: [某指南]
stages:
  - key: pre
    name: 院前
    phase: pre_admission
    starts: {anchor: enrolment, day: 0}
    tasks:
      - {key: t1, title: 检查, owner: patient, due: {anchor: enrolment, day: 2}}
  - key: stay
    name: 院中
    phase: in_hospital
    starts: {anchor: admission, day: 0}
  - key: home
    name: 院后
    phase: post_discharge
    starts: {anchor: discharge, day: 0}
    followups:
      - {key: f1, title: 随访, channel: phone, due: {anchor: discharge, day: 3}}
    appointments:
      - {key: a1, kind: revisit, title: 复诊, due: {anchor: discharge, day: 14}, department: 门诊}
  - key: later
    name: 长期
    phase: post_discharge
    starts: {anchor: "stage:home", day: 30}
`

func TestBadPathwaysAreRejectedWithAPreciseMessage(t *testing.T) {
	p, err := careplan.ParsePathway("pathways/demo.yaml", []byte(goodPathway))
	if err != nil {
		t.Fatalf("the good pathway: %v", err)
	}
	if a := p.Stages[2].Appointments[0]; a.At != "09:00" || a.DurationMinutes != 30 {
		t.Errorf("appointment defaults: at %q, %d minutes, want 09:00 and 30", a.At, a.DurationMinutes)
	}
	cases := []struct {
		name, from, to string
		want           []string
	}{
		{"unknown anchor", "starts: {anchor: admission, day: 0}", "starts: {anchor: admision, day: 0}",
			[]string{"pathways/demo.yaml: stages[1].starts.anchor: unknown anchor \"admision\""}},
		{"task due before its anchor", "due: {anchor: discharge, day: 3}", "due: {anchor: discharge, day: -2}",
			[]string{"pathways/demo.yaml: stages[2].followups[0].due.day: -2 is before its anchor discharge"}},
		{"cycle", `starts: {anchor: discharge, day: 0}`, `starts: {anchor: "stage:later", day: 0}`,
			[]string{"pathways/demo.yaml: stages: stage starts form a cycle: home → later → home"}},
		{"self cycle", `starts: {anchor: "stage:home", day: 30}`, `starts: {anchor: "stage:later", day: 30}`,
			[]string{"stage starts form a cycle: later → later"}},
		{"stage that does not exist", `starts: {anchor: "stage:home", day: 30}`, `starts: {anchor: "stage:nowhere", day: 30}`,
			[]string{"stages[3].starts.anchor: no stage \"nowhere\""}},
		{"unknown field", "owner: patient,", "owner: patient, when: soon,",
			[]string{"pathways/demo.yaml: yaml: unmarshal errors", "field when not found"}},
		{"bad owner", "owner: patient", "owner: nurse",
			[]string{"stages[0].tasks[0].owner: \"nurse\" is not one of patient, cm, doctor"}},
		{"no in-hospital stage", "phase: in_hospital", "phase: pre_admission",
			[]string{"stages: no stage has phase in_hospital"}},
		{"duplicate task key", "key: f1,", "key: t1,",
			[]string{"stages[2].followups[0].key: \"t1\" is already used at stages[0].tasks[0]"}},
		{"unknown threshold", "    name: 长期\n", "    name: 长期\n    thresholds: {pain_max: 7}\n",
			[]string{"stages[3].thresholds.pain_max: unknown threshold"}},
		{"appointment kind", "kind: revisit", "kind: haircut",
			[]string{"stages[2].appointments[0].kind: \"haircut\" is not one of pre_admission, revisit"}},
		{"appointment time of day", "day: 14},", "day: 14}, at: \"9am\",",
			[]string{"stages[2].appointments[0].at: \"9am\" is not a time of day HH:MM"}},
		{"appointment too long", "day: 14},", "day: 14}, duration_minutes: 1440,",
			[]string{"stages[2].appointments[0].duration_minutes: 1440 is outside 5–720 minutes"}},
		{"appointment key shared", "key: a1,", "key: f1,",
			[]string{"stages[2].appointments[0].key: \"f1\" is already used at stages[2].followups[0]"}},
		{"appointment before its anchor", "day: 14},", "day: -1},",
			[]string{"stages[2].appointments[0].due.day: -1 is before its anchor discharge"}},
		{"appointment without title", "title: 复诊,", "title: \" \",",
			[]string{"stages[2].appointments[0].title: is required"}},
		{"unknown vital", "    name: 长期\n", "    name: 长期\n    vitals: [{type: mood, every_days: 1}]\n",
			[]string{"stages[3].vitals[0].type: unknown vital \"mood\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(goodPathway, tc.from, tc.to, 1)
			if src == goodPathway {
				t.Fatalf("test edit %q matched nothing", tc.from)
			}
			_, err := careplan.ParsePathway("pathways/demo.yaml", []byte(src))
			if err == nil {
				t.Fatal("accepted, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
