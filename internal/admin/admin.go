// Package admin is the case manager's desk: server-rendered pages embedded
// in the binary, same-origin, behind the staff session cookie with a CSRF
// token on every form. It calls the features' services; it owns no data.
//
// Patient pages are registered through access.Guard with the permission they
// need, so a CM who edits the URL to a patient outside the caseload gets the
// policy's 404 — rendered as a page by HTMLErrors. The pages never log names,
// phones or message text.
package admin

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/education"
	"github.com/carepath/carepath/internal/family"
	"github.com/carepath/carepath/internal/kpi"
	"github.com/carepath/carepath/internal/messaging"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var errIncompleteForm = apperr.Invalid("form", "form_incomplete", "请填写完整")

var errNoAlertFeature = apperr.New(apperr.KindUnprocessable, "alerts_unavailable", "预警功能尚未启用")

// Deps are the services the desk renders. Alerts, Vitals and Appointments
// default to the no-op implementations when nil.
type Deps struct {
	Auth         *auth.Handler
	Patients     *patient.Service
	Plans        *careplan.Service
	Education    *education.Service
	Messages     *messaging.Service
	Family       *family.Service
	Audit        *audit.Store
	Alerts       Alerts
	Vitals       Vitals
	Appointments Appointments
	KPIs         *kpi.Service // nil: no KPI section or page
	Zone         *time.Location
	Now          func() time.Time
	Secure       bool // cookies only over HTTPS
	Care         CareDeps
	Templates    *notify.Registry // subscription templates, read only
}

// Handler serves the admin pages.
type Handler struct {
	d      Deps
	auth   *auth.Handler
	pages  *template.Template
	static http.Handler
	secure bool
}

// NewHandler parses the embedded templates.
func NewHandler(d Deps) (*Handler, error) {
	if d.Alerts == nil {
		d.Alerts = NoAlerts{}
	}
	if d.Vitals == nil {
		d.Vitals = NoVitals{}
	}
	if d.Appointments == nil {
		d.Appointments = NoAppointments{}
	}
	if d.Zone == nil {
		d.Zone = time.UTC
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	pages, err := template.New("").Funcs(funcs(d.Zone, d.Now)).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Handler{d: d, auth: d.Auth, pages: pages, static: http.StripPrefix("/admin/static", http.FileServer(http.FS(sub))), secure: d.Secure}, nil
}

const loginCSRFCookie = "carepath_login_csrf"

func (h *Handler) render(c *gin.Context, status int, name string, data map[string]any) {
	setPageHeaders(c)
	c.Status(status)
	if err := h.pages.ExecuteTemplate(c.Writer, name, data); err != nil {
		web.Logger(c).Error("render admin page", "page", name, "error", err.Error())
	}
}

// setPageHeaders: only same-origin resources, no inline script or style.
func setPageHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// page adds what every signed-in page shows: who, the CSRF token, the nav.
func (h *Handler) page(c *gin.Context, title string, data map[string]any) map[string]any {
	a, _ := auth.ActorFrom(c)
	data["Title"] = title
	data["Actor"] = a
	data["CSRF"] = auth.CSRFTokenFrom(c)
	data["Clinical"] = a.Role == auth.RoleCM || a.Role == auth.RoleLead
	data["IsAdmin"] = a.Role == auth.RoleAdmin
	return data
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
	if problem == "" && c.Query("expired") != "" {
		problem = "登录已过期，请重新登录"
	}
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

// Static serves the vendored CSS and scripts.
func (h *Handler) Static(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	h.static.ServeHTTP(c.Writer, c.Request)
}

// AlertsEnabled says whether a real alert feature is wired.
func (h *Handler) AlertsEnabled() bool { return h.d.Alerts.Enabled() }

// ctx is the request's context.
func ctx(c *gin.Context) context.Context { return c.Request.Context() }
