package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/platform/web"
)

const (
	// SessionCookieName is the admin page's session cookie.
	SessionCookieName = "carepath_session"
	// CSRFHeader carries the session's CSRF token on unsafe requests.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField carries it in HTML forms.
	CSRFField = "csrf_token"
	actorKey  = "carepath.actor"
	csrfKey   = "carepath.csrf"
)

// Handler serves the login endpoints and authenticates requests.
type Handler struct {
	svc           *Service
	val           *web.Validator
	secureCookies bool
}

// NewHandler builds the handler; secureCookies marks cookies Secure (HTTPS deployments).
func NewHandler(svc *Service, val *web.Validator, secureCookies bool) *Handler {
	return &Handler{svc: svc, val: val, secureCookies: secureCookies}
}

// ActorFrom returns the authenticated actor of the request.
func ActorFrom(c *gin.Context) (Actor, bool) {
	v, ok := c.Get(actorKey)
	if !ok {
		return Actor{}, false
	}
	return v.(Actor), true
}

// CSRFTokenFrom returns the cookie session's CSRF token, for rendering forms.
func CSRFTokenFrom(c *gin.Context) string { return c.GetString(csrfKey) }

// Require authenticates the request (bearer token, or the admin cookie with
// a CSRF token on unsafe methods) and aborts with 401 when it cannot.
func (h *Handler) Require() gin.HandlerFunc {
	return func(c *gin.Context) {
		a, err := h.authenticate(c)
		if err != nil {
			web.Error(c, err)
			return
		}
		c.Set(actorKey, a)
		web.SetUserID(c, string(a.Kind), a.ID)
		c.Next()
	}
}

// WebSocketProtocol is the subprotocol CarePath's WebSocket speaks.
// WebSocketTokenPrefix marks the other subprotocol a client offers, which
// carries its access token: the mini-program's wx.connectSocket and browsers
// cannot reliably set an Authorization header on the handshake, and a token
// in the query string would be written to every proxy's access log.
const (
	WebSocketProtocol    = "carepath.v1"
	WebSocketTokenPrefix = "bearer."
)

// webSocketToken returns the token offered as a subprotocol on a WebSocket handshake.
func webSocketToken(c *gin.Context) (string, bool) {
	if !strings.EqualFold(c.GetHeader("Upgrade"), "websocket") {
		return "", false
	}
	for _, header := range c.Request.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(header, ",") {
			if token, ok := strings.CutPrefix(strings.TrimSpace(p), WebSocketTokenPrefix); ok && token != "" {
				return token, true
			}
		}
	}
	return "", false
}

func (h *Handler) authenticate(c *gin.Context) (Actor, error) {
	ctx := c.Request.Context()
	if token, ok := webSocketToken(c); ok && c.GetHeader("Authorization") == "" {
		return h.svc.Authenticate(ctx, token)
	}
	if header := c.GetHeader("Authorization"); header != "" {
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || token == "" {
			return Actor{}, ErrTokenInvalid
		}
		return h.svc.Authenticate(ctx, token)
	}
	cookie, err := c.Cookie(SessionCookieName)
	if err != nil || cookie == "" {
		return Actor{}, ErrNotAuthenticated
	}
	a, csrf, err := h.svc.AuthenticateCookie(ctx, cookie)
	if err != nil {
		return Actor{}, err
	}
	if !safeMethod(c.Request.Method) {
		sent := c.GetHeader(CSRFHeader)
		if sent == "" {
			sent = c.PostForm(CSRFField)
		}
		if !constantTimeEqual(sent, csrf) {
			return Actor{}, ErrCSRF
		}
	}
	c.Set(csrfKey, csrf)
	return a, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func constantTimeEqual(a, b string) bool {
	if a == "" || len(a) != len(b) {
		return false
	}
	var diff byte
	for i := 0; i < len(a); i++ {
		diff |= a[i] ^ b[i]
	}
	return diff == 0
}

// WeChatLoginRequest carries the code from wx.login.
type WeChatLoginRequest struct {
	Code string `json:"code" validate:"required,max=128"`
}

// TokenResponse is a new access and refresh token pair.
type TokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	UserID           string `json:"user_id,omitempty"`
	NewUser          bool   `json:"new_user,omitempty"`
}

func tokenResponse(t Tokens, now time.Time) TokenResponse {
	return TokenResponse{
		AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: int(t.AccessExpiresAt.Sub(now).Seconds()),
		RefreshToken: t.RefreshToken, RefreshExpiresIn: int(t.RefreshExpiresAt.Sub(now).Seconds()),
	}
}

func client(c *gin.Context) Client {
	return Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()}
}

// WeChatLogin handles POST /api/v1/auth/wechat/login.
func (h *Handler) WeChatLogin(c *gin.Context) {
	var req WeChatLoginRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	tokens, user, created, err := h.svc.WeChatLogin(c.Request.Context(), req.Code, client(c))
	if err != nil {
		web.Error(c, err)
		return
	}
	resp := tokenResponse(tokens, h.svc.now())
	resp.UserID, resp.NewUser = user.ID, created
	web.OK(c, resp)
}

// RefreshRequest carries the current refresh token.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token" validate:"required,max=128"`
}

// Refresh handles POST /api/v1/auth/refresh.
func (h *Handler) Refresh(c *gin.Context) {
	var req RefreshRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	tokens, err := h.svc.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, tokenResponse(tokens, h.svc.now()))
}

// Logout handles POST /api/v1/auth/logout for tokens and cookies alike.
func (h *Handler) Logout(c *gin.Context) {
	a, _ := ActorFrom(c)
	if err := h.svc.Logout(c.Request.Context(), a); err != nil {
		web.Error(c, err)
		return
	}
	h.clearCookie(c)
	c.Status(http.StatusNoContent)
}

// StaffLoginRequest carries staff credentials.
type StaffLoginRequest struct {
	Username string `json:"username" form:"username" validate:"required,max=64"`
	Password string `json:"password" form:"password" validate:"required,max=256"`
}

// StaffView is a staff account as shown to its owner and to admins.
type StaffView struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	DisplayName  string `json:"display_name"`
	Role         Role   `json:"role"`
	HospitalID   string `json:"hospital_id"`
	DepartmentID string `json:"department_id,omitempty"`
}

// ViewOfStaff converts an account to its view.
func ViewOfStaff(st Staff) StaffView {
	v := StaffView{ID: st.ID, Username: st.Username, DisplayName: st.DisplayName, Role: st.Role, HospitalID: st.HospitalID}
	if st.DepartmentID != nil {
		v.DepartmentID = *st.DepartmentID
	}
	return v
}

// StaffLoginResponse describes a new admin-page session (the cookie is set alongside).
type StaffLoginResponse struct {
	Staff     StaffView `json:"staff"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StaffLogin handles POST /api/v1/auth/staff/login: it sets the session cookie.
func (h *Handler) StaffLogin(c *gin.Context) {
	var req StaffLoginRequest
	if err := h.val.BindJSON(c, &req); err != nil {
		web.Error(c, err)
		return
	}
	sess, err := h.LoginStaff(c, req)
	if err != nil {
		web.Error(c, err)
		return
	}
	web.OK(c, StaffLoginResponse{Staff: ViewOfStaff(sess.Staff), CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt})
}

// LoginStaff checks credentials and sets the session cookie; the admin page's
// form login shares it.
func (h *Handler) LoginStaff(c *gin.Context, req StaffLoginRequest) (StaffSession, error) {
	if err := h.val.Struct(req); err != nil {
		return StaffSession{}, err
	}
	sess, err := h.svc.StaffLogin(c.Request.Context(), req.Username, req.Password, client(c))
	if err != nil {
		return StaffSession{}, err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: SessionCookieName, Value: sess.Cookie, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: h.secureCookies, SameSite: http.SameSiteStrictMode,
	})
	return sess, nil
}

func (h *Handler) clearCookie(c *gin.Context) {
	if _, err := c.Cookie(SessionCookieName); err != nil {
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secureCookies, SameSite: http.SameSiteStrictMode})
}

// Service exposes the service for pages that log in and out (the admin page).
func (h *Handler) Service() *Service { return h.svc }
