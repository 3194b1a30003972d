// Package auth knows who is calling: WeChat login for patients and families,
// username/password for staff, access and refresh tokens, cookie sessions for
// the admin page, and the Actor every handler acts for. It decides nothing
// about which patient an actor may see; that is the access package's job.
package auth

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// ActorKind says which table an actor comes from.
type ActorKind string

const (
	KindUser  ActorKind = "user"  // a WeChat user: a patient, a family member, or both
	KindStaff ActorKind = "staff" // a hospital employee using the admin page
)

// Role is what a staff member may do; WeChat users have RoleUser.
type Role string

const (
	RoleUser  Role = "user"
	RoleCM    Role = "cm"    // case manager: their own caseload
	RoleLead  Role = "lead"  // department lead (护士长): the whole department
	RoleAdmin Role = "admin" // configuration and accounts; no clinical reading by default
)

// ValidStaffRole reports whether r is a staff role.
func ValidStaffRole(r Role) bool { return r == RoleCM || r == RoleLead || r == RoleAdmin }

// Actor is the authenticated caller of a request.
type Actor struct {
	Kind         ActorKind
	ID           string // users.id or staff.id
	Role         Role
	SessionID    string
	HospitalID   string // staff only
	DepartmentID string // staff only, may be empty
	DisplayName  string // staff only; users' names are never carried around
}

// IsStaff reports whether the actor is a staff member.
func (a Actor) IsStaff() bool { return a.Kind == KindStaff }

// Account statuses.
const (
	StatusActive      = "active"
	StatusDeactivated = "deactivated"
	StatusDisabled    = "disabled"
)

// User is a WeChat user. OpenID is nil after deactivation unlinks WeChat.
type User struct {
	ID          string
	OpenID      *string `gorm:"column:open_id"`
	UnionID     *string `gorm:"column:union_id"`
	PhoneEnc    string
	PhoneIndex  *string
	Status      string
	LastLoginAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (User) TableName() string { return "users" }

// Staff is a hospital employee account.
type Staff struct {
	ID           string
	HospitalID   string
	DepartmentID *string
	Username     string
	PasswordHash string
	DisplayName  string
	Role         Role
	Status       string
	FailedLogins int
	LockedUntil  *time.Time
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (Staff) TableName() string { return "staff" }

// Session kinds: a token session belongs to a mini-program login (access +
// rotating refresh tokens, one family); a cookie session to the admin page.
const (
	SessionToken  = "token"
	SessionCookie = "cookie"
)

// Session is one login. Revoking it ends every token issued under it.
type Session struct {
	ID           string
	SubjectKind  ActorKind
	SubjectID    string
	Kind         string
	SecretHash   *string // cookie sessions: sha256 of the cookie value
	CSRFToken    string  `gorm:"column:csrf_token"`
	IP           string
	UserAgent    string
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	RevokeReason string
}

func (Session) TableName() string { return "auth_sessions" }

// RefreshToken is one link of a session's rotation chain; only its hash is stored.
type RefreshToken struct {
	ID        string
	SessionID string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (RefreshToken) TableName() string { return "refresh_tokens" }

// Errors callers and clients branch on.
var (
	ErrNotAuthenticated = apperr.Unauthorized("unauthenticated", "请先登录")
	ErrTokenInvalid     = apperr.Unauthorized("token_invalid", "登录已失效，请重新登录")
	ErrTokenExpired     = apperr.Unauthorized("token_expired", "登录已过期，请刷新或重新登录")
	ErrRefreshInvalid   = apperr.Unauthorized("refresh_token_invalid", "刷新凭证无效，请重新登录")
	ErrRefreshReused    = apperr.Unauthorized("refresh_token_reused", "刷新凭证已被使用，为安全起见已退出登录，请重新登录")
	ErrBadCredentials   = apperr.Unauthorized("invalid_credentials", "用户名或密码错误")
	ErrCodeInvalid      = apperr.Unauthorized("wechat_code_invalid", "微信登录凭证无效或已过期，请重新登录")
	ErrCodeUsed         = apperr.Unauthorized("wechat_code_used", "微信登录凭证已被使用，请重新登录")
	ErrWeChatBlocked    = apperr.New(apperr.KindForbidden, "wechat_user_blocked", "该微信账号存在风险，暂时无法登录")
	ErrWeChatRateLimit  = apperr.New(apperr.KindRateLimited, "wechat_rate_limited", "登录过于频繁，请稍后再试")
	ErrPhoneCodeInvalid = apperr.New(apperr.KindInvalid, "phone_code_invalid", "手机号授权凭证无效或已过期，请重新授权")
	ErrCSRF             = apperr.New(apperr.KindForbidden, "csrf_token_invalid", "页面已过期，请刷新后重试")
	ErrStaffOnly        = apperr.New(apperr.KindForbidden, "staff_only", "仅限医护人员使用")
	ErrUserOnly         = apperr.New(apperr.KindForbidden, "user_only", "仅限患者和家属使用")
)
