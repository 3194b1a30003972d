// Package account carries out a WeChat user's own account decisions; today
// account deactivation (注销, PIPL article 47): WeChat unlinked, pushes
// stopped, every session and refresh token revoked, family links and pending
// invitations revoked, the deactivation recorded and audited. Clinical
// records are kept as the hospital's medical-record rules require; this
// package never deletes a patient's data.
package account

import (
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
)

// ConfirmWord is what the user types to confirm.
const ConfirmWord = "注销"

// MaxReasonRunes bounds the optional reason.
const MaxReasonRunes = 200

// RecordsRetainedNotice is said in the response (and in README).
const RecordsRetainedNotice = "您的账号已注销：微信已解除绑定，推送已停止，所有登录已退出，家属授权与未接受的邀请已撤销。按照医院病历管理规定，您的临床记录（病历、监测数据、随访与消息记录）将继续由医院保存，不会因注销而删除；如需查询或复印，请联系医院病案室。"

// Deactivation is the record of one account deactivation.
type Deactivation struct {
	ID        string
	UserID    string
	PatientID *string
	Reason    string
	// ReasonSealed: the reason is sealed at rest (migration 0015); reasons
	// written before are read as they are.
	ReasonSealed         bool
	LinksRevoked         int
	InvitationsWithdrawn int
	SessionsRevoked      int
	DeactivatedAt        time.Time
	CreatedAt            time.Time
}

func (Deactivation) TableName() string { return "account_deactivations" }

// Errors clients branch on.
var (
	ErrConfirmRequired = apperr.Invalid("confirm", "confirm_required", "请输入“注销”以确认注销账号")
	ErrReasonTooLong   = apperr.Invalid("reason", "reason_too_long", "注销原因最多200字")
	ErrAlreadyGone     = apperr.New(apperr.KindConflict, "account_deactivated", "账号已注销")
)
