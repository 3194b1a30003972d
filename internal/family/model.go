// Package family lets a patient's relatives in: one-time invitations the
// patient (or a CM, on the patient's recorded word) issues; the links they
// become, each with the scopes the patient chose; changing scopes and
// revoking. The access policy reads family_links on every request, so a
// revoked link or a narrowed scope holds from the next request on; the
// revocation also writes an outbox event for the realtime layer to close
// the relative's live connections. The patient's consent to each sharing is
// recorded through the consent feature in the same transaction.
package family

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// Link statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Link lets a WeChat user act for a patient within its scopes.
type Link struct {
	ID           string
	PatientID    string
	UserID       string
	Relationship string
	Scopes       string
	Status       string
	InvitationID *string
	// ActiveKey is patient:user while active and NULL after; its unique index
	// allows one active link per patient and relative.
	ActiveKey     *string
	RevokedByKind string
	RevokedByID   string
	RevokeReason  string // the reason of the consent withdrawal that ended it
	CreatedAt     time.Time
	UpdatedAt     time.Time
	RevokedAt     *time.Time
}

func (Link) TableName() string { return "family_links" }

// NewLink is an active link of userID to patientID.
func NewLink(id, patientID, userID, relationship string, scopes []access.Scope, now time.Time) Link {
	key := patientID + ":" + userID
	return Link{ID: id, PatientID: patientID, UserID: userID, Relationship: relationship,
		Scopes: access.FormatScopes(scopes), Status: StatusActive, ActiveKey: &key, CreatedAt: now, UpdatedAt: now}
}

// Invitation statuses as stored; "expired" is a pending one past ExpiresAt.
const (
	InvitationPending   = "pending"
	InvitationAccepted  = "accepted"
	InvitationWithdrawn = "withdrawn"
	InvitationExpired   = "expired"
)

// Invitation is a one-time offer of a link. Only the code's hash is stored:
// the code itself is shown once, to whoever issued it.
type Invitation struct {
	ID               string
	PatientID        string
	Status           string
	CodeHash         string
	Relationship     string
	Scopes           string
	IssuedByKind     string // user (the patient) or staff (a CM on the patient's word)
	IssuedByID       string
	ConsentGivenBy   string // the patient's consent to this sharing: who, how, when
	ConsentMethod    string
	ConsentGivenAt   time.Time
	ExpiresAt        time.Time
	AcceptedAt       *time.Time
	AcceptedByUserID *string
	LinkID           *string
	WithdrawnAt      *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (Invitation) TableName() string { return "family_invitations" }

// State is the invitation's status at now: an unanswered invitation past its
// expiry is expired.
func (inv Invitation) State(now time.Time) string {
	if inv.Status == InvitationPending && !now.Before(inv.ExpiresAt) {
		return InvitationExpired
	}
	return inv.Status
}

// CheckOpen says whether userID may still look at or accept the invitation.
func (inv Invitation) CheckOpen(userID string, now time.Time) error {
	switch inv.State(now) {
	case InvitationPending:
		return nil
	case InvitationAccepted:
		if inv.AcceptedByUserID != nil && *inv.AcceptedByUserID == userID {
			return ErrAlreadyAccepted
		}
		return ErrUsed
	case InvitationWithdrawn:
		return ErrWithdrawn
	default:
		return ErrExpired
	}
}

// CheckAccept says whether userID may accept the invitation of the patient
// whose own WeChat user is patientUserID ("" when they have none).
func (inv Invitation) CheckAccept(patientUserID, userID string, now time.Time) error {
	if err := inv.CheckOpen(userID, now); err != nil {
		return err
	}
	if patientUserID != "" && patientUserID == userID {
		return ErrOwnInvitation
	}
	return nil
}

// The code: 128 random bits in unpadded base32 (A-Z, 2-7), 26 characters. It
// doubles as the scene of wxacode.getUnlimited, which takes at most 32
// visible characters, so a QR code opens AcceptPage with the code as scene.
const (
	codeBytes = 16
	// CodeLength is the length of an invitation code.
	CodeLength = 26
	// MaxSceneLength is WeChat's limit on a wxacode.getUnlimited scene.
	MaxSceneLength = 32
	// AcceptPage is the mini-program page that previews and accepts an invitation.
	AcceptPage = "pages/family/accept"
)

var codeEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewCode returns a fresh invitation code.
func NewCode() string {
	b := make([]byte, codeBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("family: no randomness: %v", err)) // crypto/rand never fails on supported platforms
	}
	return codeEncoding.EncodeToString(b)
}

// NormalizeCode accepts a code as typed or scanned (any case, surrounding
// space) and reports whether it has the shape of a code.
func NormalizeCode(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != CodeLength {
		return "", false
	}
	if _, err := codeEncoding.DecodeString(s); err != nil {
		return "", false
	}
	return s, true
}

// HashCode is what is stored and looked up instead of the code.
func HashCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// PagePath is the page path with the code, for a share card or a link.
func PagePath(code string) string { return AcceptPage + "?code=" + code }

// ParseScopes checks the scopes a patient grants: at least one, each known;
// duplicates are dropped and the order is the display order.
func ParseScopes(names []string) ([]access.Scope, error) {
	if len(names) == 0 {
		return nil, apperr.Invalid("scopes", "scopes_required", "请至少选择一项授权范围")
	}
	want := map[access.Scope]bool{}
	for _, n := range names {
		sc := access.Scope(n)
		if !access.ValidScope(sc) {
			return nil, apperr.Invalid("scopes", "invalid_scope", fmt.Sprintf("未知的授权范围 %q", truncate(n, 32))).
				WithDetail("allowed", access.FormatScopes(access.AllScopes))
		}
		want[sc] = true
	}
	var out []access.Scope
	for _, sc := range access.AllScopes {
		if want[sc] {
			out = append(out, sc)
		}
	}
	return out, nil
}

// CheckRelationship cleans the relationship the patient names (女儿, 老伴…):
// 1 to 16 characters, no control characters.
func CheckRelationship(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	bad := n == 0 || n > 16 || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0
	if bad {
		return "", apperr.Invalid("relationship", "invalid_relationship", "关系不能为空，且不超过 16 个字")
	}
	return s, nil
}

// MaskName shows enough of a name for a relative to recognise it and no
// more: 张*国, 陈*, 欧**华.
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	switch len(r) {
	case 0:
		return ""
	case 1:
		return string(r) + "*"
	case 2:
		return string(r[0]) + "*"
	default:
		return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
	}
}

// ScopeLabels describe each scope to the relative and the patient.
var ScopeLabels = map[access.Scope]string{
	access.ScopeViewPlan:         "查看照护计划与健康宣教",
	access.ScopeViewVitals:       "查看体征与自报数据",
	access.ScopeViewAppointments: "查看和确认复诊预约",
	access.ScopeMessage:          "与个案管理师沟通",
	access.ScopeReport:           "代患者上报体征与症状",
	access.ScopeReceivePush:      "接收提醒通知",
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Errors clients branch on.
var (
	ErrInvitationNotFound        = apperr.NotFound("邀请")
	ErrLinkNotFound              = apperr.NotFound("家属关联")
	ErrExpired                   = apperr.New(apperr.KindGone, "invitation_expired", "邀请已过期，请让患者重新发起邀请")
	ErrWithdrawn                 = apperr.New(apperr.KindGone, "invitation_withdrawn", "邀请已被撤回")
	ErrUsed                      = apperr.New(apperr.KindGone, "invitation_used", "邀请已被他人使用")
	ErrAlreadyAccepted           = apperr.New(apperr.KindConflict, "invitation_already_accepted", "您已接受过该邀请")
	ErrLinkExists                = apperr.New(apperr.KindConflict, "family_link_exists", "您已是该患者的家属")
	ErrOwnInvitation             = apperr.New(apperr.KindUnprocessable, "invitation_own", "不能接受自己发出的邀请")
	ErrPrivacyPolicyRequired     = apperr.New(apperr.KindUnprocessable, "privacy_policy_required", "请先阅读并同意隐私政策")
	ErrHealthDataConsentRequired = apperr.New(apperr.KindUnprocessable, "health_data_consent_required", "患者尚未同意健康数据处理的单独授权，暂不能与家属共享")
	ErrNotPending                = apperr.New(apperr.KindConflict, "invitation_not_pending", "该邀请已被接受，如需取消请解除家属关联")
	ErrTooManyInvitations        = apperr.New(apperr.KindUnprocessable, "too_many_invitations", "待接受的邀请过多，请先撤回不需要的邀请")
)

func rateLimited(retryAfter time.Duration) error {
	return apperr.RateLimited("invitation_rate_limited", "尝试次数过多，请稍后再试", retryAfter)
}
