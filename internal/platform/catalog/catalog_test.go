package catalog

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func parseKey(file string, b []byte) (string, string, error) {
	text := strings.TrimSpace(string(b))
	if text == "" {
		return "", "", errors.New(file + ": empty")
	}
	return text, text, nil
}

func TestLoadKeepsEntriesByKeyInOrder(t *testing.T) {
	fsys := fstest.MapFS{"x/b.txt": {Data: []byte("beta")}, "x/a.txt": {Data: []byte("alpha")}, "x/skip.md": {Data: []byte("no")}}
	s, err := Load(fsys, "x/*.txt", "things", parseKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.All(), ","); got != "alpha,beta" {
		t.Fatalf("All() = %s, want alpha,beta", got)
	}
	if v, ok := s.Get("beta"); !ok || v != "beta" {
		t.Fatalf("Get(beta) = %q, %v", v, ok)
	}
	if _, ok := s.Get("gamma"); ok {
		t.Fatal("Get(gamma) found an entry that does not exist")
	}
}

func TestLoadReportsEveryProblemWithItsFile(t *testing.T) {
	fsys := fstest.MapFS{
		"x/a.txt": {Data: []byte("same")}, "x/b.txt": {Data: []byte("same")}, "x/c.txt": {Data: []byte(" ")},
	}
	_, err := Load(fsys, "x/*.txt", "things", parseKey)
	if err == nil {
		t.Fatal("Load succeeded with a duplicate key and an empty file")
	}
	for _, want := range []string{`x/b.txt: key: "same" is already the key of x/a.txt`, "x/c.txt: empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Load(fstest.MapFS{}, "x/*.txt", "things", parseKey); err == nil || !strings.Contains(err.Error(), "things") {
		t.Errorf("an empty catalog must be an error naming it, got %v", err)
	}
}

func TestWithAddsOrReplacesAndLeavesTheSetAlone(t *testing.T) {
	fsys := fstest.MapFS{"x/a.txt": {Data: []byte("alpha")}, "x/b.txt": {Data: []byte("beta")}}
	s, err := Load(fsys, "x/*.txt", "things", parseKey)
	if err != nil {
		t.Fatal(err)
	}
	added := s.With("aa", "y/aa.txt", "new")
	if got := strings.Join(added.All(), ","); got != "new,alpha,beta" {
		t.Errorf("after adding aa: %s, want new,alpha,beta", got)
	}
	replaced := added.With("beta", "y/b.txt", "BETA")
	if got := strings.Join(replaced.All(), ","); got != "new,alpha,BETA" {
		t.Errorf("after replacing beta: %s, want new,alpha,BETA", got)
	}
	if got := strings.Join(s.All(), ","); got != "alpha,beta" {
		t.Errorf("the original set changed: %s", got)
	}
}
