package consent

import (
	"testing"
	"time"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/platform/apperr"
)

func TestEvidenceFor(t *testing.T) {
	now := time.Date(2026, 3, 1, 16, 30, 0, 0, time.UTC) // 00:30 on 2 March in Asia/Shanghai
	patient := auth.Actor{Kind: auth.KindUser, ID: "u1", Role: auth.RoleUser}
	cm := auth.Actor{Kind: auth.KindStaff, ID: "s1", Role: auth.RoleCM}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	cases := []struct {
		name      string
		actor     auth.Actor
		in        EvidenceInput
		want      Evidence
		wantField string // "" = valid
	}{
		{"patient in the app", patient, EvidenceInput{}, Evidence{GivenBy: GivenByPatient, Method: MethodInApp, At: now, RecordedByKind: "user", RecordedByID: "u1"}, ""},
		{"patient saying in_app explicitly", patient, EvidenceInput{Method: MethodInApp, GivenBy: GivenByPatient}, Evidence{GivenBy: GivenByPatient, Method: MethodInApp, At: now, RecordedByKind: "user", RecordedByID: "u1"}, ""},
		{"patient claiming a phone call", patient, EvidenceInput{Method: MethodPhone}, Evidence{}, "method"},
		{"patient claiming to be a guardian", patient, EvidenceInput{GivenBy: GivenByGuardian}, Evidence{}, "given_by"},
		{"patient back-dating", patient, EvidenceInput{GivenAt: at(-time.Hour)}, Evidence{}, "given_at"},
		{"cm records an in-person consent now", cm, EvidenceInput{Method: MethodInPerson, GivenBy: GivenByPatient}, Evidence{GivenBy: GivenByPatient, Method: MethodInPerson, At: now, RecordedByKind: "staff", RecordedByID: "s1"}, ""},
		{"cm records a guardian's phone consent yesterday", cm, EvidenceInput{Method: MethodPhone, GivenBy: GivenByGuardian, GivenAt: at(-24 * time.Hour)}, Evidence{GivenBy: GivenByGuardian, Method: MethodPhone, At: now.Add(-24 * time.Hour), RecordedByKind: "staff", RecordedByID: "s1"}, ""},
		{"cm exactly 30 days back", cm, EvidenceInput{Method: MethodPhone, GivenBy: GivenByPatient, GivenAt: at(-maxRecordDelay)}, Evidence{GivenBy: GivenByPatient, Method: MethodPhone, At: now.Add(-maxRecordDelay), RecordedByKind: "staff", RecordedByID: "s1"}, ""},
		{"cm more than 30 days back", cm, EvidenceInput{Method: MethodPhone, GivenBy: GivenByPatient, GivenAt: at(-maxRecordDelay - time.Second)}, Evidence{}, "given_at"},
		{"cm in the future", cm, EvidenceInput{Method: MethodPhone, GivenBy: GivenByPatient, GivenAt: at(2 * time.Minute)}, Evidence{}, "given_at"},
		{"cm without a method", cm, EvidenceInput{GivenBy: GivenByPatient}, Evidence{}, "method"},
		{"cm claiming in_app", cm, EvidenceInput{Method: MethodInApp, GivenBy: GivenByPatient}, Evidence{}, "method"},
		{"cm without who", cm, EvidenceInput{Method: MethodPhone}, Evidence{}, "given_by"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EvidenceFor(tc.actor, tc.in, now)
			if tc.wantField != "" {
				e, ok := apperr.As(err)
				if !ok || e.Kind != apperr.KindInvalid || e.Details["field"] != tc.wantField {
					t.Fatalf("got %+v, %v; want a 400 naming %s", got, err, tc.wantField)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestWithdrawalBy(t *testing.T) {
	now := time.Date(2026, 1, 31, 23, 59, 0, 0, time.UTC)
	w, err := WithdrawalBy(auth.Actor{Kind: auth.KindUser, ID: "u1"}, "", ReasonWithdrawn, now)
	if err != nil || w != (Withdrawal{At: now, Reason: ReasonWithdrawn, Method: MethodInApp, ByKind: "user", ByID: "u1"}) {
		t.Fatalf("patient: %+v, %v", w, err)
	}
	w, err = WithdrawalBy(auth.Actor{Kind: auth.KindStaff, ID: "s1"}, MethodPhone, ReasonWithdrawn, now)
	if err != nil || w.Method != MethodPhone || w.ByKind != "staff" {
		t.Fatalf("staff by phone: %+v, %v", w, err)
	}
	if _, err := WithdrawalBy(auth.Actor{Kind: auth.KindStaff, ID: "s1"}, "", ReasonWithdrawn, now); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("staff without a method: %v, want 400", err)
	}
}

func TestActive(t *testing.T) {
	now := time.Now()
	if !(Consent{}).Active() || (Consent{WithdrawnAt: &now}).Active() {
		t.Fatal("Active must be true exactly while not withdrawn")
	}
}
