package careplan_test

import (
	"testing"

	"github.com/carepath/carepath/internal/careplan"
)

// fuzzPathway is a small valid pathway using every part of the format. The
// shipped pathways (4–6 KB each) are not seeds: every input the fuzzer finds
// interesting is minimised first, and minimising a multi-kilobyte document
// took the whole run (18 executions in 20 s). The library tests parse the
// shipped files.
const fuzzPathway = `key: p
name: 路径
version: 1
disease: d
source: [g]
stages:
  - key: pre
    name: 前
    phase: pre_admission
    starts: {anchor: enrolment, day: 0}
    message: plan_stage_started
    tasks: [{key: t, title: 评估, owner: cm, due: {anchor: enrolment, day: 1}}]
    education: [{article: htn-home-bp, day: 0}]
    vitals: [{type: blood_pressure, every_days: 1}]
  - key: in
    name: 中
    phase: in_hospital
    starts: {anchor: admission, day: 0}
    message: plan_stage_started
  - key: post
    name: 后
    phase: post_discharge
    starts: {anchor: discharge, day: 0}
    message: plan_stage_started
    followups: [{key: c3, title: 随访, channel: phone, due: {anchor: discharge, day: 3}}]
    thresholds: {bp_systolic_low: 100, no_report_days: 3}
`

// FuzzParsePathway: any pathway YAML (admins load them through the desk) is
// refused with an error or yields a pathway with a key; never a panic.
func FuzzParsePathway(f *testing.F) {
	if _, err := careplan.ParsePathway("seed.yaml", []byte(fuzzPathway)); err != nil {
		f.Fatalf("the seed pathway must be valid: %v", err)
	}
	f.Add([]byte(fuzzPathway))
	f.Add([]byte("key: x\nstages: [{key: a, after_days: -1}]\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := careplan.ParsePathway("fuzz.yaml", b)
		if err == nil && (p == nil || p.Key == "") {
			t.Fatalf("accepted a pathway without a key: %+v", p)
		}
	})
}
