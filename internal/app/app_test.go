package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/carepath/carepath/internal/app"
	"github.com/carepath/carepath/internal/appointment"
	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/careplan"
	"github.com/carepath/carepath/internal/platform/apperr"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/dbtest"
	"github.com/carepath/carepath/internal/platform/wx/fake"
)

// wechat is the fake WeChat every Build in this package shares: wx.New
// points silenceper's process-wide URI rewrite at the BaseURL it is given,
// so all apps built here must be given the same one.
var wechat *fake.Server

func TestMain(m *testing.M) {
	code := func() int {
		f, err := fake.New()
		if err != nil {
			fmt.Fprintln(os.Stderr, "start fake WeChat:", err)
			return 1
		}
		defer f.Close()
		wechat = f
		defer dbtest.DropTemplate()
		return m.Run()
	}()
	os.Exit(code)
}

// newApp builds the app over a fresh migrated database and a Redis of its own.
func newApp(t *testing.T) *app.App {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir() // dev secrets are generated here
	rdb, prefix := dbtest.Redis(t)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.Build(context.Background(), cfg, log, app.Options{DB: dbtest.New(t), Redis: rdb, RedisPrefix: prefix, WeChatBaseURL: wechat.URL()})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

func countRows(t *testing.T, a *app.App) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for _, table := range []string{"hospitals", "departments", "staff", "patients", "users", "family_links"} {
		var n int64
		if err := a.DB.Table(table).Count(&n).Error; err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		got[table] = n
	}
	return got
}

func TestSeedDemo(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	if empty, err := a.Empty(ctx); err != nil || !empty {
		t.Fatalf("Empty before seeding = %v, %v; want true, nil", empty, err)
	}

	sum, password, err := a.SeedDemo(ctx, "")
	if err != nil {
		t.Fatalf("SeedDemo: %v", err)
	}
	if got, want := len(sum.Staff), 4; got != want {
		t.Errorf("seeded %d staff, want %d", got, want)
	}
	if got, want := len(sum.Patients), 7; got != want {
		t.Errorf("seeded %d patients, want %d", got, want)
	}
	if len(password) < 10 {
		t.Errorf("generated password %q is shorter than the 10 characters staff passwords need", password)
	}
	if empty, err := a.Empty(ctx); err != nil || empty {
		t.Errorf("Empty after seeding = %v, %v; want false, nil", empty, err)
	}
	want := map[string]int64{"hospitals": 1, "departments": 2, "staff": 4, "patients": 7, "users": 8, "family_links": 2}
	after := countRows(t, a)
	for table, n := range want {
		if after[table] != n {
			t.Errorf("%s: %d rows after seeding, want %d", table, after[table], n)
		}
	}
	if _, err := a.Auth.StaffLogin(ctx, "cm1", password, auth.Client{IP: "127.0.0.1"}); err != nil {
		t.Errorf("cm1 cannot log in with the returned password: %v", err)
	}

	// A second seed collides on the staff usernames; its transaction leaves
	// exactly the first seed's rows.
	if _, _, err := a.SeedDemo(ctx, "another-password-2026"); err == nil {
		t.Fatal("second SeedDemo succeeded, want a conflict")
	} else if got, want := apperr.KindOf(err), apperr.KindConflict; got != want {
		t.Errorf("second SeedDemo: error kind %v, want %v (%v)", got, want, err)
	}
	if got := countRows(t, a); !maps.Equal(got, after) {
		t.Errorf("rows after the failed second seed: %v, want %v", got, after)
	}
	if _, err := a.Auth.StaffLogin(ctx, "cm1", "another-password-2026", auth.Client{IP: "127.0.0.1"}); err == nil {
		t.Error("cm1 logs in with the failed second seed's password")
	}
	if _, err := a.Auth.StaffLogin(ctx, "cm1", password, auth.Client{IP: "127.0.0.1"}); err != nil {
		t.Errorf("cm1 cannot log in with the first seed's password after the failed second seed: %v", err)
	}
}

func TestSeedDemoUsesGivenPassword(t *testing.T) {
	ctx := context.Background()
	a := newApp(t)
	const given = "Given-Password-2026"
	_, used, err := a.SeedDemo(ctx, given)
	if err != nil {
		t.Fatalf("SeedDemo: %v", err)
	}
	if used != given {
		t.Errorf("SeedDemo used password %q, want the given %q", used, given)
	}
	for _, username := range []string{"cm1", "cm2", "lead1", "admin"} {
		if _, err := a.Auth.StaffLogin(ctx, username, given, auth.Client{IP: "127.0.0.1"}); err != nil {
			t.Errorf("%s cannot log in with the given password: %v", username, err)
		}
	}
}

// TestPeriodicRemindersAreScheduled: the reminders of appointments,
// follow-up questionnaires and missed reporting are periodic jobs with a
// handler (unique tasks: see App.Worker).
func TestPeriodicRemindersAreScheduled(t *testing.T) {
	a := newApp(t)
	handlers := a.Handlers()
	scheduled := map[string]bool{}
	for _, job := range app.PeriodicJobs() {
		if handlers[job.Task] == nil {
			t.Errorf("periodic job %s has no handler", job.Task)
		}
		scheduled[job.Task] = true
	}
	// appointment.remind writes appointment reminders; notify.daily_reminders
	// plans questionnaire and missed-reporting reminders.
	for _, task := range []string{"appointment.remind", "notify.daily_reminders"} {
		if !scheduled[task] {
			t.Errorf("%s is not scheduled", task)
		}
	}
}

// TestPathwayAppointmentKindsAreAppointmentKinds: a pathway may propose
// only kinds the appointment feature books (careplan keeps its own list so
// that it need not import appointments).
func TestPathwayAppointmentKindsAreAppointmentKinds(t *testing.T) {
	got := slices.Sorted(slices.Values(careplan.AppointmentKinds))
	want := slices.Sorted(maps.Keys(appointment.Kinds))
	if !slices.Equal(got, want) {
		t.Fatalf("careplan.AppointmentKinds %v, appointment.Kinds %v", got, want)
	}
}
