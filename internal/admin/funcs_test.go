package admin

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every kind of push the hospital configures is named in words in the push log.
func TestEveryConfiguredPushKindHasALabel(t *testing.T) {
	raw, err := os.ReadFile("../../configs/notify/templates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var registry struct {
		Templates map[string]any `yaml:"templates"`
	}
	if err := yaml.Unmarshal(raw, &registry); err != nil {
		t.Fatal(err)
	}
	if len(registry.Templates) == 0 {
		t.Fatal("no templates read from configs/notify/templates.yaml")
	}
	for kind := range registry.Templates {
		if got := pushKind(kind); got == kind {
			t.Errorf("push kind %q has no label in the push log", kind)
		}
	}
	if got := pushKind("something_new"); got != "something_new" {
		t.Errorf("an unknown kind shows as %q, want it as it is", got)
	}
}
