package family

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/patient"
)

// Store reads and writes family links and invitations.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// WithTx returns a Store that works inside tx.
func (s *Store) WithTx(tx *gorm.DB) *Store { return &Store{db: tx} }

// CreateLink inserts an active link; a second active link for the same
// patient and relative is ErrLinkExists (the unique active key decides, so
// two concurrent accepts cannot both win).
func (s *Store) CreateLink(ctx context.Context, l *Link) error {
	if err := s.db.WithContext(ctx).Create(l).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrLinkExists
		}
		return fmt.Errorf("create family link: %w", err)
	}
	return nil
}

// ActiveLink returns the active link of userID to patientID, if any.
func (s *Store) ActiveLink(ctx context.Context, patientID, userID string) (Link, bool, error) {
	var l Link
	err := s.db.WithContext(ctx).Where("patient_id = ? AND user_id = ? AND status = ?", patientID, userID, StatusActive).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Link{}, false, nil
	}
	return l, err == nil, err
}

// Link returns one of the patient's links; ErrLinkNotFound when missing or another patient's.
func (s *Store) Link(ctx context.Context, patientID, id string) (Link, error) {
	var l Link
	err := s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Link{}, ErrLinkNotFound
	}
	return l, err
}

// ActiveLinks lists the patient's active links, oldest first.
func (s *Store) ActiveLinks(ctx context.Context, patientID string) ([]Link, error) {
	var out []Link
	err := s.db.WithContext(ctx).Where("patient_id = ? AND status = ?", patientID, StatusActive).Order("created_at").Order("id").Find(&out).Error
	return out, err
}

// ActiveLinksOf lists the relatives a user follows.
func (s *Store) ActiveLinksOf(ctx context.Context, userID string) ([]patient.Link, error) {
	var links []Link
	if err := s.db.WithContext(ctx).Where("user_id = ? AND status = ?", userID, StatusActive).
		Order("created_at").Order("id").Find(&links).Error; err != nil {
		return nil, fmt.Errorf("list family links: %w", err)
	}
	out := make([]patient.Link, 0, len(links))
	for _, l := range links {
		out = append(out, patient.Link{PatientID: l.PatientID, Relationship: l.Relationship, Scopes: scopeNames(access.ParseScopes(l.Scopes))})
	}
	return out, nil
}

func scopeNames(scopes []access.Scope) []string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return names
}

// Relationship returns how userID is related to patientID by their most
// recent link, revoked or not, for the patient's access log.
func (s *Store) Relationship(ctx context.Context, patientID, userID string) (string, bool, error) {
	var l Link
	err := s.db.WithContext(ctx).Select("relationship").Where("patient_id = ? AND user_id = ?", patientID, userID).
		Order("created_at DESC").Order("id DESC").Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	return l.Relationship, err == nil, err
}

// SetScopes changes an active link's scopes.
func (s *Store) SetScopes(ctx context.Context, id string, scopes []access.Scope, now time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Link{}).Where("id = ? AND status = ?", id, StatusActive).
		Updates(map[string]any{"scopes": access.FormatScopes(scopes), "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// RevokeLinks ends the given links if still active.
func (s *Store) RevokeLinks(ctx context.Context, ids []string, w consent.Withdrawal) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.WithContext(ctx).Model(&Link{}).Where("id IN ? AND status = ?", ids, StatusActive).Updates(map[string]any{
		"status": StatusRevoked, "active_key": nil, "revoked_at": w.At, "updated_at": w.At,
		"revoked_by_kind": w.ByKind, "revoked_by_id": w.ByID, "revoke_reason": w.Reason,
	}).Error
}

// CreateInvitation inserts inv.
func (s *Store) CreateInvitation(ctx context.Context, inv *Invitation) error {
	if err := s.db.WithContext(ctx).Create(inv).Error; err != nil {
		return fmt.Errorf("create family invitation: %w", err)
	}
	return nil
}

// InvitationByCode finds an invitation by its code's hash.
func (s *Store) InvitationByCode(ctx context.Context, code string) (Invitation, error) {
	return s.invitation(s.db.WithContext(ctx).Where("code_hash = ?", HashCode(code)))
}

// Invitation returns one of the patient's invitations.
func (s *Store) Invitation(ctx context.Context, patientID, id string) (Invitation, error) {
	return s.invitation(s.db.WithContext(ctx).Where("id = ? AND patient_id = ?", id, patientID))
}

func (s *Store) invitation(q *gorm.DB) (Invitation, error) {
	var inv Invitation
	err := q.Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Invitation{}, ErrInvitationNotFound
	}
	return inv, err
}

// Invitations lists the patient's invitations, newest first.
func (s *Store) Invitations(ctx context.Context, patientID string, limit int) ([]Invitation, error) {
	var out []Invitation
	err := s.db.WithContext(ctx).Where("patient_id = ?", patientID).Order("created_at DESC").Order("id DESC").Limit(limit).Find(&out).Error
	return out, err
}

// CountOpen counts the patient's pending invitations not yet expired at now.
func (s *Store) CountOpen(ctx context.Context, patientID string, now time.Time) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Invitation{}).
		Where("patient_id = ? AND status = ? AND expires_at > ?", patientID, InvitationPending, now).Count(&n).Error
	return n, err
}

// MarkAccepted spends a pending invitation; false when it was no longer
// pending (another accept or a withdrawal got there first).
func (s *Store) MarkAccepted(ctx context.Context, id, userID, linkID string, now time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Invitation{}).Where("id = ? AND status = ?", id, InvitationPending).
		Updates(map[string]any{"status": InvitationAccepted, "accepted_at": now, "accepted_by_user_id": userID, "link_id": linkID, "updated_at": now})
	return res.RowsAffected == 1, res.Error
}

// WithdrawInvitations withdraws the patient's pending invitations: the one
// with id, or all of them when id is "".
func (s *Store) WithdrawInvitations(ctx context.Context, patientID, id string, now time.Time) error {
	q := s.db.WithContext(ctx).Model(&Invitation{}).Where("patient_id = ? AND status = ?", patientID, InvitationPending)
	if id != "" {
		q = q.Where("id = ?", id)
	}
	return q.Updates(map[string]any{"status": InvitationWithdrawn, "withdrawn_at": now, "updated_at": now}).Error
}
