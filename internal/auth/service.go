package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/wx"
)

// WeChat is what login needs of the WeChat adapter.
type WeChat interface {
	Code2Session(ctx context.Context, code string) (wx.Session, error)
	PhoneNumber(ctx context.Context, code string) (string, error)
}

// Sealer encrypts sensitive fields and computes blind indexes.
type Sealer interface {
	Seal(plaintext string) (string, error)
	Index(value string) string
}

// Config tunes tokens, sessions and lockout.
type Config struct {
	TokenSecret      []byte
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	StaffSessionTTL  time.Duration
	StaffIdleTimeout time.Duration
	LockoutThreshold int
	LockoutDuration  time.Duration
	// SessionCacheTTL > 0 lets Authenticate trust a checked bearer session
	// that long, once ListenRevocations is subscribed.
	SessionCacheTTL time.Duration
}

// Service runs logins and checks credentials.
type Service struct {
	store     *Store
	wechat    WeChat
	sealer    Sealer
	cfg       Config
	signer    tokenSigner
	dummyHash func() string
	now       func() time.Time

	sessions    *sessionCache
	revocations Revocations
	log         *slog.Logger
}

// NewService builds the auth service. now is the clock (time.Now in production).
func NewService(store *Store, wechat WeChat, sealer Sealer, cfg Config, now func() time.Time) (*Service, error) {
	if len(cfg.TokenSecret) < 32 {
		return nil, errors.New("auth: token secret must be at least 32 bytes")
	}
	return &Service{
		store: store, wechat: wechat, sealer: sealer, cfg: cfg, now: now,
		signer: tokenSigner{key: cfg.TokenSecret, ttl: cfg.AccessTTL},
		// Compared against when a username does not exist, so that a missing
		// account takes as long to reject as a wrong password. Made at the
		// first such login, not at start-up: an argon2id hash is ~25 ms.
		dummyHash: sync.OnceValue(func() string { return HashPassword(randomSecret(16)) }),
		log:       slog.New(slog.DiscardHandler),
	}, nil
}

// Client describes where a login comes from, for the session record.
type Client struct {
	IP        string
	UserAgent string
}

// Tokens is what a mini-program login or refresh returns.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	SessionID        string
}

// WeChatLogin exchanges a wx.login code for our tokens, creating the user on
// first login. The session_key WeChat returns is never kept or returned.
func (s *Service) WeChatLogin(ctx context.Context, code string, client Client) (Tokens, User, bool, error) {
	sess, err := s.wechat.Code2Session(ctx, code)
	if err != nil {
		return Tokens{}, User{}, false, mapWeChatError(err, ErrCodeInvalid)
	}
	now := s.now().UTC()
	user, created, err := s.store.UpsertWeChatUser(ctx, sess.OpenID, sess.UnionID, now)
	if err != nil {
		return Tokens{}, User{}, false, err
	}
	if user.Status != StatusActive {
		return Tokens{}, User{}, false, apperr.New(apperr.KindForbidden, "account_deactivated", "该账号已注销")
	}
	tokens, err := s.startTokenSession(ctx, KindUser, user.ID, client, now)
	return tokens, user, created, err
}

func mapWeChatError(err error, invalid *apperr.Error) error {
	switch {
	case errors.Is(err, wx.ErrInvalidCode):
		return apperr.Wrap(invalid.Kind, invalid.Code, invalid.Message, err)
	case errors.Is(err, wx.ErrCodeUsed):
		return apperr.Wrap(ErrCodeUsed.Kind, ErrCodeUsed.Code, ErrCodeUsed.Message, err)
	case errors.Is(err, wx.ErrRateLimited):
		return apperr.Wrap(ErrWeChatRateLimit.Kind, ErrWeChatRateLimit.Code, ErrWeChatRateLimit.Message, err)
	case errors.Is(err, wx.ErrUserBlocked):
		return apperr.Wrap(ErrWeChatBlocked.Kind, ErrWeChatBlocked.Code, ErrWeChatBlocked.Message, err)
	case errors.Is(err, wx.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return apperr.Unavailable("wechat", err)
	default:
		return fmt.Errorf("wechat: %w", err)
	}
}

func (s *Service) startTokenSession(ctx context.Context, kind ActorKind, subject string, client Client, now time.Time) (Tokens, error) {
	sess := &Session{
		ID: database.NewID(), SubjectKind: kind, SubjectID: subject, Kind: SessionToken,
		IP: truncate(client.IP, 64), UserAgent: truncate(client.UserAgent, 255),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL),
	}
	refresh := randomSecret(32)
	rt := &RefreshToken{ID: database.NewID(), SessionID: sess.ID, TokenHash: hashSecret(refresh), ExpiresAt: now.Add(s.cfg.RefreshTTL), CreatedAt: now}
	if err := s.store.CreateSession(ctx, sess, rt); err != nil {
		return Tokens{}, err
	}
	return s.tokens(kind, subject, sess.ID, refresh, rt.ExpiresAt, now)
}

func (s *Service) tokens(kind ActorKind, subject, sessionID, refresh string, refreshExpires, now time.Time) (Tokens, error) {
	access, err := s.signer.issue(kind, subject, sessionID, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("sign access token: %w", err)
	}
	return Tokens{AccessToken: access, AccessExpiresAt: now.Add(s.cfg.AccessTTL), RefreshToken: refresh,
		RefreshExpiresAt: refreshExpires, SessionID: sessionID}, nil
}

// Refresh spends a refresh token and returns a new pair. A token presented a
// second time means it was stolen or replayed: the whole session is revoked.
func (s *Service) Refresh(ctx context.Context, refresh string) (Tokens, error) {
	now := s.now().UTC()
	next := randomSecret(32)
	hash := hashSecret(refresh)
	rt := &RefreshToken{ID: database.NewID(), TokenHash: hashSecret(next), ExpiresAt: now.Add(s.cfg.RefreshTTL), CreatedAt: now}
	sess, err := s.store.RotateRefresh(ctx, hash, rt, now)
	switch {
	case errors.Is(err, errReused):
		if sid, lookupErr := s.store.SessionOfRefresh(ctx, hash); lookupErr == nil {
			if err := s.store.RevokeSession(ctx, sid, "refresh_reuse", now); err != nil {
				return Tokens{}, err
			}
			s.forget(ctx, sid)
		}
		return Tokens{}, ErrRefreshReused
	case errors.Is(err, errNotFound):
		return Tokens{}, ErrRefreshInvalid
	case err != nil:
		return Tokens{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if err := s.checkSubjectActive(ctx, sess.SubjectKind, sess.SubjectID); err != nil {
		return Tokens{}, err
	}
	// The session's lifetime is not extended: a refresh chain ends when its first login's refresh TTL does.
	expires := rt.ExpiresAt
	if sess.ExpiresAt.Before(expires) {
		expires = sess.ExpiresAt
	}
	return s.tokens(sess.SubjectKind, sess.SubjectID, sess.ID, next, expires, now)
}

// Logout ends the actor's session: its access and refresh tokens, or its cookie.
func (s *Service) Logout(ctx context.Context, a Actor) error {
	if err := s.store.RevokeSession(ctx, a.SessionID, "logout", s.now().UTC()); err != nil {
		return err
	}
	s.forget(ctx, a.SessionID)
	return nil
}

// Authenticate checks a bearer access token and returns its actor. The
// session and account are read on every request, so a logout, a refresh-token
// reuse or a deleted account takes effect at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	now := s.now().UTC()
	verified := tokenKey(token)
	if e, ok := s.sessions.get(verified, now); ok {
		return e.actor, nil
	}
	claims, err := s.signer.verify(token, now)
	if err != nil {
		return Actor{}, err
	}
	if e, ok := s.sessions.get(claims.SessionID, now); ok && e.actor.ID == claims.Subject && e.actor.Kind == claims.Kind {
		s.sessions.putUntil(verified, cachedSession{actor: e.actor}, now, claims.ExpiresAt.Time)
		return e.actor, nil
	}
	sess, err := s.store.SessionByID(ctx, claims.SessionID)
	if errors.Is(err, errNotFound) {
		return Actor{}, ErrTokenInvalid
	}
	if err != nil {
		return Actor{}, fmt.Errorf("load session: %w", err)
	}
	if sess.RevokedAt != nil || sess.SubjectID != claims.Subject || sess.SubjectKind != claims.Kind || sess.Kind != SessionToken {
		return Actor{}, ErrTokenInvalid
	}
	a, err := s.actor(ctx, claims.Kind, claims.Subject, sess.ID)
	if err != nil {
		return Actor{}, err
	}
	s.sessions.put(sess.ID, cachedSession{actor: a}, now)
	s.sessions.putUntil(verified, cachedSession{actor: a}, now, claims.ExpiresAt.Time)
	return a, nil
}

func (s *Service) actor(ctx context.Context, kind ActorKind, id, sessionID string) (Actor, error) {
	switch kind {
	case KindUser:
		u, err := s.store.UserByID(ctx, id)
		if errors.Is(err, errNotFound) || err == nil && u.Status != StatusActive {
			return Actor{}, ErrTokenInvalid
		}
		if err != nil {
			return Actor{}, fmt.Errorf("load user: %w", err)
		}
		return Actor{Kind: KindUser, ID: u.ID, Role: RoleUser, SessionID: sessionID}, nil
	case KindStaff:
		st, err := s.store.StaffByID(ctx, id)
		if errors.Is(err, errNotFound) || err == nil && st.Status != StatusActive {
			return Actor{}, ErrTokenInvalid
		}
		if err != nil {
			return Actor{}, fmt.Errorf("load staff: %w", err)
		}
		return staffActor(st, sessionID), nil
	default:
		return Actor{}, ErrTokenInvalid
	}
}

func staffActor(st Staff, sessionID string) Actor {
	a := Actor{Kind: KindStaff, ID: st.ID, Role: st.Role, SessionID: sessionID, HospitalID: st.HospitalID, DisplayName: st.DisplayName}
	if st.DepartmentID != nil {
		a.DepartmentID = *st.DepartmentID
	}
	return a
}

func (s *Service) checkSubjectActive(ctx context.Context, kind ActorKind, id string) error {
	_, err := s.actor(ctx, kind, id, "")
	return err
}

// StaffSession is a new admin-page login: the cookie value and its CSRF token.
type StaffSession struct {
	Cookie    string
	CSRFToken string
	ExpiresAt time.Time
	Staff     Staff
}

// StaffLogin checks a username and password. After LockoutThreshold failures
// in a row the account is locked for LockoutDuration, whatever is typed.
func (s *Service) StaffLogin(ctx context.Context, username, password string, client Client) (StaffSession, error) {
	now := s.now().UTC()
	st, err := s.store.StaffByUsername(ctx, username)
	if errors.Is(err, errNotFound) {
		CheckPassword(s.dummyHash(), password)
		return StaffSession{}, ErrBadCredentials
	}
	if err != nil {
		return StaffSession{}, fmt.Errorf("load staff: %w", err)
	}
	if st.LockedUntil != nil && now.Before(*st.LockedUntil) {
		CheckPassword(s.dummyHash(), password)
		return StaffSession{}, lockedError(*st.LockedUntil, now)
	}
	if !CheckPassword(st.PasswordHash, password) || st.Status != StatusActive {
		failures, locked, err := s.store.RecordLoginFailure(ctx, st.ID, s.cfg.LockoutThreshold, s.cfg.LockoutDuration, now)
		if err != nil {
			return StaffSession{}, err
		}
		if locked {
			return StaffSession{}, lockedError(now.Add(s.cfg.LockoutDuration), now)
		}
		return StaffSession{}, ErrBadCredentials.WithDetail("remaining_attempts", s.cfg.LockoutThreshold-failures)
	}
	if err := s.store.RecordLoginSuccess(ctx, st.ID, now); err != nil {
		return StaffSession{}, err
	}
	cookie := randomSecret(32)
	hash := hashSecret(cookie)
	sess := &Session{
		ID: database.NewID(), SubjectKind: KindStaff, SubjectID: st.ID, Kind: SessionCookie,
		SecretHash: &hash, CSRFToken: randomSecret(24),
		IP: truncate(client.IP, 64), UserAgent: truncate(client.UserAgent, 255),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.StaffSessionTTL),
	}
	if err := s.store.CreateSession(ctx, sess, nil); err != nil {
		return StaffSession{}, err
	}
	return StaffSession{Cookie: cookie, CSRFToken: sess.CSRFToken, ExpiresAt: sess.ExpiresAt, Staff: st}, nil
}

func lockedError(until, now time.Time) error {
	minutes := int(until.Sub(now).Minutes()) + 1
	return apperr.New(apperr.KindRateLimited, "account_locked", fmt.Sprintf("登录失败次数过多，账号已锁定，请 %d 分钟后重试", minutes)).
		WithDetail("locked_until", until.Format(time.RFC3339))
}

// AuthenticateCookie checks an admin-page session cookie. It returns the
// actor and the session's CSRF token, which unsafe requests must echo.
// Sessions end after StaffSessionTTL, or after StaffIdleTimeout without use.
func (s *Service) AuthenticateCookie(ctx context.Context, cookie string) (Actor, string, error) {
	now := s.now().UTC()
	hash := hashSecret(cookie)
	key := cookieKey(hash)
	if e, ok := s.sessions.get(key, now); ok && now.Before(e.expiresAt) && now.Sub(e.lastSeen) <= s.cfg.StaffIdleTimeout {
		if err := s.touch(ctx, key, e.actor.SessionID, e.lastSeen, now); err != nil {
			return Actor{}, "", err
		}
		return e.actor, e.csrf, nil
	}
	sess, err := s.store.SessionBySecret(ctx, hash)
	if errors.Is(err, errNotFound) {
		return Actor{}, "", ErrTokenInvalid
	}
	if err != nil {
		return Actor{}, "", fmt.Errorf("load session: %w", err)
	}
	if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
		return Actor{}, "", ErrTokenExpired
	}
	if now.Sub(sess.LastSeenAt) > s.cfg.StaffIdleTimeout {
		_ = s.store.RevokeSession(ctx, sess.ID, "idle", now)
		s.forget(ctx, sess.ID)
		return Actor{}, "", ErrTokenExpired
	}
	a, err := s.actor(ctx, sess.SubjectKind, sess.SubjectID, sess.ID)
	if err != nil {
		return Actor{}, "", err
	}
	s.sessions.put(key, cachedSession{actor: a, csrf: sess.CSRFToken, expiresAt: sess.ExpiresAt, lastSeen: sess.LastSeenAt}, now)
	if err := s.touch(ctx, key, sess.ID, sess.LastSeenAt, now); err != nil {
		return Actor{}, "", err
	}
	return a, sess.CSRFToken, nil
}

// touch records use of a cookie session for the idle timeout. Writing
// last_seen_at on every request would make every read a write; a minute's
// resolution is plenty for an idle timeout of many minutes. (Each instance
// touches by its own last write, so the database's time is never older than
// a minute behind the newest use anywhere.)
func (s *Service) touch(ctx context.Context, key, sessionID string, lastSeen, now time.Time) error {
	if now.Sub(lastSeen) <= time.Minute {
		return nil
	}
	if err := s.store.TouchSession(ctx, sessionID, now); err != nil {
		return err
	}
	s.sessions.seen(key, now)
	return nil
}

// BindPhone resolves a getPhoneNumber code and stores the phone on the user,
// encrypted, with its blind index. It returns the index so patient records
// created before the first login can be matched.
func (s *Service) BindPhone(ctx context.Context, a Actor, code string) (string, error) {
	if a.Kind != KindUser {
		return "", ErrUserOnly
	}
	phone, err := s.wechat.PhoneNumber(ctx, code)
	if err != nil {
		return "", mapWeChatError(err, ErrPhoneCodeInvalid)
	}
	sealed, err := s.sealer.Seal(phone)
	if err != nil {
		return "", fmt.Errorf("seal phone: %w", err)
	}
	index := s.sealer.Index(phone)
	if err := s.store.SetUserPhone(ctx, a.ID, sealed, index); err != nil {
		return "", fmt.Errorf("store phone: %w", err)
	}
	return index, nil
}

// CreateStaff adds a staff account with a hashed password.
func (s *Service) CreateStaff(ctx context.Context, st *Staff, password string) error {
	if !ValidStaffRole(st.Role) {
		return apperr.Invalid("role", "invalid_role", "角色必须是 cm、lead 或 admin")
	}
	if len([]rune(password)) < 10 {
		return apperr.Invalid("password", "weak_password", "密码至少 10 个字符")
	}
	now := s.now().UTC()
	if st.ID == "" {
		st.ID = database.NewID()
	}
	st.PasswordHash = HashPassword(password)
	st.Status = StatusActive
	st.CreatedAt, st.UpdatedAt = now, now
	return s.store.CreateStaff(ctx, st)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// TaskPurgeExpired is the periodic task that deletes spent refresh tokens
// and sessions long past their end.
const TaskPurgeExpired = "auth:purge_expired"

// PurgeExpired deletes refresh tokens and sessions that ended over a day
// ago; they can no longer be used or replayed, and keeping them serves no one.
func (s *Service) PurgeExpired(ctx context.Context) (int64, error) {
	return s.store.PurgeExpired(ctx, s.now().UTC().Add(-24*time.Hour))
}

// StaffAccounts lists the accounts of the administrator's hospital.
func (s *Service) StaffAccounts(ctx context.Context, a Actor) ([]Staff, error) {
	return s.store.ListStaff(ctx, a.HospitalID)
}

// DisableStaff disables an account of the administrator's hospital and ends
// its sessions at once. An administrator cannot disable their own account.
func (s *Service) DisableStaff(ctx context.Context, a Actor, id string) error {
	if id == a.ID {
		return apperr.New(apperr.KindUnprocessable, "cannot_disable_self", "不能停用自己的账号")
	}
	if err := s.store.DisableStaff(ctx, a.HospitalID, id, s.now().UTC()); err != nil {
		return err
	}
	s.SessionsEnded(ctx, KindStaff, id)
	return nil
}
