package careplan_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/apitest"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// Loading a library into the running service: refused while an active plan
// follows a pathway the new library lacks; otherwise in effect at once.
func TestReplacePathwaysKeepsEveryPathwayInUse(t *testing.T) {
	e := apitest.New(t)
	svc := e.App.Careplan
	b, err := configs.Files.ReadFile("pathways/hypertension.yaml")
	if err != nil {
		t.Fatal(err)
	}
	only, err := careplan.LoadPathways(fstest.MapFS{"p/hypertension.yaml": {Data: b}}, "p")
	if err != nil {
		t.Fatal(err)
	}
	before := len(svc.Pathways().All())
	// The demo patients follow other pathways too (knee arthroplasty, heart failure…).
	err = svc.ReplacePathways(t.Context(), only)
	if ae, ok := apperr.As(err); !ok || ae.Code != careplan.ErrPathwayInUse.Code {
		t.Fatalf("replace with a library lacking pathways in use: %v, want pathway_in_use", err)
	}
	if got := len(svc.Pathways().All()); got != before {
		t.Fatalf("a refused replacement changed the library: %d pathways, want %d", got, before)
	}
	p, _ := only.Pathway("hypertension")
	if err := svc.ReplacePathways(t.Context(), svc.Pathways().With(p)); err != nil {
		t.Fatalf("replace with the same library plus one: %v", err)
	}
	if got, ok := svc.Pathways().Pathway("hypertension"); !ok || got != p {
		t.Errorf("the loaded pathway is not the running one")
	}
}

// A new version of a pathway in use must keep the stages plans are in.
func TestReplacePathwaysKeepsEveryStageInUse(t *testing.T) {
	e := apitest.New(t)
	svc := e.App.Careplan
	plan, err := svc.Current(t.Context(), e.Demo.Patients["patient1"])
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := svc.Pathways().Pathway(plan.Pathway.Key)
	b, err := configs.Files.ReadFile("pathways/" + cur.Key + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	stage := plan.CurrentStage.Key
	renamed := strings.ReplaceAll(string(b), "key: "+stage+"\n", "key: "+stage+"_v2\n")
	renamed = strings.ReplaceAll(renamed, "key: "+stage+",", "key: "+stage+"_v2,")
	p, err := careplan.ParsePathway("renamed.yaml", []byte(renamed))
	if err != nil {
		t.Fatalf("renamed stage: %v", err)
	}
	if p.StageIndex(stage) >= 0 {
		t.Fatalf("the renamed file still has stage %s", stage)
	}
	err = svc.ReplacePathways(t.Context(), svc.Pathways().With(p))
	if ae, ok := apperr.As(err); !ok || ae.Code != careplan.ErrPathwayInUse.Code {
		t.Fatalf("a version without the stage patient 1 is in: %v, want pathway_in_use", err)
	}
	if got, _ := svc.Pathways().Pathway(plan.Pathway.Key); got != cur {
		t.Errorf("a refused replacement changed the pathway")
	}
}
