package consent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/database"
)

// Links stops sharing with family members when the consent that covered it
// is withdrawn (the family feature). It runs inside tx, the transaction that
// records the withdrawal; linkID "" means every relative of the patient.
type Links interface {
	StopSharing(ctx context.Context, tx *gorm.DB, patientID, linkID string, w Withdrawal) error
}

// Config names the versions of the texts in force.
type Config struct {
	PrivacyPolicyVersion string
	HealthDataVersion    string
}

// Service records, lists and withdraws consents.
type Service struct {
	db    *gorm.DB
	store *Store
	links Links
	cfg   Config
	now   func() time.Time
}

// NewService builds the service; SetLinks must be called before a
// withdrawal (app wires the family feature in, which itself needs this service).
func NewService(db *gorm.DB, cfg Config, now func() time.Time) *Service {
	return &Service{db: db, store: NewStore(db), cfg: cfg, now: now}
}

// SetLinks wires the family feature in.
func (s *Service) SetLinks(l Links) { s.links = l }

// AcceptPrivacyPolicy records that the user accepted version, which must be
// the one in force. Accepting it again returns the first record (created false).
func (s *Service) AcceptPrivacyPolicy(ctx context.Context, a auth.Actor, version string) (Consent, bool, error) {
	if a.Kind != auth.KindUser {
		return Consent{}, false, auth.ErrUserOnly
	}
	if version != s.cfg.PrivacyPolicyVersion {
		return Consent{}, false, versionOutdated(s.cfg.PrivacyPolicyVersion)
	}
	if c, ok, err := s.store.PrivacyPolicy(ctx, a.ID, version); err != nil || ok {
		return c, false, err
	}
	now := s.now().UTC()
	c := Consent{ID: database.NewID(), Kind: KindPrivacyPolicy, UserID: &a.ID, Version: version,
		GivenBy: GivenByUser, Method: MethodInApp, RecordedByKind: string(a.Kind), RecordedByID: a.ID, GrantedAt: now}
	return c, true, s.store.Create(ctx, &c)
}

// PrivacyPolicyAccepted reports whether the user accepted the version in force.
func (s *Service) PrivacyPolicyAccepted(ctx context.Context, userID string) (bool, error) {
	_, ok, err := s.store.PrivacyPolicy(ctx, userID, s.cfg.PrivacyPolicyVersion)
	return ok, err
}

// OfUser lists the user's own consent records.
func (s *Service) OfUser(ctx context.Context, userID string) ([]Consent, error) {
	return s.store.ForUser(ctx, userID)
}

// OfPatient lists the patient's consent records.
func (s *Service) OfPatient(ctx context.Context, patientID string) ([]Consent, error) {
	return s.store.ForPatient(ctx, patientID)
}

// HealthDataActive reports whether the patient's health-data consent is in
// force. Features that process health data on consent alone ask it.
func (s *Service) HealthDataActive(ctx context.Context, patientID string) (bool, error) {
	_, ok, err := s.store.ActiveHealthData(ctx, patientID)
	return ok, err
}

// GrantHealthData records the patient's separate consent to processing
// their health data, given in the app or recorded by staff. A consent to the
// same version already in force is returned as is (created false); one to
// an older version is superseded.
func (s *Service) GrantHealthData(ctx context.Context, a auth.Actor, patientID, version string, in EvidenceInput) (Consent, bool, error) {
	if version != s.cfg.HealthDataVersion {
		return Consent{}, false, versionOutdated(s.cfg.HealthDataVersion)
	}
	now := s.now().UTC()
	ev, err := EvidenceFor(a, in, now)
	if err != nil {
		return Consent{}, false, err
	}
	var out Consent
	created := false
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		store := s.store.WithTx(tx)
		current, ok, err := store.ActiveHealthData(ctx, patientID)
		if err != nil {
			return err
		}
		if ok && current.Version == version {
			out = current
			return nil
		}
		if ok {
			if err := store.Withdraw(ctx, current.ID, Withdrawal{At: now, Reason: ReasonSuperseded, Method: ev.Method, ByKind: ev.RecordedByKind, ByID: ev.RecordedByID}); err != nil {
				return err
			}
		}
		out = newPatientConsent(KindHealthData, patientID, version, ev)
		created = true
		return store.Create(ctx, &out)
	})
	if err != nil {
		return Consent{}, false, fmt.Errorf("grant health-data consent: %w", err)
	}
	return out, created, nil
}

func newPatientConsent(kind, patientID, version string, ev Evidence) Consent {
	return Consent{ID: database.NewID(), Kind: kind, PatientID: &patientID, Version: version,
		GivenBy: ev.GivenBy, Method: ev.Method, RecordedByKind: ev.RecordedByKind, RecordedByID: ev.RecordedByID, GrantedAt: ev.At}
}

// GrantSharing records the patient's consent to share with one relative,
// inside tx (the family feature's transaction).
func (s *Service) GrantSharing(ctx context.Context, tx *gorm.DB, g SharingGrant) error {
	c := newPatientConsent(KindFamilySharing, g.PatientID, s.cfg.HealthDataVersion, g.Evidence)
	c.FamilyLinkID, c.Relationship, c.Scopes = &g.LinkID, g.Relationship, access.FormatScopes(g.Scopes)
	return s.store.WithTx(tx).Create(ctx, &c)
}

// WithdrawSharing closes the sharing consents of the given links inside tx.
func (s *Service) WithdrawSharing(ctx context.Context, tx *gorm.DB, linkIDs []string, w Withdrawal) error {
	return s.store.WithTx(tx).WithdrawSharing(ctx, linkIDs, w)
}

// Withdraw withdraws one of the patient's consents, with what it covered:
// a sharing consent revokes that relative's link; the health-data consent
// revokes every relative's link and pending invitation (see the package doc).
func (s *Service) Withdraw(ctx context.Context, a auth.Actor, patientID, id, method string) (Consent, error) {
	now := s.now().UTC()
	c, err := s.store.ByID(ctx, patientID, id)
	if err != nil {
		return Consent{}, err
	}
	if c.Kind == KindPrivacyPolicy {
		return Consent{}, ErrNotWithdrawable
	}
	if !c.Active() {
		return Consent{}, ErrAlreadyWithdrawn
	}
	w, err := WithdrawalBy(a, method, ReasonWithdrawn, now)
	if err != nil {
		return Consent{}, err
	}
	if s.links == nil {
		return Consent{}, errors.New("consent: family links not wired")
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		switch c.Kind {
		case KindFamilySharing:
			// The family feature revokes the link and closes its sharing consents, this one included.
			if c.FamilyLinkID == nil {
				return s.store.WithTx(tx).Withdraw(ctx, c.ID, w)
			}
			return s.links.StopSharing(ctx, tx, patientID, *c.FamilyLinkID, w)
		default:
			if err := s.store.WithTx(tx).Withdraw(ctx, c.ID, w); err != nil {
				return err
			}
			covered := w
			covered.Reason = ReasonHealthDataWithdrawn
			return s.links.StopSharing(ctx, tx, patientID, "", covered)
		}
	})
	if err != nil {
		return Consent{}, fmt.Errorf("withdraw %s consent: %w", c.Kind, err)
	}
	return s.store.ByID(ctx, patientID, id)
}
