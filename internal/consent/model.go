// Package consent keeps the consent records PIPL (个人信息保护法) asks for:
// which privacy-policy version each user accepted; a patient's separate
// consent to the processing of sensitive health data (art. 28-29); and the
// patient's separate consent to share it with each family member (art. 23),
// with the scopes shared. Each record says who gave it (the patient or a
// guardian), how (in the app, in person, by phone), when, and who recorded
// it; a withdrawal says the same. Rows are never deleted: withdrawing, or a
// new consent superseding an old one, closes a row, so the history stays.
//
// What a withdrawal stops:
//   - family_sharing for one relative: that relative's family link is revoked
//     in the same transaction (the family feature does it), so the next
//     request they make is refused and their live connections are closed.
//   - health_data: all sharing with family stops — every family link of the
//     patient is revoked and pending invitations are withdrawn — and no
//     relative can be invited until the patient consents again. Features that
//     process data on the patient's consent alone (self-reporting, pushes)
//     ask HealthDataActive. The case manager's access does not stop: care by
//     the hospital rests on another legal basis (PIPL art. 13(1)(2)-(3),
//     treatment and the duty to keep medical records), not on this consent.
//
// Privacy-policy acceptance cannot be withdrawn here: leaving means deleting
// the account, which is another feature's job.
package consent

import (
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

// Kinds of consent.
const (
	KindPrivacyPolicy = "privacy_policy" // a user accepted a privacy-policy version
	KindHealthData    = "health_data"    // a patient's separate consent to processing health data
	KindFamilySharing = "family_sharing" // a patient's separate consent to share with one relative
)

// How a consent was given or withdrawn.
const (
	MethodInApp    = "in_app"    // by the person, in the mini-program
	MethodInPerson = "in_person" // told to a staff member face to face, who recorded it
	MethodPhone    = "phone"     // told to a staff member by phone, who recorded it
)

// Who gave a consent.
const (
	GivenByUser     = "user"     // privacy policy: the account holder
	GivenByPatient  = "patient"  // the patient themself
	GivenByGuardian = "guardian" // a guardian acting for a patient who cannot (监护人)
)

// Why a consent ended.
const (
	ReasonWithdrawn           = "withdrawn"             // the patient withdrew it
	ReasonSuperseded          = "superseded"            // a newer consent replaced it (new scopes, new notice version)
	ReasonLinkRevoked         = "link_revoked"          // the patient revoked the relative's link
	ReasonHealthDataWithdrawn = "health_data_withdrawn" // the health-data consent it rested on was withdrawn
	ReasonAccountDeactivated  = "account_deactivated"   // the patient's or the relative's account was deactivated
)

// Consent is one consent record.
type Consent struct {
	ID              string
	Kind            string
	UserID          *string // privacy_policy
	PatientID       *string // health_data, family_sharing
	FamilyLinkID    *string // family_sharing
	Relationship    string  // family_sharing: the relative, as the patient named them
	Scopes          string  // family_sharing: what is shared, comma-separated
	Version         string  // the version of the text consented to
	GivenBy         string
	Method          string
	RecordedByKind  string
	RecordedByID    string
	GrantedAt       time.Time
	WithdrawnAt     *time.Time
	WithdrawReason  string
	WithdrawMethod  string
	WithdrawnByKind string
	WithdrawnByID   string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (Consent) TableName() string { return "consents" }

// Active reports whether the consent still holds.
func (c Consent) Active() bool { return c.WithdrawnAt == nil }

// Evidence is how a consent (or its withdrawal) was obtained: who gave it,
// how, when, and who recorded it.
type Evidence struct {
	GivenBy        string
	Method         string
	At             time.Time
	RecordedByKind string
	RecordedByID   string
}

// EvidenceInput is what a request says about how consent was obtained; a
// patient acting in the app leaves it empty, a staff member must fill it.
type EvidenceInput struct {
	GivenBy string
	Method  string
	GivenAt *time.Time
}

// How far back a staff member may date a consent they record.
const maxRecordDelay = 30 * 24 * time.Hour

// EvidenceFor checks how a patient's consent was obtained. The patient in
// the app consents themself, in the app, now. A staff member records what
// the patient (or guardian) told them in person or by phone, and when; not
// in the future and not more than 30 days ago.
func EvidenceFor(a auth.Actor, in EvidenceInput, now time.Time) (Evidence, error) {
	if a.Kind != auth.KindStaff {
		if in.Method != "" && in.Method != MethodInApp {
			return Evidence{}, apperr.Invalid("method", "invalid_consent_method", "本人在小程序内操作时，方式只能是 in_app")
		}
		if in.GivenBy != "" && in.GivenBy != GivenByPatient {
			return Evidence{}, apperr.Invalid("given_by", "invalid_given_by", "本人在小程序内操作时，同意人只能是 patient")
		}
		if in.GivenAt != nil {
			return Evidence{}, apperr.Invalid("given_at", "invalid_given_at", "本人在小程序内操作时无需填写 given_at")
		}
		return Evidence{GivenBy: GivenByPatient, Method: MethodInApp, At: now, RecordedByKind: string(a.Kind), RecordedByID: a.ID}, nil
	}
	if in.Method != MethodInPerson && in.Method != MethodPhone {
		return Evidence{}, apperr.Invalid("method", "invalid_consent_method", "医护人员代为登记时须注明方式：in_person（当面）或 phone（电话）")
	}
	if in.GivenBy != GivenByPatient && in.GivenBy != GivenByGuardian {
		return Evidence{}, apperr.Invalid("given_by", "invalid_given_by", "医护人员代为登记时须注明同意人：patient（患者本人）或 guardian（监护人）")
	}
	at := now
	if in.GivenAt != nil {
		at = in.GivenAt.UTC()
		if at.After(now.Add(time.Minute)) || at.Before(now.Add(-maxRecordDelay)) {
			return Evidence{}, apperr.Invalid("given_at", "invalid_given_at", "同意时间不能晚于现在，也不能早于 30 天前")
		}
	}
	return Evidence{GivenBy: in.GivenBy, Method: in.Method, At: at, RecordedByKind: string(a.Kind), RecordedByID: a.ID}, nil
}

// Withdrawal closes consents: when, why, how, and by whom.
type Withdrawal struct {
	At     time.Time
	Reason string
	Method string
	ByKind string
	ByID   string
}

// WithdrawalBy is a withdrawal made by a (in the app, or recorded by staff
// with the method the patient used).
func WithdrawalBy(a auth.Actor, method, reason string, now time.Time) (Withdrawal, error) {
	ev, err := EvidenceFor(a, EvidenceInput{Method: method, GivenBy: defaultGivenBy(a)}, now)
	if err != nil {
		return Withdrawal{}, err
	}
	return Withdrawal{At: now, Reason: reason, Method: ev.Method, ByKind: ev.RecordedByKind, ByID: ev.RecordedByID}, nil
}

func defaultGivenBy(a auth.Actor) string {
	if a.Kind == auth.KindStaff {
		return GivenByPatient
	}
	return ""
}

// SharingGrant is the patient's consent to share with one relative, written
// by the family feature in the transaction that creates or changes the link.
type SharingGrant struct {
	PatientID    string
	LinkID       string
	Relationship string
	Scopes       []access.Scope
	Evidence     Evidence
}

var (
	// ErrNotFound answers for a consent that is missing or not the patient's.
	ErrNotFound = apperr.NotFound("同意记录")
	// ErrAlreadyWithdrawn: a consent can be withdrawn once.
	ErrAlreadyWithdrawn = apperr.New(apperr.KindConflict, "consent_already_withdrawn", "该同意已撤回")
	// ErrNotWithdrawable: privacy-policy acceptance is not withdrawn here.
	ErrNotWithdrawable = apperr.New(apperr.KindUnprocessable, "consent_not_withdrawable", "隐私政策同意不能在此撤回，如需停止使用请注销账号")
)

func versionOutdated(current string) error {
	return apperr.New(apperr.KindUnprocessable, "consent_version_outdated", "同意的文本版本不是最新版本，请阅读最新版本后再同意").
		WithDetail("field", "version").WithDetail("current_version", current)
}
