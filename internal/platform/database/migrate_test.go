package database_test

import (
	"context"
	"os"
	"testing"

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
	for _, table := range []string{"patients", "users", "staff", "outbox_events", "thread_messages"} {
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
