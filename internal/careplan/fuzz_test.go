package careplan_test

import (
	"io/fs"
	"testing"

	"github.com/carepath/carepath/configs"
	"github.com/carepath/carepath/internal/careplan"
)

// FuzzParsePathway: any pathway YAML (admins load them through the desk) is
// refused with an error or yields a pathway with a key; never a panic.
func FuzzParsePathway(f *testing.F) {
	files, _ := fs.Glob(configs.Files, "pathways/*.yaml")
	for _, name := range files {
		b, _ := fs.ReadFile(configs.Files, name)
		f.Add(b)
	}
	f.Add([]byte("key: x\nstages: [{key: a, after_days: -1}]\n"))
	f.Add([]byte("a: &a [*a, *a, *a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := careplan.ParsePathway("fuzz.yaml", b)
		if err == nil && (p == nil || p.Key == "") {
			t.Fatalf("accepted a pathway without a key: %+v", p)
		}
	})
}
