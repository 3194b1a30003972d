package wx

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/silenceper/wechat/v2/util"
)

// wechatAPIBase is the host silenceper writes into every URL it calls.
const wechatAPIBase = "https://api.weixin.qq.com"

// silenceper keeps its HTTP client and URI modifier in package variables,
// so they are process-wide whatever we do. These mirror what New installed,
// so that repeated New calls with the same settings write nothing (silenceper
// reads its globals without locks) and the last New's settings win.
var (
	plumbingMu        sync.Mutex
	installedTimeout  time.Duration
	modifierInstalled bool
	rewriteBase       atomic.Pointer[string] // "" or nil: the real WeChat
)

// configureHTTP points silenceper at baseURL ("" = the real WeChat) with the
// given timeout. One base URL per process: a later call with another base
// URL replaces it for every Client.
func configureHTTP(baseURL string, timeout time.Duration) {
	plumbingMu.Lock()
	defer plumbingMu.Unlock()

	if installedTimeout != timeout {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 256 // every call goes to one host; a push run has a few hundred in flight
		util.DefaultHTTPClient = &http.Client{
			Timeout:   timeout,
			Transport: statusTransport{next: transport},
		}
		installedTimeout = timeout
	}

	rewriteBase.Store(&baseURL)
	if baseURL != "" && !modifierInstalled {
		// Installed once and never removed; with an empty base it is the
		// identity, so a later New for the real WeChat needs no new write.
		util.SetURIModifier(rewriteURI)
		modifierInstalled = true
	}
}

func rewriteURI(uri string) string {
	base := rewriteBase.Load()
	if base == nil || *base == "" {
		return uri
	}
	if rest, ok := strings.CutPrefix(uri, wechatAPIBase); ok {
		return *base + rest
	}
	return uri
}

// statusTransport turns a non-200 answer into a typed error. WeChat answers
// 200 even for errors, so anything else is a proxy or an outage; silenceper
// would report it as a string holding the full URL (with the AppSecret or
// the access token), which we must not pass on.
type statusTransport struct{ next http.RoundTripper }

func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		return nil, &statusError{code: resp.StatusCode}
	}
	return resp, nil
}

// statusError is an HTTP status other than 200 from WeChat.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("HTTP status %d", e.code) }
