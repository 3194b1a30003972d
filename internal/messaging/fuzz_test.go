package messaging

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCleanText: any text a client sends is refused or comes back trimmed,
// valid UTF-8, non-empty and within the limit.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"您好", "  空格  ", "", "\xff\xfe", strings.Repeat("长", 2001), "<script>alert(1)</script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := cleanText(s, 2000)
		if err != nil {
			return
		}
		if out == "" || !utf8.ValidString(out) || utf8.RuneCountInString(out) > 2000 || out != strings.TrimSpace(out) {
			t.Fatalf("cleanText(%q) = %q", s, out)
		}
	})
}

// FuzzWholeImage: whatever bytes are uploaded, an accepted image sniffs as
// an allowed type; never a panic.
func FuzzWholeImage(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("RIFF\x0c\x00\x00\x00WEBPVP8 "))
	f.Add([]byte("<html><body>hi</body></html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ct := http.DetectContentType(b)
		if !imageTypes[ct] {
			return
		}
		_ = wholeImage(ct, b)
	})
}
