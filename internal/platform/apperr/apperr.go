// Package apperr classifies errors once, where they are understood, so that
// the web layer can map them to HTTP in one place. It knows nothing of HTTP.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the class of a failure; each kind implies one HTTP status.
type Kind int

const (
	KindInternal      Kind = iota
	KindInvalid            // the request is malformed or a field is out of bounds (400)
	KindUnauthorized       // no valid credentials (401)
	KindForbidden          // authenticated but not allowed, where hiding existence is not needed (403)
	KindNotFound           // missing, or exists but is not the caller's (404)
	KindConflict           // state conflict, duplicate, idempotency key reuse (409)
	KindGone               // existed but can no longer be used: expired, withdrawn, spent (410)
	KindUnprocessable      // well-formed but breaks a business rule (422)
	KindRateLimited        // too many attempts (429)
	KindUnavailable        // a dependency is down (503)
	KindTooLarge           // the request body is over its size limit (413)
)

// Error is a classified error with a stable code and a message for the user (zh-CN).
type Error struct {
	Kind    Kind
	Code    string         // stable snake_case code clients branch on
	Message string         // human text, zh-CN
	Details map[string]any // optional structured details (field names, limits)
	Err     error          // cause, logged but never shown to the client
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WithDetail returns a copy of e with one more detail.
func (e *Error) WithDetail(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// New builds a classified error.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap classifies cause.
func Wrap(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: cause}
}

// Invalid reports a bad field; the field name is put into details.
func Invalid(field, code, message string) *Error {
	e := &Error{Kind: KindInvalid, Code: code, Message: message}
	if field != "" {
		e.Details = map[string]any{"field": field}
	}
	return e
}

// NotFound is the answer for a missing object and for one that is not the caller's.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: "not_found", Message: what + "不存在", Details: map[string]any{"resource": what}}
}

// Unauthorized says the caller must (re)authenticate.
func Unauthorized(code, message string) *Error {
	return &Error{Kind: KindUnauthorized, Code: code, Message: message}
}

// RetryAfterDetail is the detail of a rate-limit error that says how many
// whole seconds to wait (the web layer also sends it as Retry-After).
const RetryAfterDetail = "retry_after_seconds"

// RateLimited says to wait retryAfter (rounded up to whole seconds, at least one).
func RateLimited(code, message string, retryAfter time.Duration) *Error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	return &Error{Kind: KindRateLimited, Code: code, Message: message, Details: map[string]any{RetryAfterDetail: max(secs, 1)}}
}

// Unavailable says a dependency is down; cause is logged.
func Unavailable(dependency string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: "dependency_unavailable", Message: "服务暂时不可用，请稍后重试",
		Details: map[string]any{"dependency": dependency}, Err: cause}
}

// As returns the classified error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the kind of err, KindInternal when unclassified.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return KindInternal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }

// TooLarge says the request body is over its limit.
func TooLarge(code, message string) *Error {
	return &Error{Kind: KindTooLarge, Code: code, Message: message}
}
