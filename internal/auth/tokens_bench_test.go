package auth

import (
	"testing"
	"time"
)

// BenchmarkVerifyAccessToken is the token check every authenticated request
// pays before its session is loaded (go test -run '^$' -bench . -benchmem ./internal/auth/).
func BenchmarkVerifyAccessToken(b *testing.B) {
	s := tokenSigner{key: []byte("bench-secret-0123456789-0123456789-abcdef"), ttl: 15 * time.Minute}
	now := time.Now()
	tok, err := s.issue(KindUser, "0193c0de-0000-7000-8000-000000000001", "0193c0de-0000-7000-8000-000000000002", now)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.verify(tok, now); err != nil {
			b.Fatal(err)
		}
	}
}
