// Package admin is the case manager's desk: server-rendered pages embedded
// in the binary, same-origin, behind the staff session cookie with a CSRF
// token on every form. It calls the features' services; it owns no data.
package admin

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Caseload lists the patients a staff member looks after.
type Caseload interface {
	Caseload(ctx context.Context, a auth.Actor, limit int) ([]patient.Profile, error)
}

// Handler serves the admin pages.
type Handler struct {
	auth     *auth.Handler
	caseload Caseload
	pages    *template.Template
	static   http.Handler
	secure   bool
}

// NewHandler parses the embedded templates.
func NewHandler(authH *auth.Handler, caseload Caseload, secureCookies bool) (*Handler, error) {
	pages, err := template.New("").Funcs(template.FuncMap{
		"roleName": roleName,
		"riskName": riskName,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Handler{auth: authH, caseload: caseload, pages: pages, static: http.StripPrefix("/admin/static", http.FileServer(http.FS(sub))), secure: secureCookies}, nil
}

const loginCSRFCookie = "carepath_login_csrf"

func (h *Handler) render(c *gin.Context, status int, name string, data map[string]any) {
	c.Header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := h.pages.ExecuteTemplate(c.Writer, name, data); err != nil {
		web.Logger(c).Error("render admin page", "page", name, "error", err.Error())
	}
}

// LoginPage handles GET /admin/login. A login form has no session yet, so
// its CSRF token is a double-submit cookie.
func (h *Handler) LoginPage(c *gin.Context) {
	h.renderLogin(c, http.StatusOK, "")
}

func (h *Handler) renderLogin(c *gin.Context, status int, problem string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(c.Writer, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/admin/login", MaxAge: 1800,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	h.render(c, status, "login.html", map[string]any{"CSRF": token, "Problem": problem})
}

// Login handles POST /admin/login.
func (h *Handler) Login(c *gin.Context) {
	cookie, err := c.Cookie(loginCSRFCookie)
	if err != nil || cookie == "" || cookie != c.PostForm(auth.CSRFField) {
		h.renderLogin(c, http.StatusForbidden, "页面已过期，请重新登录")
		return
	}
	_, err = h.auth.LoginStaff(c, auth.StaffLoginRequest{Username: c.PostForm("username"), Password: c.PostForm("password")})
	if err != nil {
		e, ok := apperr.As(err)
		if !ok || web.Status(err) >= 500 {
			web.Logger(c).Error("admin login failed", "error", err.Error())
			h.renderLogin(c, http.StatusInternalServerError, "系统繁忙，请稍后重试")
			return
		}
		h.renderLogin(c, web.Status(err), e.Message)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin")
}

// Logout handles POST /admin/logout.
func (h *Handler) Logout(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if err := h.auth.Service().Logout(c.Request.Context(), a); err != nil {
		web.Error(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: auth.SessionCookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteStrictMode})
	c.Redirect(http.StatusSeeOther, "/admin/login")
}

// Dashboard handles GET /admin.
func (h *Handler) Dashboard(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	patients, err := h.caseload.Caseload(c.Request.Context(), a, 200)
	if err != nil && !errors.Is(err, context.Canceled) {
		web.Error(c, err)
		return
	}
	h.render(c, http.StatusOK, "dashboard.html", map[string]any{
		"Actor": a, "CSRF": auth.CSRFTokenFrom(c), "Patients": patients, "Now": time.Now(),
	})
}

// Static serves the vendored CSS and scripts.
func (h *Handler) Static(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	h.static.ServeHTTP(c.Writer, c.Request)
}

func roleName(r auth.Role) string {
	switch r {
	case auth.RoleCM:
		return "个案管理师"
	case auth.RoleLead:
		return "护士长"
	case auth.RoleAdmin:
		return "系统管理员"
	}
	return string(r)
}

func riskName(r string) string {
	switch r {
	case patient.RiskHigh:
		return "高危"
	case patient.RiskMedium:
		return "中危"
	}
	return "低危"
}
