package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/platform/web"
)

// HTMLErrors turns the JSON error bodies the guard, the auth middleware and
// web.Error write (403 missing CSRF token, 404 patient outside the caseload,
// 401 expired session on a form post, 422 rule violations) into a calm page
// with the same status. A person at the desk should never see JSON.
func (h *Handler) HTMLErrors(c *gin.Context) {
	w := &errorCatcher{ResponseWriter: c.Writer}
	c.Writer = w
	c.Next()
	c.Writer = w.ResponseWriter
	if !w.caught {
		return
	}
	status := w.status
	if status == http.StatusUnauthorized && c.Request.Method == http.MethodGet {
		// A person opening a page without a live session goes to the login form.
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return
	}
	var body web.ErrorBody
	_ = json.Unmarshal(w.body.Bytes(), &body)
	title, message := "出错了", body.Error.Message
	switch status {
	case http.StatusUnauthorized:
		title, message = "登录已过期", "请重新登录后再操作。"
	case http.StatusForbidden:
		title = "无法完成操作"
		if body.Error.Code == "csrf_invalid" || strings.Contains(body.Error.Code, "csrf") {
			message = "页面已过期或来源不明，请刷新页面后重试。"
		}
	case http.StatusNotFound:
		title, message = "未找到", "该页面不存在，或该患者不在您的管理范围内。"
	}
	if message == "" || status >= 500 {
		message = "系统繁忙，请稍后重试。"
	}
	setPageHeaders(c)
	c.Writer.WriteHeader(status)
	_ = h.pages.ExecuteTemplate(c.Writer, "error.html", map[string]any{
		"Title": title, "Message": message, "Status": status, "Login": status == http.StatusUnauthorized,
	})
}

// errorCatcher holds back a JSON error body so HTMLErrors can replace it.
type errorCatcher struct {
	gin.ResponseWriter
	status int
	caught bool
	body   bytes.Buffer
}

// catch decides at the first body write, once the content type is known
// (gin sets it after the status).
func (w *errorCatcher) catch() bool {
	if !w.caught && !w.ResponseWriter.Written() && w.ResponseWriter.Status() >= 400 &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		w.status, w.caught = w.ResponseWriter.Status(), true
	}
	return w.caught
}

func (w *errorCatcher) WriteHeaderNow() {
	if !w.caught {
		w.ResponseWriter.WriteHeaderNow()
	}
}

func (w *errorCatcher) Write(b []byte) (int, error) {
	if w.catch() {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *errorCatcher) WriteString(s string) (int, error) {
	if w.catch() {
		return w.body.WriteString(s)
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *errorCatcher) Written() bool {
	if w.caught {
		return true
	}
	return w.ResponseWriter.Written()
}
