// Package family holds the links between a patient and the relatives they
// let in, each with the scopes the patient granted. The access policy reads
// the same table on every request, so a revoked link stops at once.
package family

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
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
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RevokedAt    *time.Time
}

func (Link) TableName() string { return "family_links" }

// Store reads and writes family links.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Create adds an active link; one active link per patient and user.
func (s *Store) Create(ctx context.Context, patientID, userID, relationship string, scopes []access.Scope) (Link, error) {
	for _, sc := range scopes {
		if !access.ValidScope(sc) {
			return Link{}, apperr.Invalid("scopes", "invalid_scope", fmt.Sprintf("未知的授权范围 %s", sc))
		}
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&Link{}).
		Where("patient_id = ? AND user_id = ? AND status = ?", patientID, userID, StatusActive).Count(&n).Error; err != nil {
		return Link{}, err
	}
	if n > 0 {
		return Link{}, apperr.New(apperr.KindConflict, "family_link_exists", "该家属已关联此患者")
	}
	l := Link{ID: database.NewID(), PatientID: patientID, UserID: userID, Relationship: relationship,
		Scopes: access.FormatScopes(scopes), Status: StatusActive}
	if err := s.db.WithContext(ctx).Create(&l).Error; err != nil {
		return Link{}, fmt.Errorf("create family link: %w", err)
	}
	return l, nil
}

// Revoke ends a link.
func (s *Store) Revoke(ctx context.Context, linkID string, now time.Time) error {
	return s.db.WithContext(ctx).Model(&Link{}).Where("id = ? AND status = ?", linkID, StatusActive).
		Updates(map[string]any{"status": StatusRevoked, "revoked_at": now}).Error
}

// ActiveLinksOf lists the relatives a user follows.
func (s *Store) ActiveLinksOf(ctx context.Context, userID string) ([]patient.Link, error) {
	var links []Link
	if err := s.db.WithContext(ctx).Where("user_id = ? AND status = ?", userID, StatusActive).
		Order("created_at").Find(&links).Error; err != nil {
		return nil, fmt.Errorf("list family links: %w", err)
	}
	out := make([]patient.Link, 0, len(links))
	for _, l := range links {
		scopes := access.ParseScopes(l.Scopes)
		names := make([]string, len(scopes))
		for i, s := range scopes {
			names[i] = string(s)
		}
		out = append(out, patient.Link{PatientID: l.PatientID, Relationship: l.Relationship, Scopes: names})
	}
	return out, nil
}
