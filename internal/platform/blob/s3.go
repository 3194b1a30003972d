package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Options locate a bucket of an S3-compatible store.
type S3Options struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	Region    string // set it: with a region, presigning needs no network call
	AccessKey string
	SecretKey string
	UseSSL    bool
	Prefix    string // prepended to every key, e.g. "carepath/"
}

// S3 keeps files in a bucket; its URLs are presigned GET URLs.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// NewS3 returns a store over a bucket. It does not contact the server.
func NewS3(o S3Options) (*S3, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("blob: s3 needs an endpoint and a bucket")
	}
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""), Secure: o.UseSSL, Region: o.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client: %w", err)
	}
	return &S3{c: c, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// Put uploads a file.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if !ValidKey(key) {
		return ErrBadKey
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("blob: s3 put %s: %w", key, err)
	}
	return nil
}

// Open downloads a file.
func (s *S3) Open(ctx context.Context, key string) (io.ReadSeekCloser, error) {
	if !ValidKey(key) {
		return nil, ErrBadKey
	}
	obj, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 get %s: %w", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("blob: s3 stat %s: %w", key, err)
	}
	return obj, nil
}

// Delete removes a file.
func (s *S3) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return ErrBadKey
	}
	if err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob: s3 delete %s: %w", key, err)
	}
	return nil
}

// URL presigns a GET valid until expires (S3 allows at most 7 days).
func (s *S3) URL(ctx context.Context, key string, expires time.Time) (string, error) {
	if !ValidKey(key) {
		return "", ErrBadKey
	}
	ttl := time.Until(expires).Round(time.Second)
	if ttl < time.Second {
		ttl = time.Second
	}
	u, err := s.c.PresignedGetObject(ctx, s.bucket, s.prefix+key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("blob: s3 presign %s: %w", key, err)
	}
	return u.String(), nil
}
