package account

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/audit"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/platform/database"
)

// Accounts ends the account itself (auth.Store).
type Accounts interface {
	Deactivate(ctx context.Context, tx *gorm.DB, userID string, now time.Time) (int, error)
}

// Sessions drops the account's cached sessions on every instance once the
// deactivation is committed (auth.Service).
type Sessions interface {
	SessionsEnded(ctx context.Context, kind auth.ActorKind, id string)
}

// Pushes stops every push to a user (notify.Store).
type Pushes interface {
	StopUser(ctx context.Context, tx *gorm.DB, userID string, now time.Time) error
}

// Family ends the account's links and invitations (family.Service).
type Family interface {
	EndAccount(ctx context.Context, tx *gorm.DB, userID string, patientIDs []string, w consent.Withdrawal) (int, int, error)
}

// Sealer encrypts the reason a user gives at rest (fieldcrypt).
type Sealer interface {
	Seal(plaintext string) (string, error)
}

// Service deactivates accounts.
type Service struct {
	db       *gorm.DB
	sealer   Sealer
	accounts Accounts
	sessions Sessions
	pushes   Pushes
	family   Family
	now      func() time.Time
}

// NewService returns a Service; the reasons it records are sealed with sealer.
func NewService(db *gorm.DB, sealer Sealer, accounts Accounts, sessions Sessions, pushes Pushes, family Family, now func() time.Time) *Service {
	return &Service{db: db, sealer: sealer, accounts: accounts, sessions: sessions, pushes: pushes, family: family, now: now}
}

// Reseal seals up to batch reasons written in the clear (before migration
// 0015) and returns how many it sealed (see database.Reseal).
func (s *Service) Reseal(ctx context.Context, batch int) (int, error) {
	return database.Reseal(ctx, s.db, database.Sealed{Table: "account_deactivations", Flag: "reason_sealed",
		Columns: []string{"reason"}}, s.sealer.Seal, batch)
}

// Request is a deactivation as asked, with where it came from (for the audit).
type Request struct {
	Confirm   string
	Reason    string
	IP        string
	UserAgent string
	RequestID string
}

// Deactivate ends a's account, all at once or not at all.
func (s *Service) Deactivate(ctx context.Context, a auth.Actor, req Request) (Deactivation, error) {
	if a.Kind != auth.KindUser {
		return Deactivation{}, auth.ErrUserOnly
	}
	if strings.TrimSpace(req.Confirm) != ConfirmWord {
		return Deactivation{}, ErrConfirmRequired
	}
	reason := strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(reason) > MaxReasonRunes || !utf8.ValidString(reason) {
		return Deactivation{}, ErrReasonTooLong
	}
	now := s.now().UTC()
	w, err := consent.WithdrawalBy(a, "", consent.ReasonAccountDeactivated, now)
	if err != nil {
		return Deactivation{}, err
	}
	sealedReason, err := s.sealer.Seal(reason)
	if err != nil {
		return Deactivation{}, fmt.Errorf("seal deactivation reason: %w", err)
	}
	d := Deactivation{ID: database.NewID(), UserID: a.ID, Reason: reason, DeactivatedAt: now, CreatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var patientIDs []string
		if err := tx.Table("patients").Where("user_id = ?", a.ID).Order("id").Pluck("id", &patientIDs).Error; err != nil {
			return fmt.Errorf("patient records of account: %w", err)
		}
		if len(patientIDs) > 0 {
			d.PatientID = &patientIDs[0]
		}
		sessions, err := s.accounts.Deactivate(ctx, tx, a.ID, now)
		if auth.IsNotFound(err) {
			return ErrAlreadyGone
		}
		if err != nil {
			return err
		}
		d.SessionsRevoked = sessions
		if err := s.pushes.StopUser(ctx, tx, a.ID, now); err != nil {
			return fmt.Errorf("stop pushes: %w", err)
		}
		if d.LinksRevoked, d.InvitationsWithdrawn, err = s.family.EndAccount(ctx, tx, a.ID, patientIDs, w); err != nil {
			return fmt.Errorf("end family sharing: %w", err)
		}
		row := d // stored sealed; d keeps the plain reason
		row.Reason, row.ReasonSealed = sealedReason, sealedReason != ""
		if err := tx.Create(&row).Error; err != nil {
			return fmt.Errorf("record deactivation: %w", err)
		}
		// In the same transaction: a deactivation is never without its audit event.
		return audit.NewStore(tx, s.now).Record(ctx, audit.Event{
			ActorKind: string(a.Kind), ActorID: a.ID, ActorRole: string(a.Role),
			IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID,
			Action: "POST /api/v1/me/deactivate", PatientID: d.PatientID,
			ObjectType: "account_deactivation", ObjectID: d.ID, Result: audit.ResultOK,
		})
	})
	if err != nil {
		return Deactivation{}, fmt.Errorf("deactivate account %s: %w", a.ID, err)
	}
	s.sessions.SessionsEnded(ctx, auth.KindUser, a.ID)
	return d, nil
}
