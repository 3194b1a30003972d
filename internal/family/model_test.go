package family

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/access"
	"github.com/carepath/carepath/internal/platform/apperr"
)

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		c := NewCode()
		if len(c) != CodeLength || len(c) > MaxSceneLength {
			t.Fatalf("code %q: length %d, want %d (and a scene of at most %d)", c, len(c), CodeLength, MaxSceneLength)
		}
		if got, ok := NormalizeCode(" " + strings.ToLower(c) + "\n"); !ok || got != c {
			t.Fatalf("NormalizeCode(lowercase %q) = %q, %v", c, got, ok)
		}
		if seen[c] {
			t.Fatalf("code %q issued twice", c)
		}
		seen[c] = true
	}
	if codeBytes*8 < 128 {
		t.Fatalf("codes carry %d bits, want at least 128", codeBytes*8)
	}
	for _, bad := range []string{"", "SHORT", strings.Repeat("A", CodeLength+1), strings.Repeat("1", CodeLength), strings.Repeat("A", CodeLength-1) + "=", "../../etc/passwd"} {
		if _, ok := NormalizeCode(bad); ok {
			t.Errorf("NormalizeCode(%q) accepted", bad)
		}
	}
	if HashCode("A") == HashCode("B") || len(HashCode("A")) != 64 {
		t.Fatal("HashCode must be a sha256 hex digest")
	}
	if got := PagePath("ABC"); got != "pages/family/accept?code=ABC" {
		t.Fatalf("PagePath = %q", got)
	}
}

func TestInvitationRules(t *testing.T) {
	created := time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC) // midnight 1 March, Asia/Shanghai
	expires := created.Add(72 * time.Hour)
	relative, other, owner := "u-relative", "u-other", "u-patient"
	pending := Invitation{Status: InvitationPending, ExpiresAt: expires}
	accepted := Invitation{Status: InvitationAccepted, ExpiresAt: expires, AcceptedByUserID: &relative}
	withdrawn := Invitation{Status: InvitationWithdrawn, ExpiresAt: expires}
	cases := []struct {
		name   string
		inv    Invitation
		user   string
		now    time.Time
		state  string
		open   error
		accept error
	}{
		{"fresh", pending, relative, created, InvitationPending, nil, nil},
		{"one second before expiry", pending, relative, expires.Add(-time.Second), InvitationPending, nil, nil},
		{"at expiry", pending, relative, expires, InvitationExpired, ErrExpired, ErrExpired},
		{"long after", pending, relative, expires.Add(30 * 24 * time.Hour), InvitationExpired, ErrExpired, ErrExpired},
		{"own invitation", pending, owner, created, InvitationPending, nil, ErrOwnInvitation},
		{"accepted by me", accepted, relative, created, InvitationAccepted, ErrAlreadyAccepted, ErrAlreadyAccepted},
		{"accepted by someone else", accepted, other, created, InvitationAccepted, ErrUsed, ErrUsed},
		{"accepted, then expired: still accepted", accepted, relative, expires.Add(time.Hour), InvitationAccepted, ErrAlreadyAccepted, ErrAlreadyAccepted},
		{"withdrawn", withdrawn, relative, created, InvitationWithdrawn, ErrWithdrawn, ErrWithdrawn},
		{"withdrawn and expired", withdrawn, relative, expires.Add(time.Hour), InvitationWithdrawn, ErrWithdrawn, ErrWithdrawn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.inv.State(tc.now); got != tc.state {
				t.Errorf("State = %s, want %s", got, tc.state)
			}
			if got := tc.inv.CheckOpen(tc.user, tc.now); !errors.Is(got, tc.open) {
				t.Errorf("CheckOpen = %v, want %v", got, tc.open)
			}
			if got := tc.inv.CheckAccept(owner, tc.user, tc.now); !errors.Is(got, tc.accept) {
				t.Errorf("CheckAccept = %v, want %v", got, tc.accept)
			}
		})
	}
	// A patient with no WeChat account yet (registered by a CM) owns no user.
	if err := pending.CheckAccept("", relative, created); err != nil {
		t.Fatalf("patient without WeChat: %v", err)
	}
	statuses := map[error]int{ErrExpired: 410, ErrWithdrawn: 410, ErrUsed: 410, ErrAlreadyAccepted: 409, ErrLinkExists: 409, ErrOwnInvitation: 422}
	want := map[int]apperr.Kind{410: apperr.KindGone, 409: apperr.KindConflict, 422: apperr.KindUnprocessable}
	for err, status := range statuses {
		if apperr.KindOf(err) != want[status] {
			t.Errorf("%v is not classified for %d", err, status)
		}
	}
}

func TestParseScopes(t *testing.T) {
	got, err := ParseScopes([]string{"report", "view_plan", "report"})
	if err != nil || access.FormatScopes(got) != "view_plan,report" {
		t.Fatalf("got %v, %v; want [view_plan report] in display order without duplicates", got, err)
	}
	for _, tc := range []struct {
		in   []string
		code string
	}{
		{nil, "scopes_required"},
		{[]string{}, "scopes_required"},
		{[]string{"view_plan", "view_everything"}, "invalid_scope"},
		{[]string{"VIEW_PLAN"}, "invalid_scope"},
		{[]string{""}, "invalid_scope"},
	} {
		_, err := ParseScopes(tc.in)
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Code != tc.code || e.Details["field"] != "scopes" {
			t.Errorf("ParseScopes(%q) = %v, want 400 %s on field scopes", tc.in, err, tc.code)
		}
	}
}

func TestCheckRelationship(t *testing.T) {
	for in, want := range map[string]string{" 女儿 ": "女儿", "老伴": "老伴", strings.Repeat("孙", 16): strings.Repeat("孙", 16)} {
		if got, err := CheckRelationship(in); err != nil || got != want {
			t.Errorf("CheckRelationship(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "   ", strings.Repeat("孙", 17), "女\x00儿", "bad\xff"} {
		if _, err := CheckRelationship(bad); !apperr.Is(err, apperr.KindInvalid) {
			t.Errorf("CheckRelationship(%q) accepted", bad)
		}
	}
}

func TestMaskName(t *testing.T) {
	for in, want := range map[string]string{"张建国": "张*国", "陈明": "陈*", "欧阳建华": "欧**华", "李": "李*", "": ""} {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEveryScopeHasALabel(t *testing.T) {
	for _, sc := range access.AllScopes {
		if ScopeLabels[sc] == "" {
			t.Errorf("scope %s has no label", sc)
		}
	}
}

func TestNewLinkKeysTheActivePair(t *testing.T) {
	now := time.Now().UTC()
	l := NewLink("l1", "p1", "u1", "女儿", []access.Scope{access.ScopeMessage}, now)
	if l.Status != StatusActive || l.ActiveKey == nil || *l.ActiveKey != "p1:u1" || l.Scopes != "message" {
		t.Fatalf("NewLink = %+v", l)
	}
}

func TestRateLimitedSaysWhenToRetry(t *testing.T) {
	e, ok := apperr.As(rateLimited(1500 * time.Millisecond))
	if !ok || e.Kind != apperr.KindRateLimited || e.Details[apperr.RetryAfterDetail] != 2 {
		t.Fatalf("got %+v", e)
	}
}
