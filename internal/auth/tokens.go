package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/argon2"
)

// accessClaims are the claims of an access token. The session id lets a
// logout or a refresh-token reuse end the token before it expires.
type accessClaims struct {
	Kind      ActorKind `json:"knd"`
	SessionID string    `json:"sid"`
	jwt.RegisteredClaims
}

const (
	issuer   = "carepath"
	audience = "carepath-api"
)

// tokenSigner issues and verifies HS256 access tokens.
type tokenSigner struct {
	key []byte
	ttl time.Duration
}

func (t tokenSigner) issue(kind ActorKind, subject, sessionID string, now time.Time) (string, error) {
	claims := accessClaims{
		Kind:      kind,
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
}

func (t tokenSigner) verify(token string, now time.Time) (accessClaims, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired())
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, jwt.ErrTokenExpired):
		return accessClaims{}, ErrTokenExpired
	default:
		return accessClaims{}, ErrTokenInvalid
	}
}

// randomSecret returns n random bytes, URL-safe encoded.
func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the OS is broken; nothing safe to do
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is how refresh tokens and cookie secrets are stored: a leaked
// table cannot be replayed. They are 256-bit random, so a fast hash suffices.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Password hashing: argon2id with OWASP's minimum parameters (19 MiB, t=2, p=1),
// stored in the PHC string format so parameters can rise later.
type passwordParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

var defaultPasswordParams = passwordParams{memory: 19 * 1024, time: 2, threads: 1}

// HashPassword returns the PHC-encoded argon2id hash of password.
func HashPassword(password string) string {
	p := defaultPasswordParams
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword reports whether password matches the PHC-encoded hash.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var p passwordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
