package wx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"
)

func TestClassify(t *testing.T) {
	var syntaxErr error = &json.SyntaxError{}
	tests := []struct {
		name     string
		in       error
		want     []error // every one must match errors.Is
		wantCode int     // APIError code, 0 = no APIError
	}{
		{
			name:     "common error",
			in:       util.NewCommonError("subscribe.send", 43101, "user refuse to accept the msg"),
			want:     []error{ErrNoQuota},
			wantCode: 43101,
		},
		{
			name: "transport error carrying the URL",
			in: &url.Error{Op: "Get", URL: "https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=S3CRET&js_code=CODE",
				Err: errors.New("dial tcp: connection refused")},
			want: []error{ErrUnavailable},
		},
		{
			name: "non-200 status",
			in:   &url.Error{Op: "Post", URL: "https://x/?access_token=TOKEN", Err: &statusError{code: 502}},
			want: []error{ErrUnavailable},
		},
		{
			name: "deadline through url.Error",
			in:   &url.Error{Op: "Post", URL: "https://x/?access_token=TOKEN", Err: context.DeadlineExceeded},
			want: []error{ErrUnavailable, context.DeadlineExceeded},
		},
		{
			name:     "stable token errcode (untyped string in silenceper)",
			in:       fmt.Errorf("get stable access_token error : errcode=%v , errormsg=%v", 40164, "invalid ip 1.2.3.4, not in whitelist"),
			want:     []error{ErrWeChat},
			wantCode: 40164,
		},
		{
			name:     "stable token busy",
			in:       fmt.Errorf("get stable access_token error : errcode=%v , errormsg=%v", -1, "system error"),
			want:     []error{ErrUnavailable},
			wantCode: -1,
		},
		{
			name: "malformed answer",
			in:   fmt.Errorf("json Unmarshal Error, err=%w", syntaxErr),
			want: []error{ErrUnavailable},
		},
		{
			name: "unknown error naming a secret",
			in:   errors.New("http get error : uri=https://x/?appid=a&secret=S3CRET&js_code=CODE , statusCode=500"),
			want: []error{ErrUnavailable},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.in)
			for _, w := range tt.want {
				if !errors.Is(got, w) {
					t.Errorf("classify(%v) = %v, want errors.Is %v", tt.in, got, w)
				}
			}
			var apiErr *APIError
			switch isAPI := errors.As(got, &apiErr); {
			case tt.wantCode == 0 && isAPI:
				t.Errorf("classify(%v) = APIError %d, want none", tt.in, apiErr.Code)
			case tt.wantCode != 0 && (!isAPI || apiErr.Code != tt.wantCode):
				t.Errorf("classify(%v) = %v, want APIError %d", tt.in, got, tt.wantCode)
			}
			for _, secret := range []string{"S3CRET", "CODE", "TOKEN"} {
				if strings.Contains(got.Error(), secret) {
					t.Errorf("classify(...) = %q, leaks %q", got, secret)
				}
			}
		})
	}
	if got := classify(nil); got != nil {
		t.Errorf("classify(nil) = %v", got)
	}
}

func TestRewriteURI(t *testing.T) {
	prev := rewriteBase.Load() // the shared fake's base, which other tests need
	t.Cleanup(func() { rewriteBase.Store(prev) })
	tests := []struct{ base, in, want string }{
		{"", "https://api.weixin.qq.com/sns/jscode2session?a=b", "https://api.weixin.qq.com/sns/jscode2session?a=b"},
		{"http://127.0.0.1:9", "https://api.weixin.qq.com/sns/jscode2session?a=b", "http://127.0.0.1:9/sns/jscode2session?a=b"},
		{"http://127.0.0.1:9", "https://qyapi.weixin.qq.com/cgi-bin/gettoken", "https://qyapi.weixin.qq.com/cgi-bin/gettoken"},
	}
	for _, tt := range tests {
		base := tt.base
		rewriteBase.Store(&base)
		if got := rewriteURI(tt.in); got != tt.want {
			t.Errorf("base %q: rewriteURI(%q) = %q, want %q", tt.base, tt.in, got, tt.want)
		}
	}
}
