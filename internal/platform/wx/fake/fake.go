// Package fake is a stand-in for WeChat's server API: a real HTTP server on
// 127.0.0.1 speaking WeChat's wire format (HTTP 200, errcode/errmsg JSON),
// for tests and the service's dev mode. It accepts any appid and secret, so
// it must never serve production.
//
// Login codes: "test-<name>" is accepted once and maps to openid
// "fake-openid-<name>" and unionid "fake-unionid-<name>"; "test-<name>~<nonce>"
// is a fresh code for the same user; "ratelimit-<x>",
// "blocked-<x>" and "busy-<x>" answer 45011, 40226 and -1; anything else
// answers 40029. Subscription messages go only to openids "fake-openid-…"
// (others answer 40003) and are recorded for Sent(). Phone codes: "phone-<digits>" answers that number.
// Text checks: content containing "违禁" or "risky-test" is risky,
// "review-test" is review, anything else passes.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// tokenLifetime is WeChat's access token lifetime.
const tokenLifetime = 7200 * time.Second

// SentMessage is a subscription message the fake accepted.
type SentMessage struct {
	ToOpenID         string
	TemplateID       string
	Page             string
	Data             map[string]string
	MiniprogramState string
	Lang             string
}

// Server is a running fake WeChat API. It is safe for concurrent use.
type Server struct {
	url       string
	srv       *http.Server
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu         sync.Mutex
	down       bool
	delay      time.Duration
	usedCodes  map[string]bool
	tokens     map[string]issuedToken // access token → what it is
	stable     map[string]string      // appid → current stable token
	plain      map[string]string      // appid → current /cgi-bin/token token
	failNext   map[string][]int       // openid → errcodes for its next sends
	sent       []SentMessage
	logins     int
	tokenCalls int
}

type issuedToken struct {
	appID   string
	expires time.Time
}

// New starts a fake on a free port of 127.0.0.1. Close stops it.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake wechat: listen: %w", err)
	}
	s := &Server{
		url:       "http://" + ln.Addr().String(),
		served:    make(chan struct{}),
		usedCodes: make(map[string]bool),
		tokens:    make(map[string]issuedToken),
		stable:    make(map[string]string),
		plain:     make(map[string]string),
		failNext:  make(map[string][]int),
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// URL is the base URL to give wx.Config.BaseURL, e.g. "http://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Close stops the server and waits for it to stop serving. Calling it again
// is harmless.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.srv.Close()
		<-s.served
	})
	return s.closeErr
}

// Sent returns every subscription message accepted so far, oldest first.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentMessage, len(s.sent))
	for i, m := range s.sent {
		m.Data = copyData(m.Data)
		out[i] = m
	}
	return out
}

// FailNextSend makes the next subscription message to openID answer
// errcode (e.g. 43101 no credit). Calls queue up.
func (s *Server) FailNextSend(openID string, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[openID] = append(s.failNext[openID], errcode)
}

// SetDown makes every request answer HTTP 503 (WeChat unreachable) while
// down is true.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetDelay makes every request wait d before answering (a slow WeChat).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// LoginCount is the number of jscode2session calls answered.
func (s *Server) LoginCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// TokenCount is the number of access token calls answered (stable_token and
// token), successful or not.
func (s *Server) TokenCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// RevokeTokens invalidates every access token issued so far: calls with one
// answer 40001, and the next token call issues a new one (as after a forced
// refresh elsewhere).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
	clear(s.stable)
	clear(s.plain)
}

// issueToken records a new token for appID; s.mu must be held.
func (s *Server) issueToken(appID string) (string, time.Time) {
	tok := "fake-token-" + randomHex(16)
	exp := time.Now().Add(tokenLifetime)
	s.tokens[tok] = issuedToken{appID: appID, expires: exp}
	return tok, exp
}

// checkToken reports the errcode for an access token (0 if valid) and the
// appid it was issued to; s.mu must be held.
func (s *Server) checkToken(tok string) (errcode int, appID string) {
	it, ok := s.tokens[tok]
	switch {
	case tok == "":
		return 41001, "" // access_token missing
	case !ok:
		return 40001, ""
	case time.Now().After(it.expires):
		return 42001, ""
	}
	return 0, it.appID
}

func copyData(d map[string]string) map[string]string {
	out := make(map[string]string, len(d))
	for k, v := range d {
		out[k] = v
	}
	return out
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return b
}
