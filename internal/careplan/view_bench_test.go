package careplan_test

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/careplan"
)

// BenchmarkEncodePlanView is the JSON encoding of the home screen's largest
// payload, the plan (stage, progress, 40 tasks, next tasks, risk, CM), as
// gin's c.JSON writes it (go test -run '^$' -bench . -benchmem ./internal/careplan/).
func BenchmarkEncodePlanView(b *testing.B) {
	day := "2026-05-01"
	now := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	v := careplan.PlanView{
		ID: "0193c0de-0000-7000-8000-000000000001", PatientID: "0193c0de-0000-7000-8000-000000000002", Status: "active",
		Pathway:    careplan.PathwayRef{Key: "knee_arthroplasty", Name: "全膝关节置换术", Version: 3, Disease: "膝骨关节炎"},
		EnrolledAt: now, Events: []careplan.EventView{{Event: "enrolment", Date: day, RecordedAt: now}, {Event: "admission", Date: day, RecordedAt: now}},
		CurrentStage: careplan.CurrentStageView{StageView: careplan.StageView{Key: "post_discharge", Name: "出院后康复", Phase: "院后", StartsOn: &day, State: "current"}, EnteredAt: now, Day: 12},
		Progress:     careplan.Progress{TasksTotal: 40, TasksDone: 17, Percent: 42, StageNumber: 3, StageCount: 5},
		Risk:         careplan.RiskView{Level: "medium", Computed: "medium", Factors: []string{"age_over_65", "diabetes"}},
		CaseManager:  &careplan.CaseManagerView{ID: "0193c0de-0000-7000-8000-000000000003", Name: "周敏", Department: "骨科", Contact: "在小程序“消息”中给个案管理师留言"},
	}
	for i := 0; i < 5; i++ {
		v.Stages = append(v.Stages, careplan.StageView{Key: fmt.Sprintf("stage%d", i), Name: "术后康复阶段", Phase: "院后", StartsOn: &day, State: "done"})
	}
	for i := 0; i < 40; i++ {
		t := careplan.TaskView{ID: fmt.Sprintf("0193c0de-0000-7000-8000-0000000001%02d", i), Key: fmt.Sprintf("task_%d", i), Stage: "post_discharge",
			Kind: "education", Title: "阅读：术后第一周的功能锻炼要点", Owner: "patient", DueOn: &day, Status: "pending"}
		v.Tasks = append(v.Tasks, t)
		if i < 3 {
			v.NextTasks = append(v.NextTasks, t)
		}
	}
	enc := json.NewEncoder(io.Discard)
	for b.Loop() {
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
}
