package wx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"github.com/silenceper/wechat/v2/util"
)

// Sentinel errors callers branch on with errors.Is. An error from WeChat
// itself is an *APIError that unwraps to one of these (ErrWeChat for codes
// not listed); a failure to reach WeChat wraps ErrUnavailable and, where
// there is one, the cause (context.DeadlineExceeded, ...).
var (
	ErrInvalidCode    = errors.New("invalid or expired code")                                  // 40029
	ErrCodeUsed       = errors.New("code already used")                                        // 40163
	ErrRateLimited    = errors.New("rate limited by WeChat")                                   // 45011
	ErrUserBlocked    = errors.New("user blocked by WeChat as high risk")                      // 40226
	ErrUnavailable    = errors.New("WeChat unavailable")                                       // -1, network, timeout, HTTP non-200
	ErrNoQuota        = errors.New("user refused or no subscription credit")                   // 43101: do not retry
	ErrBadData        = errors.New("invalid field value")                                      // 47003: a bug, alert the operator
	ErrBadOpenID      = errors.New("invalid openid")                                           // 40003
	ErrBadPage        = errors.New("invalid page")                                             // 41030
	ErrDailyLimit     = errors.New("daily limit reached")                                      // 45009
	ErrTokenInvalid   = errors.New("access token rejected")                                    // 40001, 42001, 40014 after one retry
	ErrOpenIDInactive = errors.New("user has not opened the mini-program in the last 2 hours") // 61010 (msg_sec_check)
	ErrWeChat         = errors.New("WeChat error")                                             // any other errcode, or an answer lacking what it must hold
)

// APIError is an errcode answered by WeChat. Unwrap gives the sentinel, so
// both errors.Is(err, wx.ErrNoQuota) and errors.As(err, &apiErr) work.
type APIError struct {
	Code int    // WeChat's errcode
	Msg  string // WeChat's errmsg (never contains our input values)
	kind error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Msg)
}

// Unwrap returns the sentinel error for Code.
func (e *APIError) Unwrap() error { return e.kind }

func newAPIError(code int64, msg string) *APIError {
	return &APIError{Code: int(code), Msg: msg, kind: kindOf(code)}
}

func kindOf(code int64) error {
	switch code {
	case 40029:
		return ErrInvalidCode
	case 40163:
		return ErrCodeUsed
	case 45011:
		return ErrRateLimited
	case 40226:
		return ErrUserBlocked
	case -1:
		return ErrUnavailable
	case 43101:
		return ErrNoQuota
	case 47003:
		return ErrBadData
	case 40003:
		return ErrBadOpenID
	case 41030:
		return ErrBadPage
	case 45009:
		return ErrDailyLimit
	case 40001, 42001, 40014:
		return ErrTokenInvalid
	case 61010:
		return ErrOpenIDInactive
	default:
		return ErrWeChat
	}
}

// tokenErrcode reads the errcode out of silenceper's access-token error,
// which is an untyped fmt.Errorf("... errcode=%v , errormsg=%v") in v2.1.14.
var tokenErrcode = regexp.MustCompile(`errcode=(-?\d+) , errormsg=(.*)$`)

// sensitiveParam matches query parameters that carry secrets, for the last
// resort of turning an unknown error into text.
var sensitiveParam = regexp.MustCompile(`\b(secret|access_token|js_code|session_key|code)=[^&\s,]*`)

// classify turns an error from silenceper into ours. It never lets a request
// URL through: silenceper puts the AppSecret, the js_code and the access
// token in query strings, and *url.Error prints the URL.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return err
	}
	var common *util.CommonError
	if errors.As(err, &common) {
		return newAPIError(common.ErrCode, common.ErrMsg)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// urlErr.Err is the cause without the URL: a dial error, a timeout,
		// our *statusError, or the context's error.
		return fmt.Errorf("%w: %w", ErrUnavailable, urlErr.Err)
	}
	if m := tokenErrcode.FindStringSubmatch(err.Error()); m != nil {
		code, convErr := strconv.ParseInt(m[1], 10, 64)
		if convErr == nil {
			return fmt.Errorf("get access token: %w", newAPIError(code, m[2]))
		}
	}
	for _, ctxErr := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("%w: %w", ErrUnavailable, ctxErr)
		}
	}
	// A malformed answer (not JSON, wrong shape): WeChat did not answer as
	// WeChat does, which callers treat like an outage.
	return fmt.Errorf("%w: %s", ErrUnavailable, sensitiveParam.ReplaceAllString(err.Error(), "$1=REDACTED"))
}
