package family

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/consent"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/ratelimit"
)

// Patients is what family needs of patient records.
type Patients interface {
	Profile(ctx context.Context, id string) (patient.Profile, error)
	UserIDOf(ctx context.Context, id string) (string, error)
}

// Consents is what family needs of the consent feature: the checks before
// sharing starts, and the sharing consents written in family's transactions.
type Consents interface {
	HealthDataActive(ctx context.Context, patientID string) (bool, error)
	PrivacyPolicyAccepted(ctx context.Context, userID string) (bool, error)
	GrantSharing(ctx context.Context, tx *gorm.DB, g consent.SharingGrant) error
	WithdrawSharing(ctx context.Context, tx *gorm.DB, linkIDs []string, w consent.Withdrawal) error
}

// StaffDirectory names the CM who issued an invitation.
type StaffDirectory interface {
	StaffByID(ctx context.Context, id string) (auth.Staff, error)
}

// Limiter counts invitation-code attempts (Redis, shared by every instance).
type Limiter interface {
	Allow(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Result, error)
}

// Config tunes invitations.
type Config struct {
	InvitationTTL   time.Duration
	AttemptsPerUser int
	AttemptsPerIP   int
	AttemptWindow   time.Duration
}

// maxOpenInvitations bounds a patient's unanswered invitations: each is a
// live way in, and a patient needs a handful at most.
const maxOpenInvitations = 10

// Service runs invitations, links, scope changes and revocations.
type Service struct {
	db       *gorm.DB
	store    *Store
	patients Patients
	consents Consents
	staff    StaffDirectory
	limiter  Limiter
	cfg      Config
	now      func() time.Time
}

// NewService builds the service.
func NewService(db *gorm.DB, patients Patients, consents Consents, staff StaffDirectory, limiter Limiter, cfg Config, now func() time.Time) *Service {
	return &Service{db: db, store: NewStore(db), patients: patients, consents: consents, staff: staff, limiter: limiter, cfg: cfg, now: now}
}

// Store returns the store.
func (s *Service) Store() *Store { return s.store }

// NewInvitation is what an invitation offers. A CM issuing one for a patient
// who cannot use the phone fills Consent with how the patient agreed.
type NewInvitation struct {
	Relationship string
	Scopes       []string
	Consent      consent.EvidenceInput
}

// Issued is a new invitation with its code, shown this once.
type Issued struct {
	Invitation Invitation
	Code       string
}

// Invite issues a one-time invitation for the patient: by the patient in
// the app, or by staff recording the patient's consent (who, how, when).
// Sharing needs the patient's health-data consent in force.
func (s *Service) Invite(ctx context.Context, a auth.Actor, patientID string, in NewInvitation) (Issued, error) {
	rel, err := CheckRelationship(in.Relationship)
	if err != nil {
		return Issued{}, err
	}
	scopes, err := ParseScopes(in.Scopes)
	if err != nil {
		return Issued{}, err
	}
	now := s.now().UTC()
	ev, err := consent.EvidenceFor(a, in.Consent, now)
	if err != nil {
		return Issued{}, err
	}
	if ok, err := s.consents.HealthDataActive(ctx, patientID); err != nil || !ok {
		return Issued{}, orErr(err, ErrHealthDataConsentRequired)
	}
	if n, err := s.store.CountOpen(ctx, patientID, now); err != nil || n >= maxOpenInvitations {
		return Issued{}, orErr(err, ErrTooManyInvitations)
	}
	code := NewCode()
	inv := Invitation{
		ID: database.NewID(), PatientID: patientID, Status: InvitationPending, CodeHash: HashCode(code),
		Relationship: rel, Scopes: access.FormatScopes(scopes), IssuedByKind: string(a.Kind), IssuedByID: a.ID,
		ConsentGivenBy: ev.GivenBy, ConsentMethod: ev.Method, ConsentGivenAt: ev.At,
		ExpiresAt: now.Add(s.cfg.InvitationTTL), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateInvitation(ctx, &inv); err != nil {
		return Issued{}, err
	}
	return Issued{Invitation: inv, Code: code}, nil
}

// orErr returns err when there is one, else the rule's error.
func orErr(err error, rule error) error {
	if err != nil {
		return err
	}
	return rule
}

// Invitations lists the patient's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, patientID string) ([]Invitation, error) {
	return s.store.Invitations(ctx, patientID, 100)
}

// WithdrawInvitation withdraws a pending (or expired) invitation; doing it
// again is harmless. An accepted one is a link now: revoke that instead.
func (s *Service) WithdrawInvitation(ctx context.Context, patientID, id string) (Invitation, error) {
	inv, err := s.store.Invitation(ctx, patientID, id)
	if err != nil {
		return Invitation{}, err
	}
	switch inv.Status {
	case InvitationAccepted:
		return Invitation{}, ErrNotPending
	case InvitationPending:
		if err := s.store.WithdrawInvitations(ctx, patientID, id, s.now().UTC()); err != nil {
			return Invitation{}, fmt.Errorf("withdraw invitation %s: %w", id, err)
		}
	}
	return s.store.Invitation(ctx, patientID, id)
}

// Attempt names the invitation a code led to, for the audit log; never the code.
type Attempt struct {
	InvitationID string
	PatientID    string
}

// open checks the caller and their rate limits, then finds the invitation
// the code names. Every call counts against the limits, found or not.
func (s *Service) open(ctx context.Context, a auth.Actor, ip, raw string) (Invitation, Attempt, error) {
	if a.Kind != auth.KindUser {
		return Invitation{}, Attempt{}, auth.ErrUserOnly
	}
	if err := s.limit(ctx, a.ID, ip); err != nil {
		return Invitation{}, Attempt{}, err
	}
	code, ok := NormalizeCode(raw)
	if !ok {
		return Invitation{}, Attempt{}, ErrInvitationNotFound
	}
	inv, err := s.store.InvitationByCode(ctx, code)
	if err != nil {
		return Invitation{}, Attempt{}, err
	}
	return inv, Attempt{InvitationID: inv.ID, PatientID: inv.PatientID}, nil
}

func (s *Service) limit(ctx context.Context, userID, ip string) error {
	checks := []struct {
		rule ratelimit.Rule
		key  string
	}{
		{ratelimit.Rule{Name: "family_code:user", Limit: s.cfg.AttemptsPerUser, Window: s.cfg.AttemptWindow}, userID},
		{ratelimit.Rule{Name: "family_code:ip", Limit: s.cfg.AttemptsPerIP, Window: s.cfg.AttemptWindow}, ip},
	}
	var wait time.Duration
	denied := false
	for _, c := range checks {
		r, err := s.limiter.Allow(ctx, c.rule, c.key)
		if err != nil {
			// Fail closed: without the counter, guessing would be unlimited.
			return apperr.Unavailable("redis", err)
		}
		if !r.Allowed {
			denied, wait = true, max(wait, r.RetryAfter)
		}
	}
	if denied {
		return rateLimited(wait)
	}
	return nil
}

// Preview is what the holder of a code sees before accepting: who invites
// them and what they would see, and no health data.
type Preview struct {
	Invitation  Invitation
	PatientName string // masked
	IssuerName  string // the CM's name when a CM issued it
}

// Preview shows an open invitation to a logged-in WeChat user.
func (s *Service) Preview(ctx context.Context, a auth.Actor, ip, code string) (Preview, Attempt, error) {
	inv, att, err := s.open(ctx, a, ip, code)
	if err == nil {
		err = inv.CheckOpen(a.ID, s.now().UTC())
	}
	if err != nil {
		return Preview{}, att, err
	}
	pr, err := s.patients.Profile(ctx, inv.PatientID)
	if err != nil {
		return Preview{}, att, err
	}
	p := Preview{Invitation: inv, PatientName: MaskName(pr.Name)}
	if inv.IssuedByKind == string(auth.KindStaff) {
		st, err := s.staff.StaffByID(ctx, inv.IssuedByID)
		if err != nil {
			return Preview{}, att, err
		}
		p.IssuerName = st.DisplayName
	}
	return p, att, nil
}

// Accepted is a new link with the name of the relative it opens.
type Accepted struct {
	Link        Link
	PatientName string
}

// Accept turns an open invitation into a link for the caller, with the
// patient's sharing consent recorded in the same transaction.
func (s *Service) Accept(ctx context.Context, a auth.Actor, ip, code string) (Accepted, Attempt, error) {
	inv, att, err := s.open(ctx, a, ip, code)
	if err != nil {
		return Accepted{}, att, err
	}
	link, err := s.accept(ctx, a, inv)
	if err != nil {
		return Accepted{}, att, err
	}
	pr, err := s.patients.Profile(ctx, inv.PatientID)
	if err != nil {
		return Accepted{}, att, err
	}
	return Accepted{Link: link, PatientName: pr.Name}, att, nil
}

func (s *Service) accept(ctx context.Context, a auth.Actor, inv Invitation) (Link, error) {
	now := s.now().UTC()
	owner, err := s.patients.UserIDOf(ctx, inv.PatientID)
	if err != nil {
		return Link{}, err
	}
	if err := inv.CheckAccept(owner, a.ID, now); err != nil {
		return Link{}, err
	}
	if ok, err := s.consents.PrivacyPolicyAccepted(ctx, a.ID); err != nil || !ok {
		return Link{}, orErr(err, ErrPrivacyPolicyRequired)
	}
	if _, linked, err := s.store.ActiveLink(ctx, inv.PatientID, a.ID); err != nil || linked {
		return Link{}, orErr(err, ErrLinkExists)
	}
	scopes := access.ParseScopes(inv.Scopes)
	link := NewLink(database.NewID(), inv.PatientID, a.ID, inv.Relationship, scopes, now)
	link.InvitationID = &inv.ID
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st := s.store.WithTx(tx)
		won, err := st.MarkAccepted(ctx, inv.ID, a.ID, link.ID, now)
		if err != nil {
			return err
		}
		if !won { // someone else answered it between our read and this write
			cur, err := st.Invitation(ctx, inv.PatientID, inv.ID)
			if err != nil {
				return err
			}
			return orErr(cur.CheckOpen(a.ID, now), ErrUsed)
		}
		if err := st.CreateLink(ctx, &link); err != nil {
			return err
		}
		return s.consents.GrantSharing(ctx, tx, consent.SharingGrant{
			PatientID: inv.PatientID, LinkID: link.ID, Relationship: inv.Relationship, Scopes: scopes,
			Evidence: consent.Evidence{GivenBy: inv.ConsentGivenBy, Method: inv.ConsentMethod, At: inv.ConsentGivenAt,
				RecordedByKind: inv.IssuedByKind, RecordedByID: inv.IssuedByID},
		})
	})
	if err != nil {
		return Link{}, fmt.Errorf("accept invitation %s: %w", inv.ID, err)
	}
	return link, nil
}

// Members lists the patient's active family links.
func (s *Service) Members(ctx context.Context, patientID string) ([]Link, error) {
	return s.store.ActiveLinks(ctx, patientID)
}

// ChangeScopes sets what a relative may see from the next request on. The
// patient's sharing consent is superseded by one for the new scopes.
func (s *Service) ChangeScopes(ctx context.Context, a auth.Actor, patientID, linkID string, names []string) (Link, error) {
	scopes, err := ParseScopes(names)
	if err != nil {
		return Link{}, err
	}
	l, err := s.activeLink(ctx, patientID, linkID)
	if err != nil {
		return Link{}, err
	}
	if slices.Equal(access.ParseScopes(l.Scopes), scopes) {
		return l, nil
	}
	now := s.now().UTC()
	ev, err := consent.EvidenceFor(a, consent.EvidenceInput{}, now)
	if err != nil {
		return Link{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		changed, err := s.store.WithTx(tx).SetScopes(ctx, l.ID, scopes, now)
		if err != nil || !changed {
			return orErr(err, ErrLinkNotFound)
		}
		superseded := consent.Withdrawal{At: now, Reason: consent.ReasonSuperseded, Method: ev.Method, ByKind: ev.RecordedByKind, ByID: ev.RecordedByID}
		if err := s.consents.WithdrawSharing(ctx, tx, []string{l.ID}, superseded); err != nil {
			return err
		}
		if err := s.consents.GrantSharing(ctx, tx, consent.SharingGrant{PatientID: patientID, LinkID: l.ID, Relationship: l.Relationship, Scopes: scopes, Evidence: ev}); err != nil {
			return err
		}
		return emit(tx, TaskLinkScopesChanged, LinkEvent{LinkID: l.ID, PatientID: patientID, UserID: l.UserID, Scopes: scopeNames(scopes), At: now})
	})
	if err != nil {
		return Link{}, fmt.Errorf("change scopes of link %s: %w", l.ID, err)
	}
	return s.store.Link(ctx, patientID, linkID)
}

func (s *Service) activeLink(ctx context.Context, patientID, linkID string) (Link, error) {
	l, err := s.store.Link(ctx, patientID, linkID)
	if err == nil && l.Status != StatusActive {
		err = ErrLinkNotFound
	}
	return l, err
}

// Revoke ends a link at the patient's request: from the next request on
// the relative sees nothing, and their live connections are closed.
// Revoking a revoked link changes nothing.
func (s *Service) Revoke(ctx context.Context, a auth.Actor, patientID, linkID string) (Link, error) {
	l, err := s.store.Link(ctx, patientID, linkID)
	if err != nil || l.Status != StatusActive {
		return l, err
	}
	w, err := consent.WithdrawalBy(a, "", consent.ReasonLinkRevoked, s.now().UTC())
	if err != nil {
		return Link{}, err
	}
	if err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return s.revoke(ctx, tx, []Link{l}, w)
	}); err != nil {
		return Link{}, fmt.Errorf("revoke link %s: %w", l.ID, err)
	}
	return s.store.Link(ctx, patientID, linkID)
}

// StopSharing ends sharing covered by a withdrawn consent, inside tx (the
// consent feature's transaction): one relative's link, or with linkID ""
// every link of the patient and every pending invitation.
func (s *Service) StopSharing(ctx context.Context, tx *gorm.DB, patientID, linkID string, w consent.Withdrawal) error {
	st := s.store.WithTx(tx)
	if linkID == "" {
		if err := st.WithdrawInvitations(ctx, patientID, "", w.At); err != nil {
			return err
		}
		links, err := st.ActiveLinks(ctx, patientID)
		if err != nil {
			return err
		}
		return s.revoke(ctx, tx, links, w)
	}
	l, err := st.Link(ctx, patientID, linkID)
	if err != nil {
		return err
	}
	if l.Status != StatusActive { // already ended: close the consent that outlived it
		return s.consents.WithdrawSharing(ctx, tx, []string{linkID}, w)
	}
	return s.revoke(ctx, tx, []Link{l}, w)
}

// revoke ends links, closes their sharing consents and tells the realtime
// layer, all in tx.
func (s *Service) revoke(ctx context.Context, tx *gorm.DB, links []Link, w consent.Withdrawal) error {
	ids := make([]string, len(links))
	for i, l := range links {
		ids[i] = l.ID
	}
	if err := s.store.WithTx(tx).RevokeLinks(ctx, ids, w); err != nil {
		return err
	}
	if err := s.consents.WithdrawSharing(ctx, tx, ids, w); err != nil {
		return err
	}
	for _, l := range links {
		if err := emit(tx, TaskLinkRevoked, LinkEvent{LinkID: l.ID, PatientID: l.PatientID, UserID: l.UserID, Reason: w.Reason, At: w.At}); err != nil {
			return err
		}
	}
	return nil
}

// EndAccount ends everything a deactivated account shares, inside tx (the
// deactivation's transaction): its links as a relative, and, for each
// patient record the account is, every link and pending invitation of that
// patient. Each revoked link writes family.link_revoked, so the relatives'
// open connections close. It returns how many links and invitations ended.
func (s *Service) EndAccount(ctx context.Context, tx *gorm.DB, userID string, patientIDs []string, w consent.Withdrawal) (int, int, error) {
	st := s.store.WithTx(tx)
	var links []Link
	q := tx.WithContext(ctx).Where("status = ?", StatusActive)
	if len(patientIDs) > 0 {
		q = q.Where("user_id = ? OR patient_id IN ?", userID, patientIDs)
	} else {
		q = q.Where("user_id = ?", userID)
	}
	if err := q.Find(&links).Error; err != nil {
		return 0, 0, fmt.Errorf("links of account: %w", err)
	}
	invitations := 0
	for _, pid := range patientIDs {
		n, err := st.CountOpen(ctx, pid, time.Time{})
		if err != nil {
			return 0, 0, err
		}
		if err := st.WithdrawInvitations(ctx, pid, "", w.At); err != nil {
			return 0, 0, err
		}
		invitations += int(n)
	}
	if err := s.revoke(ctx, tx, links, w); err != nil {
		return 0, 0, err
	}
	return len(links), invitations, nil
}
