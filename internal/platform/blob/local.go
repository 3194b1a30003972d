package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Local keeps files in a directory, two levels of fan-out deep. Its URLs
// point at this service's own download route, signed with an HMAC.
type Local struct {
	dir    string
	base   string // URL prefix of the download route, e.g. https://host/api/v1/blobs/
	signer Signer
}

// NewLocal returns a store over dir (created if missing). base is the URL
// of the download route the key is appended to.
func NewLocal(dir, base string, signer Signer) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	return &Local{dir: dir, base: base, signer: signer}, nil
}

func (l *Local) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrBadKey
	}
	return filepath.Join(l.dir, key[len(key)-2:], key), nil
}

// Put writes to a temporary file and renames it, so a reader never sees half a file.
func (l *Local) Put(_ context.Context, key string, r io.Reader, size int64, _ string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".upload-*")
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer os.Remove(f.Name()) // a no-op after the rename
	n, err := io.Copy(f, io.LimitReader(r, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob: write %s: %w", key, err)
	}
	if n != size {
		return fmt.Errorf("blob: write %s: got %d bytes, want %d", key, n, size)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// Open opens a stored file.
func (l *Local) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return f, nil
}

// Delete removes a stored file.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// URL is the download route's URL with an expiry and its signature.
func (l *Local) URL(_ context.Context, key string, expires time.Time) (string, error) {
	if !ValidKey(key) {
		return "", ErrBadKey
	}
	q := url.Values{"exp": {strconv.FormatInt(expires.Unix(), 10)}, "sig": {l.signer.Sign(key, expires)}}
	return l.base + key + "?" + q.Encode(), nil
}

// Verify checks a download URL's expiry and signature.
func (l *Local) Verify(key, exp, sig string, now time.Time) bool {
	return ValidKey(key) && l.signer.Verify(key, exp, sig, now)
}
