package dbtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/carepath/carepath/internal/platform/database"
	"github.com/carepath/carepath/internal/platform/dbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.DropTemplate()
	os.Exit(code)
}

func TestNewIsMigrated(t *testing.T) {
	db := dbtest.New(t)
	if got, want := database.IsMySQL(db), dbtest.MySQLDSN() != ""; got != want {
		t.Errorf("database.IsMySQL = %v, want %v (CAREPATH_TEST_MYSQL_DSN set: %v)", got, want, want)
	}
	for _, table := range []string{"patients", "hospitals", "staff", "schema_migrations"} {
		if !db.Migrator().HasTable(table) {
			t.Errorf("table %s is missing from a fresh test database", table)
		}
	}
	var ids []string
	if err := db.Table("schema_migrations").Order("id").Pluck("id", &ids).Error; err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	want := map[string]bool{}
	for _, m := range database.Migrations() {
		want[m.ID] = true
	}
	if !want["0001_foundation"] {
		t.Fatalf("database.Migrations() lacks 0001_foundation")
	}
	got := map[string]bool{}
	for _, id := range ids {
		got[id] = true
	}
	for id := range want {
		if !got[id] {
			t.Errorf("schema_migrations lacks %s; got %q", id, ids)
		}
	}
	if err := database.CheckCurrent(context.Background(), db); err != nil {
		t.Errorf("CheckCurrent on a fresh test database: %v", err)
	}
}

func TestNewIsIsolated(t *testing.T) {
	first, second := dbtest.New(t), dbtest.New(t)
	now := time.Now().UTC()
	if err := first.Exec("INSERT INTO hospitals (id, code, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		database.NewID(), "H001", "第一人民医院", now, now).Error; err != nil {
		t.Fatalf("insert hospital: %v", err)
	}
	counts := []struct {
		name string
		want int64
		got  func() (int64, error)
	}{
		{"the database written to", 1, func() (int64, error) {
			var n int64
			return n, first.Table("hospitals").Count(&n).Error
		}},
		{"the other database", 0, func() (int64, error) {
			var n int64
			return n, second.Table("hospitals").Count(&n).Error
		}},
		{"a database created afterwards", 0, func() (int64, error) {
			var n int64
			return n, dbtest.New(t).Table("hospitals").Count(&n).Error
		}},
	}
	for _, c := range counts {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.got()
			if err != nil {
				t.Fatalf("count hospitals: %v", err)
			}
			if got != c.want {
				t.Errorf("hospitals rows = %d, want %d", got, c.want)
			}
		})
	}
}

func TestRedis(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := dbtest.Redis(t)
	if prefix == "" {
		t.Fatal("Redis returned an empty key prefix")
	}
	key := prefix + "greeting"
	if err := rdb.Set(ctx, key, "你好", time.Minute).Err(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	got, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if want := "你好"; got != want {
		t.Errorf("GET %s = %q, want %q", key, got, want)
	}
	_, otherPrefix := dbtest.Redis(t)
	if otherPrefix == prefix {
		t.Errorf("two Redis calls share the prefix %q, want a prefix per call", prefix)
	}
}
