package database

import (
	"context"
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// Migrations lists every schema change in order. Each migration creates tables
// from snapshot structs of its own, never from the live models, so that an old
// migration keeps meaning what it meant when it shipped. Append; never edit.
func Migrations() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		m0001Foundation(),
		m0002Outbox(),
		m0003Careplan(),
		m0004Observations(),
		m0005Messaging(),
		m0008Family(),
		m0006Notify(),
		m0007Appointments(), // after 0008: issue 7 merged later; the list order is the order applied
		m0009QuestionnaireSchedule(),
		m0010Privacy(),
		m0011AppointmentProposals(),
		m0012SealedNotes(),
		m0013SealedReadingNotes(),
		m0014SealedAlertNotes(),
		m0015SealedReasons(),
		m0016PlannedAdmissions(),
		m0017PlanClosure(),
	}
}

// Migrate brings the schema up to date. On MySQL a named lock keeps two
// instances started together from migrating at once.
func Migrate(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx)
	if IsMySQL(db) {
		conn, err := db.DB()
		if err != nil {
			return err
		}
		c, err := conn.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer c.Close()
		var got int
		if err := c.QueryRowContext(ctx, "SELECT GET_LOCK('carepath_migrate', 60)").Scan(&got); err != nil || got != 1 {
			return fmt.Errorf("migrate: could not take the migration lock (another instance migrating?): %v", err)
		}
		defer c.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK('carepath_migrate')") //nolint:errcheck // released with the connection anyway
	}
	m := gormigrate.New(db, &gormigrate.Options{TableName: "schema_migrations", IDColumnName: "id", IDColumnSize: 64}, Migrations())
	if err := m.Migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// table names a snapshot struct's table explicitly, so the schema never
// depends on gorm's pluralisation rules.
type table struct {
	name  string
	model any
}

// createTables creates each snapshot table; on MySQL with InnoDB and utf8mb4.
func createTables(tx *gorm.DB, tables ...table) error {
	if IsMySQL(tx) {
		tx = tx.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")
	}
	for _, t := range tables {
		if err := tx.Table(t.name).Migrator().CreateTable(t.model); err != nil {
			return fmt.Errorf("create table %s: %w", t.name, err)
		}
	}
	return nil
}

func dropTables(tx *gorm.DB, tables ...table) error {
	for i := len(tables) - 1; i >= 0; i-- {
		if err := tx.Migrator().DropTable(tables[i].name); err != nil {
			return fmt.Errorf("drop table %s: %w", tables[i].name, err)
		}
	}
	return nil
}

// CheckCurrent fails when migrations are pending, so a server never runs
// against a schema older than its code. (Production does not migrate at start.)
func CheckCurrent(ctx context.Context, db *gorm.DB) error {
	var applied []string
	if err := db.WithContext(ctx).Table("schema_migrations").Pluck("id", &applied).Error; err != nil {
		return fmt.Errorf("the database has no schema yet: run `carepath migrate` first (%v)", err)
	}
	have := make(map[string]bool, len(applied))
	for _, id := range applied {
		have[id] = true
	}
	for _, m := range Migrations() {
		if !have[m.ID] {
			return fmt.Errorf("database schema is behind (migration %s pending): run `carepath migrate` first", m.ID)
		}
	}
	return nil
}

// addColumn adds a column unless the table has it already: on MySQL each
// ALTER commits by itself, so a migration stopped half-way (a lock wait on a
// busy table) is run again from the start.
func addColumn(tx *gorm.DB, table, column, definition string) error {
	if tx.Migrator().HasColumn(table, column) {
		return nil
	}
	return tx.Exec("ALTER TABLE " + table + " ADD COLUMN " + column + " " + definition).Error
}

// dropColumn drops a column in raw SQL: gorm's SQLite migrator cannot drop
// one by table name alone.
func dropColumn(tx *gorm.DB, table, column string) error {
	return tx.Exec("ALTER TABLE " + table + " DROP COLUMN " + column).Error
}

// emptyText is a TEXT column, not null, empty by default: MySQL 8 takes a
// TEXT column's default only as an expression.
func emptyText(tx *gorm.DB) string {
	if IsMySQL(tx) {
		return "TEXT NOT NULL DEFAULT ('')"
	}
	return "TEXT NOT NULL DEFAULT ''"
}
