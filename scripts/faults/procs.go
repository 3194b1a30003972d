package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/carepath/carepath/scripts/internal/harness"
)

// service is a Redis or MariaDB server of the run's own, on a free port
// under the run's temporary folder: the system ones (3306, 6379) are shared
// with other people and are never touched.
type service struct {
	name string
	addr string
	args []string // the command line that (re)starts it
	log  string
	cmd  *exec.Cmd
	up   func(ctx context.Context) error // answers when ready
}

func (s *service) start() error {
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C of the harness must not kill it before the clean-up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	go func() { _ = cmd.Wait(); f.Close() }()
	s.cmd = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		if err := s.up(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			s.stop()
			return fmt.Errorf("%s did not start in 60 s (log: %s)", s.name, s.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the server gracefully (SIGTERM: Redis writes its AOF, MariaDB
// closes its clients and flushes) and waits until its port is free.
func (s *service) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.cmd.Process.Signal(syscall.Signal(0)) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.cmd.Process.Signal(syscall.Signal(0)) == nil {
		_ = s.cmd.Process.Kill()
	}
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd = nil
}

// newRedis prepares redis-server on a free port, AOF on (queued jobs survive
// a restart), no RDB snapshots.
func newRedis(dir string) (*service, error) {
	addr, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	data := filepath.Join(dir, "redis")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	s := &service{name: "redis-server", addr: addr, log: filepath.Join(dir, "redis.log"),
		args: []string{"redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
			"--dir", data, "--daemonize", "no"}}
	s.up = func(ctx context.Context) error {
		rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer rdb.Close()
		return rdb.Ping(ctx).Err()
	}
	return s, nil
}

// newMariaDB initialises a data directory (mariadb-install-db) and prepares
// mariadbd on a free port: root without a password, as the current user
// (--user=root when that is root).
func newMariaDB(dir string) (*service, error) {
	addr, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	data := filepath.Join(dir, "mariadb")
	install := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user="+currentUser(),
		"--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v: %s", err, lastLines(string(out), 5))
	}
	s := &service{name: "mariadbd", addr: addr, log: filepath.Join(dir, "mariadb.log"),
		args: []string{"mariadbd", "--no-defaults", "--datadir=" + data, "--socket=" + filepath.Join(dir, "mariadb.sock"),
			"--port=" + port, "--bind-address=127.0.0.1", "--user=" + currentUser(), "--skip-log-bin",
			"--innodb-buffer-pool-size=64M", "--max-connections=300", "--pid-file=" + filepath.Join(dir, "mariadb.pid")}}
	s.up = func(ctx context.Context) error {
		db, err := sql.Open("mysql", "root@tcp("+addr+")/")
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	}
	return s, nil
}

// dsn names database name on the server.
func (s *service) dsn(name string) string {
	c := gomysql.NewConfig()
	c.User, c.Net, c.Addr, c.DBName, c.ParseTime = "root", "tcp", s.addr, name, true
	return c.FormatDSN()
}

func currentUser() string {
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	if os.Geteuid() == 0 {
		return "root"
	}
	out, err := exec.Command("id", "-un").Output()
	if err != nil {
		return "root"
	}
	return strings.TrimSpace(string(out))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
