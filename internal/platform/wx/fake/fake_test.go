package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/carepath/carepath/internal/platform/wx/fake"
)

func newServer(t *testing.T) *fake.Server {
	t.Helper()
	s, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// call sends a request and decodes WeChat's JSON answer.
func call(t *testing.T, method, url string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d, want 200 (WeChat answers errors in the body)", method, url, resp.StatusCode)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decode: %v", method, url, err)
	}
	return out
}

func errcode(m map[string]any) int {
	f, _ := m["errcode"].(float64)
	return int(f)
}

func stableToken(t *testing.T, s *fake.Server, force bool) string {
	t.Helper()
	m := call(t, http.MethodPost, s.URL()+"/cgi-bin/stable_token", map[string]any{
		"grant_type": "client_credential", "appid": "wxapp", "secret": "sec", "force_refresh": force,
	})
	tok, _ := m["access_token"].(string)
	if tok == "" || errcode(m) != 0 {
		t.Fatalf("stable_token = %v, want a token", m)
	}
	if exp, _ := m["expires_in"].(float64); exp < 7000 || exp > 7200 {
		t.Errorf("expires_in = %v, want about 7200", m["expires_in"])
	}
	return tok
}

func TestJSCode2Session(t *testing.T) {
	s := newServer(t)
	login := func(appid, secret, code string) map[string]any {
		return call(t, http.MethodGet, s.URL()+"/sns/jscode2session?appid="+appid+"&secret="+secret+
			"&js_code="+code+"&grant_type=authorization_code", nil)
	}

	first := login("wxapp", "sec", "test-alice")
	if _, ok := first["errcode"]; ok {
		t.Errorf("successful login has errcode %v; WeChat omits it", first["errcode"])
	}
	if first["openid"] != "fake-openid-alice" || first["unionid"] != "fake-unionid-alice" {
		t.Errorf("login = %v, want openid fake-openid-alice and unionid fake-unionid-alice", first)
	}
	if k, _ := first["session_key"].(string); len(k) < 16 {
		t.Errorf("session_key = %q, want a random key", k)
	}
	if second := login("wxapp", "sec", "test-bob"); second["session_key"] == first["session_key"] {
		t.Error("two logins got the same session_key")
	}

	tests := []struct {
		name, appid, secret, code string
		want                      int
	}{
		{"reused code", "wxapp", "sec", "test-alice", 40163},
		{"unknown code", "wxapp", "sec", "nonsense", 40029},
		{"empty name", "wxapp", "sec", "test-", 40029},
		{"rate limited", "wxapp", "sec", "ratelimit-1", 45011},
		{"blocked", "wxapp", "sec", "blocked-1", 40226},
		{"busy", "wxapp", "sec", "busy-1", -1},
		{"no appid", "", "sec", "test-carol", 41002},
		{"no secret", "wxapp", "", "test-carol", 41004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errcode(login(tt.appid, tt.secret, tt.code)); got != tt.want {
				t.Errorf("errcode = %d, want %d", got, tt.want)
			}
		})
	}
	if got, want := s.LoginCount(), 2+len(tests); got != want {
		t.Errorf("LoginCount = %d, want %d", got, want)
	}
}

func TestWrongMethod(t *testing.T) {
	s := newServer(t)
	if got := errcode(call(t, http.MethodGet, s.URL()+"/cgi-bin/stable_token", nil)); got != 43002 {
		t.Errorf("GET stable_token errcode = %d, want 43002", got)
	}
	if got := errcode(call(t, http.MethodPost, s.URL()+"/sns/jscode2session", map[string]any{})); got != 43001 {
		t.Errorf("POST jscode2session errcode = %d, want 43001", got)
	}
}

func TestTokens(t *testing.T) {
	s := newServer(t)
	phone := func(tok string) int {
		return errcode(call(t, http.MethodPost, s.URL()+"/wxa/business/getuserphonenumber?access_token="+tok,
			map[string]string{"code": "phone-13800000001"}))
	}

	a := stableToken(t, s, false)
	if b := stableToken(t, s, false); b != a {
		t.Errorf("stable_token not idempotent while valid: %q then %q", a, b)
	}
	if got := s.TokenCount(); got != 2 {
		t.Errorf("TokenCount = %d, want 2", got)
	}
	forced := stableToken(t, s, true)
	if forced == a {
		t.Error("force_refresh returned the old token")
	}
	if got := phone(a); got != 40001 {
		t.Errorf("old token after force_refresh: errcode %d, want 40001", got)
	}
	if got := phone(forced); got != 0 {
		t.Errorf("new token: errcode %d, want 0", got)
	}

	plain := func() string {
		m := call(t, http.MethodGet, s.URL()+"/cgi-bin/token?grant_type=client_credential&appid=wxapp&secret=sec", nil)
		tok, _ := m["access_token"].(string)
		if tok == "" {
			t.Fatalf("token = %v", m)
		}
		return tok
	}
	p1 := plain()
	p2 := plain()
	if got := phone(p1); got != 40001 {
		t.Errorf("/cgi-bin/token's previous token: errcode %d, want 40001 (a new call invalidates it)", got)
	}
	if got := phone(p2); got != 0 {
		t.Errorf("/cgi-bin/token's latest token: errcode %d, want 0", got)
	}
	if got := phone(forced); got != 0 {
		t.Errorf("stable token after /cgi-bin/token calls: errcode %d, want 0 (they are separate)", got)
	}

	s.RevokeTokens()
	if got := phone(forced); got != 40001 {
		t.Errorf("after RevokeTokens: errcode %d, want 40001", got)
	}
	if again := stableToken(t, s, false); again == forced {
		t.Error("stable_token after RevokeTokens returned the revoked token")
	}
	if got := phone(""); got != 41001 {
		t.Errorf("no token: errcode %d, want 41001", got)
	}
}

func TestPhoneNumber(t *testing.T) {
	s := newServer(t)
	tok := stableToken(t, s, false)
	m := call(t, http.MethodPost, s.URL()+"/wxa/business/getuserphonenumber?access_token="+tok,
		map[string]string{"code": "phone-13800000001"})
	info, _ := m["phone_info"].(map[string]any)
	want := map[string]any{"phoneNumber": "13800000001", "purePhoneNumber": "13800000001", "countryCode": "86"}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("phone_info.%s = %v, want %v", k, info[k], v)
		}
	}
	if wm, _ := info["watermark"].(map[string]any); wm["appid"] != "wxapp" {
		t.Errorf("watermark = %v, want appid wxapp", info["watermark"])
	}
	for _, code := range []string{"phone-", "phone-12a", "other"} {
		got := errcode(call(t, http.MethodPost, s.URL()+"/wxa/business/getuserphonenumber?access_token="+tok,
			map[string]string{"code": code}))
		if got != 40029 {
			t.Errorf("code %q: errcode %d, want 40029", code, got)
		}
	}
}

func TestSubscribeSend(t *testing.T) {
	s := newServer(t)
	tok := stableToken(t, s, false)
	send := func(body map[string]any) int {
		return errcode(call(t, http.MethodPost, s.URL()+"/cgi-bin/message/subscribe/send?access_token="+tok, body))
	}
	msg := func(data map[string]string) map[string]any {
		d := map[string]any{}
		for k, v := range data {
			d[k] = map[string]string{"value": v}
		}
		return map[string]any{"touser": "fake-openid-a", "template_id": "tpl", "page": "pages/index/index",
			"data": d, "miniprogram_state": "formal", "lang": "zh_CN"}
	}
	with := func(field string, value any) map[string]any {
		m := msg(map[string]string{"thing1": "x"})
		m[field] = value
		return m
	}
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"thing at 20 characters", msg(map[string]string{"thing1": strings.Repeat("字", 20)}), 0},
		{"thing over 20", msg(map[string]string{"thing1": strings.Repeat("字", 21)}), 47003},
		{"phrase at 5", msg(map[string]string{"phrase2": "已完成已完"}), 0},
		{"phrase over 5", msg(map[string]string{"phrase2": "已完成已完成"}), 47003},
		{"character_string at 32", msg(map[string]string{"character_string3": strings.Repeat("a", 32)}), 0},
		{"character_string over 32", msg(map[string]string{"character_string3": strings.Repeat("a", 33)}), 47003},
		{"name at 10", msg(map[string]string{"name4": strings.Repeat("张", 10)}), 0},
		{"name over 10", msg(map[string]string{"name4": strings.Repeat("张", 11)}), 47003},
		{"time is not limited here", msg(map[string]string{"time5": "2026年11月22日 15:01"}), 0},
		{"empty value", msg(map[string]string{"thing1": ""}), 47003},
		{"no data", msg(nil), 47003},
		{"bad openid", with("touser", "o123"), 40003},
		{"no template", with("template_id", ""), 40037},
		{"bad state", with("miniprogram_state", "beta"), 47003},
		{"bad lang", with("lang", "fr_FR"), 47003},
	}
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(tt.body); got != tt.want {
				t.Errorf("errcode = %d, want %d", got, tt.want)
			}
		})
		if tt.want == 0 {
			accepted++
		}
	}
	if got := len(s.Sent()); got != accepted {
		t.Errorf("len(Sent()) = %d, want %d (only accepted sends are recorded)", got, accepted)
	}

	s.FailNextSend("fake-openid-a", 43101)
	s.FailNextSend("fake-openid-a", 45009)
	ok := msg(map[string]string{"thing1": "您有一条新消息"})
	for _, want := range []int{43101, 45009, 0} {
		if got := send(ok); got != want {
			t.Errorf("after FailNextSend: errcode %d, want %d", got, want)
		}
	}
	want := fake.SentMessage{ToOpenID: "fake-openid-a", TemplateID: "tpl", Page: "pages/index/index",
		Data: map[string]string{"thing1": "您有一条新消息"}, MiniprogramState: "formal", Lang: "zh_CN"}
	sent := s.Sent()
	if diff := cmp.Diff(want, sent[len(sent)-1]); diff != "" {
		t.Errorf("last Sent() (-want +got):\n%s", diff)
	}
	sent[len(sent)-1].Data["thing1"] = "changed"
	if s.Sent()[len(sent)-1].Data["thing1"] != "您有一条新消息" {
		t.Error("Sent() returned the fake's own map")
	}
	if got := errcode(call(t, http.MethodPost, s.URL()+"/cgi-bin/message/subscribe/send?access_token=bogus", ok)); got != 40001 {
		t.Errorf("bogus token: errcode %d, want 40001", got)
	}
}

func TestMsgSecCheck(t *testing.T) {
	s := newServer(t)
	tok := stableToken(t, s, false)
	tests := []struct {
		name        string
		openid      string
		scene       int
		content     string
		wantCode    int
		wantSuggest string
	}{
		{"pass", "fake-openid-a", 2, "今天血压正常", 0, "pass"},
		{"risky keyword", "fake-openid-a", 2, "这是违禁内容", 0, "risky"},
		{"risky marker", "fake-openid-a", 2, "x risky-test y", 0, "risky"},
		{"review marker", "fake-openid-a", 2, "x review-test y", 0, "review"},
		{"bad openid", "o123", 2, "hello", 40003, ""},
		{"bad scene", "fake-openid-a", 9, "hello", 47003, ""},
		{"too long", "fake-openid-a", 2, strings.Repeat("字", 2501), 47003, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := call(t, http.MethodPost, s.URL()+"/wxa/msg_sec_check?access_token="+tok, map[string]any{
				"version": 2, "openid": tt.openid, "scene": tt.scene, "content": tt.content,
			})
			if got := errcode(m); got != tt.wantCode {
				t.Fatalf("errcode = %d, want %d", got, tt.wantCode)
			}
			if tt.wantCode != 0 {
				return
			}
			result, _ := m["result"].(map[string]any)
			if result["suggest"] != tt.wantSuggest {
				t.Errorf("result.suggest = %v, want %s", result["suggest"], tt.wantSuggest)
			}
			if detail, _ := m["detail"].([]any); len(detail) == 0 {
				t.Errorf("detail = %v, want at least one entry", m["detail"])
			}
		})
	}
}

func TestCheckSession(t *testing.T) {
	s := newServer(t)
	tok := stableToken(t, s, false)
	if got := errcode(call(t, http.MethodGet, s.URL()+"/wxa/checksession?access_token="+tok+"&openid=fake-openid-a&signature=x&sig_method=hmac_sha256", nil)); got != 0 {
		t.Errorf("errcode = %d, want 0", got)
	}
}

func TestDownDelayAndClose(t *testing.T) {
	s := newServer(t)
	s.SetDown(true)
	resp, err := http.Get(s.URL() + "/wxa/checksession")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: HTTP %d, want 503", resp.StatusCode)
	}
	s.SetDown(false)

	s.SetDelay(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/wxa/checksession", nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow fake: err = %v, want a deadline", err)
	}
	s.SetDelay(0)

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(s.URL() + "/wxa/checksession"); err == nil {
		t.Error("request after Close succeeded")
	}
}
