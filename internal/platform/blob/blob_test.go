package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/platform/blob"
)

// testStore is the contract every Store keeps. It runs here against the
// local disk; an S3-compatible server cannot run on this machine, so S3 is
// only checked for what needs no server (presigned URLs).
func testStore(t *testing.T, s blob.Store) {
	ctx := context.Background()
	const key = "0190abcd-key-01"
	data := []byte("\x89PNG\r\n\x1a\n fake image bytes")

	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	f, err := s.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Errorf("Open read %q, want %q", got, data)
	}
	if err := s.Put(ctx, "0190abcd-key-02", bytes.NewReader(data), int64(len(data))+5, "image/png"); err == nil {
		t.Error("Put with a size larger than the content succeeded, want an error")
	}
	if _, err := s.Open(ctx, "0190abcd-key-02"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a failed Put left a file behind: Open = %v", err)
	}
	for _, bad := range []string{"", "../etc/passwd", "a/b/c/d/e/f", "short", strings.Repeat("x", 65), "key.with.dots"} {
		if err := s.Put(ctx, bad, bytes.NewReader(data), int64(len(data)), "image/png"); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", bad, err)
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Errorf("Delete twice: %v, want nil", err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after Delete = %v, want ErrNotFound", err)
	}
}

func TestLocalStore(t *testing.T) {
	s, err := blob.NewLocal(t.TempDir(), "https://carepath.test/api/v1/blobs/", blob.NewSigner([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
}

func TestLocalURLsExpireAndCannotBeForged(t *testing.T) {
	s, err := blob.NewLocal(t.TempDir(), "https://carepath.test/api/v1/blobs/", blob.NewSigner([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	const key = "0190abcd-key-01"
	raw, err := s.URL(context.Background(), key, now.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Path, "/api/v1/blobs/"+key; got != want {
		t.Errorf("URL path = %q, want %q", got, want)
	}
	exp, sig := u.Query().Get("exp"), u.Query().Get("sig")
	tests := []struct {
		name          string
		key, exp, sig string
		at            time.Time
		want          bool
	}{
		{"fresh", key, exp, sig, now, true},
		{"one second before expiry", key, exp, sig, now.Add(5*time.Minute - time.Second), true},
		{"at expiry", key, exp, sig, now.Add(5 * time.Minute), false},
		{"other key", "0190abcd-key-02", exp, sig, now, false},
		{"expiry pushed back", key, "9999999999", sig, now, false},
		{"tampered signature", key, exp, sig[:len(sig)-1] + "A", now, false},
		{"no signature", key, exp, "", now, false},
		{"garbage expiry", key, "soon", sig, now, false},
	}
	for _, tc := range tests {
		if got := s.Verify(tc.key, tc.exp, tc.sig, tc.at); got != tc.want {
			t.Errorf("%s: Verify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestS3PresignsWithoutTheNetwork(t *testing.T) {
	s, err := blob.NewS3(blob.S3Options{Endpoint: "127.0.0.1:1", Bucket: "carepath", Region: "cn-north-1",
		AccessKey: "AKIDEXAMPLE", SecretKey: "secret", Prefix: "messages/"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.URL(context.Background(), "0190abcd-key-01", time.Now().Add(10*time.Minute))
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Path, "/carepath/messages/0190abcd-key-01"; got != want {
		t.Errorf("presigned path = %q, want %q", got, want)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != "600" {
		t.Errorf("X-Amz-Expires = %q, want 600", got)
	}
	if u.Query().Get("X-Amz-Signature") == "" {
		t.Error("presigned URL has no signature")
	}
	if _, err := s.URL(context.Background(), "../x", time.Now().Add(time.Minute)); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("URL(bad key) = %v, want ErrBadKey", err)
	}
}
