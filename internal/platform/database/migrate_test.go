package database_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

// TestMigrationsRollBackAndReapply proves every migration's Rollback undoes
// its Migrate on this database (SQLite, or MariaDB in CI), and that the
// schema can be rebuilt after.
func TestMigrationsRollBackAndReapply(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	if err := database.CheckCurrent(ctx, db); err != nil {
		t.Fatalf("fresh test database is not current: %v", err)
	}
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, database.Migrations())
	for range database.Migrations() {
		if err := m.RollbackLast(); err != nil {
			t.Fatalf("rollback: %v", err)
		}
	}
	for _, table := range []string{"patients", "users", "staff", "outbox_events", "thread_messages", "family_invitations", "consents"} {
		if db.Migrator().HasTable(table) {
			t.Errorf("table %s survived the rollback", table)
		}
	}
	if err := database.CheckCurrent(ctx, db); err == nil {
		t.Fatal("CheckCurrent accepted a rolled-back schema")
	}
	if err := database.Migrate(ctx, db); err != nil {
		t.Fatalf("re-migrate: %v", err)
	}
	if err := database.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate is not idempotent: %v", err)
	}
	if err := database.CheckCurrent(ctx, db); err != nil {
		t.Fatalf("after re-migrating: %v", err)
	}
}

// TestFamilyMigrationKeysExistingLinks: links made before 0008 get their
// active key, so the one-active-link-per-pair rule holds for them too.
func TestFamilyMigrationKeysExistingLinks(t *testing.T) {
	db := dbtest.New(t)
	ctx := context.Background()
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, database.Migrations())
	if err := m.RollbackTo("0002_outbox"); err != nil {
		t.Fatalf("roll back to 0002: %v", err)
	}
	if db.Migrator().HasColumn("family_links", "active_key") {
		t.Fatal("family_links.active_key survived the rollback")
	}
	for i, status := range []string{"active", "revoked"} {
		if err := db.Exec("INSERT INTO family_links (id, patient_id, user_id, relationship, scopes, status, created_at, updated_at) VALUES (?, 'p1', ?, '女儿', 'view_plan', ?, ?, ?)",
			database.NewID(), "u"+string(rune('1'+i)), status, time.Now().UTC(), time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := database.Migrate(ctx, db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var keys []string
	db.Raw("SELECT COALESCE(active_key, '-') FROM family_links ORDER BY user_id").Scan(&keys)
	if len(keys) != 2 || keys[0] != "p1:u1" || keys[1] != "-" {
		t.Fatalf("active keys %v, want [p1:u1 -]", keys)
	}
	err := db.Exec("INSERT INTO family_links (id, patient_id, user_id, relationship, scopes, status, active_key, created_at, updated_at) VALUES (?, 'p1', 'u1', '儿子', '', 'active', 'p1:u1', ?, ?)",
		database.NewID(), time.Now().UTC(), time.Now().UTC()).Error
	if err == nil {
		t.Fatal("a second active link for the same patient and relative was stored")
	}
}

// TestSealedReasonsMigrationKeepsClearRows: reasons stored in the clear
// before 0015 come through it as they were, flagged clear, so they read as
// before until `carepath reseal` seals them (internal/app's reseal test).
func TestSealedReasonsMigrationKeepsClearRows(t *testing.T) {
	db := dbtest.New(t)
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, database.Migrations())
	if err := m.RollbackTo("0014_sealed_alert_notes"); err != nil {
		t.Fatalf("roll back to 0014: %v", err)
	}
	now := time.Now().UTC()
	reason := "家里有事" + strings.Repeat("事", 251) // the longest allowed, 255 characters
	if err := db.Exec(`INSERT INTO appointments (id, patient_id, hospital_id, kind, title, starts_at, ends_at, directions, preparation,
		status, cancel_reason, reschedule_note, preferred_times, created_by_id, created_at, updated_at)
		VALUES (?, 'p1', 'h1', 'revisit', '', ?, ?, '', '', 'cancelled', ?, '想改到下午', '', 'cm1', ?, ?)`,
		database.NewID(), now, now, reason, now, now).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO account_deactivations (id, user_id, reason, deactivated_at, created_at) VALUES (?, 'u1', '不再需要', ?, ?)",
		database.NewID(), now, now).Error; err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, c := range []struct{ query, want string }{
		{"SELECT cancel_reason FROM appointments WHERE cancel_reason_sealed = ?", reason},
		{"SELECT reschedule_note FROM appointments WHERE reschedule_note_sealed = ?", "想改到下午"},
		{"SELECT reason FROM account_deactivations WHERE reason_sealed = ?", "不再需要"},
	} {
		var got []string
		if err := db.Raw(c.query, false).Scan(&got).Error; err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %q, %v; want the clear text kept", c.query, got, err)
		}
	}
}

// TestPlannedAdmissionsMigrationLeavesEventsUnplanned: events recorded
// before 0016 were never said to be planned, so they count as unplanned
// readmissions, as they did before.
func TestPlannedAdmissionsMigrationLeavesEventsUnplanned(t *testing.T) {
	db := dbtest.New(t)
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, database.Migrations())
	if err := m.RollbackTo("0015_sealed_reasons"); err != nil {
		t.Fatalf("roll back to 0015: %v", err)
	}
	if db.Migrator().HasColumn("care_plan_anchors", "planned") {
		t.Fatal("care_plan_anchors.planned survived the rollback")
	}
	if err := db.Exec("INSERT INTO care_plan_anchors (id, plan_id, anchor, on_date, recorded_at, recorded_by) VALUES (?, 'plan1', 'admission', '2026-03-01', ?, 'cm1')",
		database.NewID(), time.Now().UTC()).Error; err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var planned []bool
	if err := db.Raw("SELECT planned FROM care_plan_anchors WHERE plan_id = 'plan1'").Scan(&planned).Error; err != nil {
		t.Fatal(err)
	}
	if len(planned) != 1 || planned[0] {
		t.Fatalf("planned %v after migrating, want [false]", planned)
	}
}

// TestPlanClosureMigrationLeavesPlansAsTheyWere: plans stored before 0017
// keep their status and active key and read as not closed by anyone, and
// a closing note of the longest allowed length, sealed, fits.
func TestPlanClosureMigrationLeavesPlansAsTheyWere(t *testing.T) {
	db := dbtest.New(t)
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, database.Migrations())
	if err := m.RollbackTo("0016_planned_admissions"); err != nil {
		t.Fatalf("roll back to 0016: %v", err)
	}
	if db.Migrator().HasColumn("care_plans", "close_reason") {
		t.Fatal("care_plans.close_reason survived the rollback")
	}
	now := time.Now().UTC()
	if err := db.Exec(`INSERT INTO care_plans (id, patient_id, pathway_key, pathway_version, status, active_key, stage_key, stage_entered_at,
		risk_level, risk_computed, enrolled_by, created_at, updated_at) VALUES ('plan1', 'p1', 'hf', 1, 'active', 'p1:hf', 'post', ?, 'high', 'high', 'cm1', ?, ?)`,
		now, now, now).Error; err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var row struct {
		Status, ActiveKey, CloseReason, CloseNote, ClosedBy string
		CloseNoteSealed                                     bool
	}
	if err := db.Raw("SELECT status, active_key, close_reason, close_note, close_note_sealed, closed_by FROM care_plans WHERE id = 'plan1'").Scan(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.Status != "active" || row.ActiveKey != "p1:hf" || row.CloseReason != "" || row.CloseNote != "" || row.CloseNoteSealed || row.ClosedBy != "" {
		t.Fatalf("plan after migrating: %+v, want it active, keyed and not closed", row)
	}
	sealed := "k1:" + strings.Repeat("A", 1100) // about what a sealed 200-character note takes
	if err := db.Exec("UPDATE care_plans SET close_note = ?, close_note_sealed = ? WHERE id = 'plan1'", sealed, true).Error; err != nil {
		t.Fatalf("a sealed 200-character note does not fit: %v", err)
	}
}
