package family

import (
	"strings"
	"testing"
)

// FuzzNormalizeCode: whatever is typed or scanned, a code that passes has
// the code's shape and normalizes to itself.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{NewCode(), " " + strings.ToLower(NewCode()) + "\n", "", "AAAA", "0000000000000000", "ÄÖÜ", strings.Repeat("Z", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := NormalizeCode(s)
		if !ok {
			return
		}
		if len(code) != CodeLength || code != strings.ToUpper(code) {
			t.Fatalf("%q normalized to %q", s, code)
		}
		if again, ok := NormalizeCode(code); !ok || again != code {
			t.Fatalf("%q is not stable: %q %v", code, again, ok)
		}
	})
}
