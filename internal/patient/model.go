// Package patient owns patient records: identity (encrypted at rest), the
// hospital and department they belong to, their case manager and risk level,
// and the link to their WeChat user. It also answers "who am I" (GET /me).
package patient

import (
	"time"
)

// Risk levels set follow-up frequency.
const (
	RiskLow    = "low"
	RiskMedium = "medium"
	RiskHigh   = "high"
)

// Statuses of a patient record.
const (
	StatusActive = "active" // under case management
	StatusClosed = "closed" // case closed; record kept
)

// Patient is a patient record. Name, phone and ID number are sealed
// (AES-GCM); phone and ID number also carry a blind index for lookup.
type Patient struct {
	ID            string
	HospitalID    string
	DepartmentID  string
	UserID        *string
	MRN           string `gorm:"column:mrn"`
	NameEnc       string
	PhoneEnc      string
	PhoneIndex    *string
	IDNumberEnc   string  `gorm:"column:id_number_enc"`
	IDNumberIndex *string `gorm:"column:id_number_index"`
	Gender        string
	BirthDate     *time.Time
	Bed           string
	AssignedCMID  *string `gorm:"column:assigned_cm_id"`
	CoveringCMID  *string `gorm:"column:covering_cm_id"`
	RiskLevel     string
	Status        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (Patient) TableName() string { return "patients" }
