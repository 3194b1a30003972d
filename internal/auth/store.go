package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/database"
)

// Store reads and writes accounts, sessions and refresh tokens.
type Store struct {
	db *gorm.DB
}

// NewStore returns a Store over db.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

var errNotFound = errors.New("not found")

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return errNotFound
	}
	return err
}

// UpsertWeChatUser finds the user by openid or creates one; unionid is kept
// when WeChat sends it. A concurrent first login of the same openid is settled
// by the unique index: the loser reads the winner's row.
func (s *Store) UpsertWeChatUser(ctx context.Context, openID, unionID string, now time.Time) (User, bool, error) {
	db := s.db.WithContext(ctx)
	var u User
	err := db.Where("open_id = ?", openID).Take(&u).Error
	if err == nil {
		updates := map[string]any{"last_login_at": now}
		if unionID != "" && (u.UnionID == nil || *u.UnionID != unionID) {
			updates["union_id"] = unionID
			u.UnionID = &unionID
		}
		if err := db.Model(&User{}).Where("id = ?", u.ID).Updates(updates).Error; err != nil {
			return User{}, false, fmt.Errorf("update user %s: %w", u.ID, err)
		}
		u.LastLoginAt = &now
		return u, false, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, false, fmt.Errorf("find user by openid: %w", err)
	}
	u = User{ID: database.NewID(), OpenID: &openID, Status: StatusActive, LastLoginAt: &now}
	if unionID != "" {
		u.UnionID = &unionID
	}
	if err := db.Create(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			var existing User
			if err := db.Where("open_id = ?", openID).Take(&existing).Error; err != nil {
				return User{}, false, fmt.Errorf("re-read user after race: %w", err)
			}
			return existing, false, nil
		}
		return User{}, false, fmt.Errorf("create user: %w", err)
	}
	return u, true, nil
}

// UserByID returns the user; errNotFound when missing.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	return u, notFound(err)
}

// SetUserPhone stores the encrypted phone and its blind index.
func (s *Store) SetUserPhone(ctx context.Context, userID, phoneEnc, phoneIndex string) error {
	return s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).
		Updates(map[string]any{"phone_enc": phoneEnc, "phone_index": phoneIndex}).Error
}

// StaffByUsername returns the staff account; errNotFound when missing.
func (s *Store) StaffByUsername(ctx context.Context, username string) (Staff, error) {
	var st Staff
	err := s.db.WithContext(ctx).Where("username = ?", username).Take(&st).Error
	return st, notFound(err)
}

// StaffByID returns the staff account; errNotFound when missing.
func (s *Store) StaffByID(ctx context.Context, id string) (Staff, error) {
	var st Staff
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&st).Error
	return st, notFound(err)
}

// CreateStaff inserts a staff account; a taken username is a conflict.
func (s *Store) CreateStaff(ctx context.Context, st *Staff) error {
	if err := s.db.WithContext(ctx).Create(st).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return apperr.New(apperr.KindConflict, "username_taken", "用户名已被使用")
		}
		return fmt.Errorf("create staff: %w", err)
	}
	return nil
}

// RecordLoginFailure counts a failed password and locks the account when the
// count reaches threshold. The increment is done in SQL so concurrent
// attempts cannot undercount. It returns the failures so far and whether the
// account is now locked.
func (s *Store) RecordLoginFailure(ctx context.Context, staffID string, threshold int, lockFor time.Duration, now time.Time) (int, bool, error) {
	var failures int
	var locked bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Staff{}).Where("id = ?", staffID).
			Update("failed_logins", gorm.Expr("failed_logins + 1")).Error; err != nil {
			return err
		}
		var st Staff
		if err := tx.Select("failed_logins").Where("id = ?", staffID).Take(&st).Error; err != nil {
			return err
		}
		failures = st.FailedLogins
		if failures >= threshold {
			locked = true
			until := now.Add(lockFor)
			return tx.Model(&Staff{}).Where("id = ?", staffID).
				Updates(map[string]any{"failed_logins": 0, "locked_until": until}).Error
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("record login failure: %w", err)
	}
	return failures, locked, nil
}

// RecordLoginSuccess clears failures and the lock.
func (s *Store) RecordLoginSuccess(ctx context.Context, staffID string, now time.Time) error {
	return s.db.WithContext(ctx).Model(&Staff{}).Where("id = ?", staffID).
		Updates(map[string]any{"failed_logins": 0, "locked_until": nil, "last_login_at": now}).Error
}

// CreateSession stores a session and, for token sessions, its first refresh token.
func (s *Store) CreateSession(ctx context.Context, sess *Session, rt *RefreshToken) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(sess).Error; err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if rt != nil {
			if err := tx.Create(rt).Error; err != nil {
				return fmt.Errorf("create refresh token: %w", err)
			}
		}
		return nil
	})
}

// SessionByID returns a session; errNotFound when missing.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&sess).Error
	return sess, notFound(err)
}

// SessionBySecret returns the cookie session whose secret hashes to hash.
func (s *Store) SessionBySecret(ctx context.Context, hash string) (Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Where("secret_hash = ? AND kind = ?", hash, SessionCookie).Take(&sess).Error
	return sess, notFound(err)
}

// TouchSession records activity, for idle timeouts.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).Update("last_seen_at", now).Error
}

// RevokeSession ends a session and so every token issued under it.
func (s *Store) RevokeSession(ctx context.Context, id, reason string, now time.Time) error {
	return s.db.WithContext(ctx).Model(&Session{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": now, "revoke_reason": reason}).Error
}

// errReused says a refresh token was presented a second time.
var errReused = errors.New("refresh token reused")

// RotateRefresh spends the refresh token with hash and stores next in its
// place, atomically: of two concurrent uses exactly one succeeds, and the
// other is reported as a reuse.
func (s *Store) RotateRefresh(ctx context.Context, hash string, next *RefreshToken, now time.Time) (Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rt RefreshToken
		if err := tx.Where("token_hash = ?", hash).Take(&rt).Error; err != nil {
			return notFound(err)
		}
		if err := tx.Where("id = ?", rt.SessionID).Take(&sess).Error; err != nil {
			return notFound(err)
		}
		if rt.UsedAt != nil {
			return errReused
		}
		if sess.RevokedAt != nil || !now.Before(rt.ExpiresAt) || !now.Before(sess.ExpiresAt) {
			return errNotFound
		}
		res := tx.Model(&RefreshToken{}).Where("id = ? AND used_at IS NULL", rt.ID).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errReused
		}
		next.SessionID = sess.ID
		if err := tx.Create(next).Error; err != nil {
			return err
		}
		return tx.Model(&Session{}).Where("id = ?", sess.ID).Update("last_seen_at", now).Error
	})
	return sess, err
}

// SessionOfRefresh returns the session a refresh token belongs to, used or not.
func (s *Store) SessionOfRefresh(ctx context.Context, hash string) (string, error) {
	var rt RefreshToken
	err := s.db.WithContext(ctx).Select("session_id").Where("token_hash = ?", hash).Take(&rt).Error
	return rt.SessionID, notFound(err)
}

// PurgeExpired deletes refresh tokens expired before cutoff and sessions
// that ended (expired or revoked) before it.
func (s *Store) PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("expires_at < ?", cutoff).Delete(&RefreshToken{})
		if res.Error != nil {
			return res.Error
		}
		total += res.RowsAffected
		res = tx.Where("expires_at < ? OR revoked_at < ?", cutoff, cutoff).Delete(&Session{})
		total += res.RowsAffected
		return res.Error
	})
	return total, err
}

// ListStaff lists a hospital's staff accounts by username.
func (s *Store) ListStaff(ctx context.Context, hospitalID string) ([]Staff, error) {
	var out []Staff
	err := s.db.WithContext(ctx).Where("hospital_id = ?", hospitalID).Order("username").Limit(1000).Find(&out).Error
	return out, err
}

// DisableStaff marks an account of the hospital disabled and revokes its
// sessions, in one transaction.
func (s *Store) DisableStaff(ctx context.Context, hospitalID, id string, now time.Time) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Staff{}).Where("id = ? AND hospital_id = ?", id, hospitalID).
			Updates(map[string]any{"status": StatusDisabled, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("账号")
		}
		return tx.Model(&Session{}).Where("subject_kind = ? AND subject_id = ? AND revoked_at IS NULL", KindStaff, id).
			Updates(map[string]any{"revoked_at": now, "revoke_reason": "staff_disabled"}).Error
	})
}

// Deactivate ends a WeChat user's account inside tx: the openid and unionid
// are cleared (so the same WeChat logging in later is a new user with no
// access), the bound phone is forgotten, the status becomes deactivated and
// every session (and so every access and refresh token) is revoked. It
// returns how many sessions were open; errNotFound when the user is not active.
func (s *Store) Deactivate(ctx context.Context, tx *gorm.DB, userID string, now time.Time) (int, error) {
	db := tx.WithContext(ctx)
	res := db.Model(&User{}).Where("id = ? AND status = ?", userID, StatusActive).Updates(map[string]any{
		"open_id": nil, "union_id": nil, "phone_enc": "", "phone_index": nil, "status": StatusDeactivated, "updated_at": now,
	})
	if res.Error != nil {
		return 0, fmt.Errorf("deactivate user %s: %w", userID, res.Error)
	}
	if res.RowsAffected != 1 {
		return 0, errNotFound
	}
	res = db.Model(&Session{}).Where("subject_kind = ? AND subject_id = ? AND revoked_at IS NULL", KindUser, userID).
		Updates(map[string]any{"revoked_at": now, "revoke_reason": "deactivated"})
	if res.Error != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", userID, res.Error)
	}
	return int(res.RowsAffected), nil
}

// IsNotFound reports whether err is this store's "no such (active) record".
func IsNotFound(err error) bool { return errors.Is(err, errNotFound) }
