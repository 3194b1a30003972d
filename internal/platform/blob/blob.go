// Package blob stores uploaded files (message images) behind one small
// interface: a directory on local disk by default, or any S3-compatible
// object store (MinIO, Tencent COS, Alibaba OSS, AWS S3). Files are never
// public: a reader gets an expiring signed URL minted after the caller's
// access was checked. It knows nothing of who may read what.
package blob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"regexp"
	"strconv"
	"time"
)

// Store keeps files by key.
type Store interface {
	// Put stores size bytes from r under key with the given content type.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open returns the file's content; the caller closes it. ErrNotFound when missing.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes the file; deleting a missing file is not an error.
	Delete(ctx context.Context, key string) error
	// URL is a link to the file that works without other credentials until expires.
	URL(ctx context.Context, key string, expires time.Time) (string, error)
}

// ErrNotFound is returned for a missing file.
var ErrNotFound = errors.New("blob: not found")

// ErrBadKey is returned for a key outside ValidKey.
var ErrBadKey = errors.New("blob: invalid key")

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{7,63}$`)

// ValidKey reports whether key may name a file: 8–64 letters, digits, - or _
// (no dots or slashes, so a key can never escape its directory).
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

// Signer mints and checks the signatures of local-disk URLs.
type Signer struct {
	key []byte
}

// NewSigner returns a signer over a secret key.
func NewSigner(key []byte) Signer { return Signer{key: key} }

// Sign returns the signature of key valid until expires.
func (s Signer) Sign(key string, expires time.Time) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(key + "\n" + strconv.FormatInt(expires.Unix(), 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a signature and that now is before the expiry.
func (s Signer) Verify(key, exp, sig string, now time.Time) bool {
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(unix, 0)) {
		return false
	}
	want := s.Sign(key, time.Unix(unix, 0))
	return hmac.Equal([]byte(want), []byte(sig))
}
