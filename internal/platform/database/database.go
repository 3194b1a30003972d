// Package database opens the gorm connection (MySQL/MariaDB or the embedded
// SQLite file) and owns the versioned schema migrations. It holds no business rules.
package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Options selects and tunes the database.
type Options struct {
	Driver          string // mysql | sqlite
	DSN             string // for mysql: user:pass@tcp(host:port)/db?...; for sqlite: a file path
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Open connects and pings, so that a wrong address fails at start with one clear line.
func Open(ctx context.Context, o Options) (*gorm.DB, error) {
	var dialector gorm.Dialector
	switch o.Driver {
	case "mysql":
		dsn, err := mysqlDSN(o.DSN)
		if err != nil {
			return nil, err
		}
		dialector = mysql.Open(dsn)
	case "sqlite", "":
		if err := os.MkdirAll(filepath.Dir(o.DSN), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		// WAL lets readers run beside the writer; IMMEDIATE transactions take the write
		// lock up front so two writers queue on busy_timeout instead of deadlocking.
		dialector = sqlite.Open("file:" + o.DSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	default:
		return nil, fmt.Errorf("unknown database driver %q", o.Driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                                   logger.Discard,
		NowFunc:                                  func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
	})
	if err != nil {
		return nil, describe(o, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if o.Driver == "mysql" {
		sqlDB.SetMaxOpenConns(max(o.MaxOpenConns, 1))
		sqlDB.SetMaxIdleConns(max(o.MaxIdleConns, 1))
		sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
	} else {
		// One writer at a time is SQLite's model; a small pool serves readers in WAL mode.
		sqlDB.SetMaxOpenConns(4)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, describe(o, err)
	}
	return db, nil
}

// mysqlDSN adds the options every CarePath connection needs: UTC times parsed
// into time.Time and utf8mb4 for Chinese text and emoji. interpolateParams
// sends a query with its arguments in one round trip instead of three
// (prepare, execute, close); it is safe because the charset is utf8mb4.
func mysqlDSN(dsn string) (string, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("database.dsn is not a valid MySQL DSN: %w", err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = "utf8mb4"
	if cfg.Collation == "" {
		cfg.Collation = "utf8mb4_unicode_ci"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	// A server that stops answering mid-query must not hold a request forever.
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	cfg.InterpolateParams = true
	return cfg.FormatDSN(), nil
}

// describe turns a connection failure into one line that names the address.
func describe(o Options, err error) error {
	addr := o.DSN
	if o.Driver == "mysql" {
		if cfg, perr := gomysql.ParseDSN(o.DSN); perr == nil {
			addr = cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
		}
	}
	var netErr net.Error
	msg := err.Error()
	if errors.As(err, &netErr) {
		msg = "unreachable: " + msg
	}
	return fmt.Errorf("cannot connect to %s database at %s: %s", driverName(o.Driver), addr, strings.TrimSpace(msg))
}

func driverName(d string) string {
	if d == "" {
		return "sqlite"
	}
	return d
}

// NewID returns a new UUIDv7: time-ordered (good index locality) and not guessable.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// IsMySQL reports whether db talks to MySQL/MariaDB.
func IsMySQL(db *gorm.DB) bool { return db.Dialector.Name() == "mysql" }

// Ping checks the connection for readiness probes.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// IsDeadlock reports whether err is MySQL choosing this transaction as a
// deadlock victim: it was rolled back entirely and may simply be run again.
func IsDeadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}
