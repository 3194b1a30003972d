// Package fieldcrypt encrypts sensitive personal fields (phone, real name, ID
// number) at rest with AES-256-GCM, prefixing each value with its key id so
// keys can rotate, and computes HMAC blind indexes for exact-match lookup.
package fieldcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Sealer encrypts with the active key and decrypts with any known key.
type Sealer struct {
	active     string
	aeads      map[string]cipher.AEAD
	blindIndex []byte
}

// ParseKeys reads "id:base64key,id2:base64key" (32-byte keys).
func ParseKeys(spec string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("crypto key %q: want id:base64key", part)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("crypto key %s: want 32 bytes in standard base64", id)
		}
		keys[id] = key
	}
	if len(keys) == 0 {
		return nil, errors.New("no crypto keys configured")
	}
	return keys, nil
}

// New builds a Sealer. blindIndexKey must be at least 32 bytes of secret.
func New(keys map[string][]byte, active string, blindIndexKey []byte) (*Sealer, error) {
	if _, ok := keys[active]; !ok {
		return nil, fmt.Errorf("active crypto key %q is not among the configured keys", active)
	}
	if len(blindIndexKey) < 32 {
		return nil, errors.New("blind index key must be at least 32 bytes")
	}
	s := &Sealer{active: active, aeads: map[string]cipher.AEAD{}, blindIndex: blindIndexKey}
	for id, key := range keys {
		if strings.Contains(id, ":") {
			return nil, fmt.Errorf("crypto key id %q must not contain ':'", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("crypto key %s: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[id] = aead
	}
	return s, nil
}

// Seal encrypts plaintext; the empty string stays empty so "not given" needs no key.
func (s *Sealer) Seal(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	aead := s.aeads[s.active]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(s.active))
	return s.active + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value produced by Seal with any configured key.
func (s *Sealer) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	id, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return "", errors.New("sealed value has no key id")
	}
	aead, ok := s.aeads[id]
	if !ok {
		return "", fmt.Errorf("sealed with unknown key %q", id)
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", errors.New("sealed value is corrupt")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(id))
	if err != nil {
		return "", errors.New("sealed value failed authentication")
	}
	return string(plain), nil
}

// Index is the blind index of a value for exact lookup; the same input always
// gives the same index, and the index reveals nothing without the key.
func (s *Sealer) Index(value string) string {
	m := hmac.New(sha256.New, s.blindIndex)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// NewKey returns a random key in the configuration's base64 form.
func NewKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Opener opens sealed values (a *Sealer).
type Opener interface {
	Open(sealed string) (string, error)
}

// SealValue is what a column with a sealed flag stores for plain: sealed by
// s (flag true), or as it is with no sealer or an empty value (flag false).
func SealValue(s interface{ Seal(string) (string, error) }, plain string) (string, bool, error) {
	if s == nil || plain == "" {
		return plain, false, nil
	}
	sealed, err := s.Seal(plain)
	if err != nil {
		return "", false, err
	}
	return sealed, true, nil
}

// OpenFields opens one row's fields sealed at rest: when *sealed, each field
// is replaced by its plaintext and *sealed cleared; a row written in the
// clear is left as it is. A sealed row and no opener is an error: there is
// no key to read it.
func OpenFields(o Opener, sealed *bool, fields ...*string) error {
	if !*sealed {
		return nil
	}
	if o == nil {
		return errors.New("fieldcrypt: a sealed value and no key to open it")
	}
	for _, f := range fields {
		plain, err := o.Open(*f)
		if err != nil {
			return err
		}
		*f = plain
	}
	*sealed = false
	return nil
}
