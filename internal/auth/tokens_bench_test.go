package auth

import (
	"context"
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

// BenchmarkAuthenticateCheckedSession is what an authenticated request pays
// for its bearer token once its session has been checked (the steady state
// of every route): no database, the cache only.
func BenchmarkAuthenticateCheckedSession(b *testing.B) {
	now := time.Now()
	s := &Service{signer: tokenSigner{key: []byte("bench-secret-0123456789-0123456789-abcdef"), ttl: 15 * time.Minute},
		now: func() time.Time { return now }, sessions: newSessionCache(time.Minute)}
	s.sessions.reset(true)
	const user, session = "0193c0de-0000-7000-8000-000000000001", "0193c0de-0000-7000-8000-000000000002"
	tok, err := s.signer.issue(KindUser, user, session, now)
	if err != nil {
		b.Fatal(err)
	}
	s.sessions.put(session, cachedSession{actor: Actor{Kind: KindUser, ID: user, Role: RoleUser, SessionID: session}}, now)
	ctx := context.Background()
	for b.Loop() {
		if a, err := s.Authenticate(ctx, tok); err != nil || a.ID != user {
			b.Fatal(a, err)
		}
	}
}
