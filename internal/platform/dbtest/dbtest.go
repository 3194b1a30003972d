// Package dbtest gives each test a fresh, migrated database and a Redis:
// SQLite and an in-process Redis by default, or the real MariaDB/MySQL and
// Redis named by CAREPATH_TEST_MYSQL_DSN and CAREPATH_TEST_REDIS_ADDR.
// When those are set, an unreachable server fails the test instead of
// silently falling back, and each use is counted so CI can prove the real
// suites ran.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/carepath/carepath/internal/platform/database"
)

// MySQLDSN is the DSN of the real test server, empty when the tests run on SQLite.
func MySQLDSN() string { return os.Getenv("CAREPATH_TEST_MYSQL_DSN") }

// RedisAddr is the address of the real test Redis, empty when tests use miniredis.
func RedisAddr() string { return os.Getenv("CAREPATH_TEST_REDIS_ADDR") }

// New returns a fresh migrated database for t, removed when t ends.
func New(t testing.TB) *gorm.DB {
	t.Helper()
	if dsn := MySQLDSN(); dsn != "" {
		return newMySQL(t, dsn)
	}
	return newSQLite(t)
}

var template struct {
	once sync.Once
	path string // SQLite: a migrated file copied for each test
	db   string // MySQL: a migrated database whose tables each test clones
	err  error
}

func newSQLite(t testing.TB) *gorm.DB {
	template.once.Do(func() {
		dir, err := os.MkdirTemp("", "carepath-dbtest-")
		if err != nil {
			template.err = err
			return
		}
		template.path = filepath.Join(dir, "template.db")
		db, err := database.Open(context.Background(), database.Options{Driver: "sqlite", DSN: template.path})
		if err != nil {
			template.err = err
			return
		}
		template.err = database.Migrate(context.Background(), db)
		// Fold the WAL into the main file so that copying one file copies everything.
		db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if template.err != nil {
		t.Fatalf("dbtest: migrate template: %v", template.err)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if err := copyFile(template.path, path); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return open(t, database.Options{Driver: "sqlite", DSN: path})
}

// opened remembers how each test database was opened, for Reopen.
var opened sync.Map // *gorm.DB → database.Options

// open connects to a test database and closes it when t ends.
func open(t testing.TB, o database.Options) *gorm.DB {
	t.Helper()
	db, err := database.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	opened.Store(db, o)
	t.Cleanup(func() {
		opened.Delete(db)
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// Reopen connects again to the database of db, as another process of the
// service would: its own connections and its own gorm callbacks.
func Reopen(t testing.TB, db *gorm.DB) *gorm.DB {
	t.Helper()
	o, ok := opened.Load(db)
	if !ok {
		t.Fatalf("dbtest: Reopen of a database dbtest did not open")
	}
	return open(t, o.(database.Options))
}

func newMySQL(t testing.TB, dsn string) *gorm.DB {
	ctx := context.Background()
	admin, err := database.Open(ctx, database.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 2, MaxIdleConns: 1})
	if err != nil {
		t.Fatalf("dbtest: CAREPATH_TEST_MYSQL_DSN is set but: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	template.once.Do(func() {
		template.db = "cptest_tpl_" + randomSuffix()
		if template.err = admin.Exec("CREATE DATABASE " + template.db).Error; template.err != nil {
			return
		}
		var tdb *gorm.DB
		if tdb, template.err = database.Open(ctx, database.Options{Driver: "mysql", DSN: withDB(dsn, template.db), MaxOpenConns: 2}); template.err != nil {
			return
		}
		template.err = database.Migrate(ctx, tdb)
		if sqlDB, err := tdb.DB(); err == nil {
			sqlDB.Close()
		}
	})
	if template.err != nil {
		t.Fatalf("dbtest: migrate MySQL template: %v", template.err)
	}
	name := "cptest_" + randomSuffix()
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + name) })
	var tables []string
	if err := admin.Raw("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", template.db).Scan(&tables).Error; err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	for _, tbl := range tables {
		if err := admin.Exec(fmt.Sprintf("CREATE TABLE %s.%s LIKE %s.%s", name, tbl, template.db, tbl)).Error; err != nil {
			t.Fatalf("dbtest: clone %s: %v", tbl, err)
		}
	}
	if err := admin.Exec(fmt.Sprintf("INSERT INTO %s.schema_migrations SELECT * FROM %s.schema_migrations", name, template.db)).Error; err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	// CREATE TABLE … LIKE copies no triggers (the audit log's append-only guard): recreate them.
	var triggers []struct {
		Name, Timing, Event, Table, Body string
	}
	if err := admin.Raw(`SELECT trigger_name AS name, action_timing AS timing, event_manipulation AS event,
		event_object_table AS `+"`table`"+`, action_statement AS body
		FROM information_schema.triggers WHERE trigger_schema = ?`, template.db).Scan(&triggers).Error; err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	for _, tr := range triggers {
		stmt := fmt.Sprintf("CREATE TRIGGER %s.%s %s %s ON %s.%s FOR EACH ROW %s", name, tr.Name, tr.Timing, tr.Event, name, tr.Table, tr.Body)
		if err := admin.Exec(stmt).Error; err != nil {
			t.Fatalf("dbtest: clone trigger %s: %v", tr.Name, err)
		}
	}
	countUse(admin, "mysql", t.Name())
	return open(t, database.Options{Driver: "mysql", DSN: withDB(dsn, name), MaxOpenConns: 10, MaxIdleConns: 5})
}

// DropTemplate removes the MySQL template database; call it from TestMain after m.Run.
func DropTemplate() {
	dsn := MySQLDSN()
	if dsn == "" || template.db == "" {
		return
	}
	admin, err := database.Open(context.Background(), database.Options{Driver: "mysql", DSN: dsn, MaxOpenConns: 1})
	if err != nil {
		return
	}
	admin.Exec("DROP DATABASE IF EXISTS " + template.db)
	if sqlDB, err := admin.DB(); err == nil {
		sqlDB.Close()
	}
}

// countUse records in the DSN's own database that a real-server suite ran,
// so .ci/run can fail when everything was silently skipped.
func countUse(admin *gorm.DB, kind, test string) {
	admin.Exec("CREATE TABLE IF NOT EXISTS dbtest_runs (kind VARCHAR(16), test VARCHAR(255), at DATETIME)")
	admin.Exec("INSERT INTO dbtest_runs (kind, test, at) VALUES (?, ?, ?)", kind, test, time.Now().UTC())
}

// Redis returns a Redis client and a key prefix unique to t. With
// CAREPATH_TEST_REDIS_ADDR it is the real server (keys under the prefix are
// deleted when t ends); otherwise a fresh in-process miniredis.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	prefix := "cptest:" + randomSuffix() + ":"
	addr := RedisAddr()
	if addr == "" {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		return rdb, prefix
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("dbtest: CAREPATH_TEST_REDIS_ADDR=%s is set but: %v", addr, err)
	}
	rdb.Incr(ctx, "carepath:ci:redis_runs")
	t.Cleanup(func() {
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

func withDB(dsn, name string) string {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return dsn
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// CheckColumns fails t unless columns (comma-separated, as a hand-written
// scan selects them) are exactly model's columns: a column added to the
// model must be scanned too, or it would read as empty.
func CheckColumns(t testing.TB, model any, columns string) {
	t.Helper()
	sch, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(sch.DBNames))
	got := slices.Sorted(slices.Values(strings.Split(columns, ", ")))
	if !slices.Equal(got, want) {
		t.Fatalf("the scan reads %v, %T has %v", got, model, want)
	}
}
