// Package org holds the organisation a deployment serves: hospitals and
// their departments. It has no HTTP surface yet; staff and patients point at it.
package org

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
)

// Hospital is one hospital (a deployment may serve several).
type Hospital struct {
	ID        string
	Code      string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (Hospital) TableName() string { return "hospitals" }

// Department is a clinical department of a hospital.
type Department struct {
	ID         string
	HospitalID string
	Code       string
	Name       string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (Department) TableName() string { return "departments" }

// Store reads and writes hospitals and departments.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// EnsureHospital returns the hospital with code, creating it if missing.
func (s *Store) EnsureHospital(ctx context.Context, code, name string) (Hospital, error) {
	var h Hospital
	err := s.db.WithContext(ctx).Where("code = ?", code).Take(&h).Error
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return Hospital{}, fmt.Errorf("find hospital %s: %w", code, err)
	}
	h = Hospital{ID: database.NewID(), Code: code, Name: name}
	if err := s.db.WithContext(ctx).Create(&h).Error; err != nil {
		return Hospital{}, fmt.Errorf("create hospital %s: %w", code, err)
	}
	return h, nil
}

// EnsureDepartment returns the department with code in the hospital, creating it if missing.
func (s *Store) EnsureDepartment(ctx context.Context, hospitalID, code, name string) (Department, error) {
	var d Department
	err := s.db.WithContext(ctx).Where("hospital_id = ? AND code = ?", hospitalID, code).Take(&d).Error
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return Department{}, fmt.Errorf("find department %s: %w", code, err)
	}
	d = Department{ID: database.NewID(), HospitalID: hospitalID, Code: code, Name: name}
	if err := s.db.WithContext(ctx).Create(&d).Error; err != nil {
		return Department{}, fmt.Errorf("create department %s: %w", code, err)
	}
	return d, nil
}

// Department returns a department by id.
func (s *Store) Department(ctx context.Context, id string) (Department, error) {
	var d Department
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Department{}, apperr.NotFound("科室")
	}
	return d, err
}

// CountHospitals reports how many hospitals exist (0 means an empty database).
func (s *Store) CountHospitals(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Hospital{}).Count(&n).Error
	return n, err
}
