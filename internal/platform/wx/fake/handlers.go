package fake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sns/jscode2session", only(http.MethodGet, s.jscode2session))
	mux.HandleFunc("/cgi-bin/stable_token", only(http.MethodPost, s.stableToken))
	mux.HandleFunc("/cgi-bin/token", only(http.MethodGet, s.token))
	mux.HandleFunc("/wxa/business/getuserphonenumber", only(http.MethodPost, s.phoneNumber))
	mux.HandleFunc("/cgi-bin/message/subscribe/send", only(http.MethodPost, s.subscribeSend))
	mux.HandleFunc("/wxa/msg_sec_check", only(http.MethodPost, s.msgSecCheck))
	mux.HandleFunc("/wxa/checksession", only(http.MethodGet, s.checkSession))
	return s.gate(mux)
}

// gate applies SetDown and SetDelay to every request.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down, delay := s.down, s.delay
		s.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		if down {
			http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// only answers WeChat's "require GET/POST method" errcodes for the wrong method.
func only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			if method == http.MethodGet {
				writeErr(w, 43001, "require GET method")
			} else {
				writeErr(w, 43002, "require POST method")
			}
			return
		}
		h(w, r)
	}
}

func (s *Server) jscode2session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logins++
	if code, msg := checkCredentials(q.Get("appid"), q.Get("secret")); code != 0 {
		writeErr(w, code, msg)
		return
	}
	if q.Get("grant_type") != "authorization_code" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	code := q.Get("js_code")
	switch {
	case strings.HasPrefix(code, "ratelimit-"):
		writeErr(w, 45011, "api minute-quota reach limit  mustslower  retry next minute")
	case strings.HasPrefix(code, "blocked-"):
		writeErr(w, 40226, "invalid user, high risk user")
	case strings.HasPrefix(code, "busy-"):
		writeErr(w, -1, "system error")
	case strings.HasPrefix(code, "test-") && len(code) > len("test-"):
		if s.usedCodes[code] {
			writeErr(w, 40163, "code been used")
			return
		}
		s.usedCodes[code] = true
		// "test-<name>~<nonce>" is another code for the same user, so one fake can
		// log the same person in many times, as each wx.login gives a new code.
		name, _, _ := strings.Cut(strings.TrimPrefix(code, "test-"), "~")
		// A successful answer has no errcode, as WeChat's.
		writeJSON(w, map[string]string{
			"openid":      "fake-openid-" + name,
			"unionid":     "fake-unionid-" + name,
			"session_key": base64.StdEncoding.EncodeToString(randomBytes(16)),
		})
	default:
		writeErr(w, 40029, "invalid code")
	}
}

func checkCredentials(appID, secret string) (int, string) {
	switch {
	case appID == "":
		return 41002, "appid missing"
	case secret == "":
		return 41004, "appsecret missing"
	}
	return 0, ""
}

func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls++
	if code, msg := checkCredentials(req.AppID, req.Secret); code != 0 {
		writeErr(w, code, msg)
		return
	}
	if req.GrantType != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	// Idempotent while valid: the same token until it expires or is
	// force-refreshed (which invalidates the old one).
	tok := s.stable[req.AppID]
	it, ok := s.tokens[tok]
	if req.ForceRefresh || !ok || time.Now().After(it.expires) {
		delete(s.tokens, tok)
		tok, it.expires = s.issueToken(req.AppID)
		s.stable[req.AppID] = tok
	}
	writeJSON(w, map[string]any{
		"access_token": tok,
		"expires_in":   int(time.Until(it.expires).Seconds()),
	})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls++
	if code, msg := checkCredentials(q.Get("appid"), q.Get("secret")); code != 0 {
		writeErr(w, code, msg)
		return
	}
	if q.Get("grant_type") != "client_credential" {
		writeErr(w, 40002, "invalid grant_type")
		return
	}
	// Every call issues a new token and invalidates the previous one: the
	// reason CarePath uses the stable token instead.
	delete(s.tokens, s.plain[q.Get("appid")])
	tok, _ := s.issueToken(q.Get("appid"))
	s.plain[q.Get("appid")] = tok
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": int(tokenLifetime.Seconds())})
}

func (s *Server) phoneNumber(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code, appID := s.checkToken(r.URL.Query().Get("access_token"))
	s.mu.Unlock()
	if code != 0 {
		writeTokenErr(w, code)
		return
	}
	var req struct {
		Code string `json:"code"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	digits, ok := strings.CutPrefix(req.Code, "phone-")
	if !ok || !allDigits(digits) {
		writeErr(w, 40029, "invalid code")
		return
	}
	writeJSON(w, map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     digits,
			"purePhoneNumber": digits,
			"countryCode":     "86",
			"watermark":       map[string]any{"timestamp": time.Now().Unix(), "appid": appID},
		},
	})
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// dataLimits are WeChat's character limits per template key type.
var dataLimits = map[string]int{"thing": 20, "phrase": 5, "character_string": 32, "name": 10}

func (s *Server) subscribeSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code, _ := s.checkToken(r.URL.Query().Get("access_token"))
	s.mu.Unlock()
	if code != 0 {
		writeTokenErr(w, code)
		return
	}
	var req struct {
		ToUser     string `json:"touser"`
		TemplateID string `json:"template_id"`
		Page       string `json:"page"`
		Data       map[string]struct {
			Value any `json:"value"`
		} `json:"data"`
		MiniprogramState string `json:"miniprogram_state"`
		Lang             string `json:"lang"`
	}
	if !decodeBody(w, r, &req) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if queued := s.failNext[req.ToUser]; len(queued) > 0 {
		s.failNext[req.ToUser] = queued[1:]
		writeErr(w, queued[0], injectedErrmsg(queued[0]))
		return
	}
	if !strings.HasPrefix(req.ToUser, "fake-openid-") {
		writeErr(w, 40003, "invalid openid")
		return
	}
	if req.TemplateID == "" {
		writeErr(w, 40037, "invalid template_id")
		return
	}
	if len(req.Data) == 0 {
		writeErr(w, 47003, "argument invalid! data is empty")
		return
	}
	data := make(map[string]string, len(req.Data))
	for k, item := range req.Data {
		v, ok := item.Value.(string)
		if !ok && item.Value != nil {
			v = fmt.Sprint(item.Value)
		}
		limit, limited := dataLimits[strings.TrimRight(k, "0123456789")]
		if v == "" || (limited && utf8.RuneCountInString(v) > limit) {
			// Like WeChat, name the field but never echo its value.
			writeErr(w, 47003, "argument invalid! data."+k+".value invalid")
			return
		}
		data[k] = v
	}
	switch req.MiniprogramState {
	case "", "developer", "trial", "formal":
	default:
		writeErr(w, 47003, "argument invalid! miniprogram_state invalid")
		return
	}
	switch req.Lang {
	case "", "zh_CN", "en_US", "zh_HK", "zh_TW":
	default:
		writeErr(w, 47003, "argument invalid! lang invalid")
		return
	}
	s.sent = append(s.sent, SentMessage{
		ToOpenID:         req.ToUser,
		TemplateID:       req.TemplateID,
		Page:             req.Page,
		Data:             data,
		MiniprogramState: req.MiniprogramState,
		Lang:             req.Lang,
	})
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": len(s.sent)})
}

// injectedErrmsg is WeChat's errmsg for an errcode queued by FailNextSend.
func injectedErrmsg(code int) string {
	switch code {
	case 43101:
		return "user refuse to accept the msg"
	case 40001:
		return "invalid credential, access_token is invalid or not latest"
	case 42001:
		return "access_token expired"
	case 40003:
		return "invalid openid"
	case 41030:
		return "invalid page"
	case 45009:
		return "reach max api daily quota limit"
	case 47003:
		return "argument invalid!"
	case -1:
		return "system error"
	default:
		return "injected by FailNextSend"
	}
}

// Labels WeChat's content security uses.
const (
	labelNormal  = 100
	labelIllegal = 20006
	labelOther   = 21000
)

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code, _ := s.checkToken(r.URL.Query().Get("access_token"))
	s.mu.Unlock()
	if code != 0 {
		writeTokenErr(w, code)
		return
	}
	var req struct {
		Version int    `json:"version"`
		OpenID  string `json:"openid"`
		Scene   int    `json:"scene"`
		Content string `json:"content"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	suggest, label := "pass", labelNormal
	switch {
	case strings.Contains(req.Content, "违禁") || strings.Contains(req.Content, "risky-test"):
		suggest, label = "risky", labelIllegal
	case strings.Contains(req.Content, "review-test"):
		suggest, label = "review", labelOther
	}
	if req.Version != 2 {
		// Version 1 (deprecated) answers risky text with 87014 and nothing else.
		if suggest == "risky" {
			writeErr(w, 87014, "risky content")
			return
		}
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
		return
	}
	switch {
	case !strings.HasPrefix(req.OpenID, "fake-openid-"):
		writeErr(w, 40003, "invalid openid")
		return
	case req.Scene < 1 || req.Scene > 4:
		writeErr(w, 47003, "argument invalid! scene invalid")
		return
	case req.Content == "" || utf8.RuneCountInString(req.Content) > 2500:
		writeErr(w, 47003, "argument invalid! content invalid")
		return
	}
	writeJSON(w, map[string]any{
		"errcode":  0,
		"errmsg":   "ok",
		"trace_id": randomHex(12),
		"result":   map[string]any{"suggest": suggest, "label": label},
		"detail": []map[string]any{{
			"strategy": "content_model",
			"errcode":  0,
			"suggest":  suggest,
			"label":    label,
			"prob":     90,
		}},
	})
}

func (s *Server) checkSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	code, _ := s.checkToken(r.URL.Query().Get("access_token"))
	s.mu.Unlock()
	if code != 0 {
		writeTokenErr(w, code)
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
}

// decodeBody reads a JSON body, answering WeChat's errcodes for an empty or
// malformed one; it reports whether the handler should go on.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return false
	}
	if len(body) == 0 {
		writeErr(w, 44002, "empty post data")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeErr(w, 47001, "data format error")
		return false
	}
	return true
}

func writeTokenErr(w http.ResponseWriter, code int) {
	switch code {
	case 41001:
		writeErr(w, code, "access_token missing")
	case 42001:
		writeErr(w, code, "access_token expired")
	default:
		writeErr(w, code, "invalid credential, access_token is invalid or not latest")
	}
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, map[string]any{"errcode": code, "errmsg": msg + ", rid: " + randomHex(6)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
