package admin

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/web"
)

// Staff accounts are the administrator's: list, create with a role, disable.

// StaffPage handles GET /admin/staff.
func (h *Handler) StaffPage(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	accounts, err := h.auth.Service().StaffAccounts(ctx(c), a)
	if err != nil {
		web.Error(c, err)
		return
	}
	h.render(c, http.StatusOK, "staff.html", h.page(c, "人员账号", map[string]any{"Accounts": accounts}))
}

// CreateStaff handles POST /admin/staff.
func (h *Handler) CreateStaff(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	st := &auth.Staff{HospitalID: a.HospitalID, Username: strings.TrimSpace(c.PostForm("username")),
		DisplayName: strings.TrimSpace(c.PostForm("display_name")), Role: auth.Role(c.PostForm("role"))}
	if st.Username == "" || st.DisplayName == "" {
		web.Error(c, errIncompleteForm)
		return
	}
	if err := h.auth.Service().CreateStaff(ctx(c), st, c.PostForm("password")); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/staff")
}

// DisableStaff handles POST /admin/staff/:staffID/disable.
func (h *Handler) DisableStaff(c *gin.Context) {
	a, _ := auth.ActorFrom(c)
	if err := h.auth.Service().DisableStaff(ctx(c), a, c.Param("staffID")); err != nil {
		web.Error(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/staff")
}
