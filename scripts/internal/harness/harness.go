// Package harness holds the pieces the load and fault scripts share: child
// processes that announce "ready <addr>", the server configuration a
// harness and its server child agree on, and real logins (patients through
// the fake WeChat login, staff through the desk's login).
package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"gorm.io/gorm"

	"github.com/carepath/carepath/internal/auth"
	"github.com/carepath/carepath/internal/notify"
	"github.com/carepath/carepath/internal/patient"
	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/database"
)

// Child is a process the harness started that printed "ready <addr>" on
// its first line of stdout; later lines arrive on Lines.
type Child struct {
	Cmd   *exec.Cmd
	Pid   int
	Addr  string
	Lines chan string
}

// StartChild runs self with args and waits (60 s at most) for "ready <addr>".
func StartChild(self string, args ...string) (*Child, error) {
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{Cmd: cmd, Pid: cmd.Process.Pid, Lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.Lines <- sc.Text()
		}
		close(c.Lines)
	}()
	select {
	case line, ok := <-c.Lines:
		if !ok || !strings.HasPrefix(line, "ready ") {
			_ = cmd.Wait()
			return nil, fmt.Errorf("%s did not start: %q", args[0], line)
		}
		c.Addr = strings.TrimPrefix(line, "ready ")
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start in 60 s", args[0])
	}
	return c, nil
}

// Stop ends the child with SIGTERM (once) and waits for it.
func (c *Child) Stop() {
	if c.Cmd.ProcessState != nil {
		return
	}
	_ = c.Cmd.Process.Signal(syscall.SIGTERM)
	_ = c.Cmd.Wait()
}

// Kill ends the child with SIGKILL (no drain, no clean-up) and waits for it.
func (c *Child) Kill() {
	if c.Cmd.ProcessState != nil {
		return
	}
	_ = c.Cmd.Process.Kill()
	_ = c.Cmd.Wait()
}

// ServerConfig is the configuration a harness and its server child share:
// the same data directory holds the dev secrets, so fields encrypted while
// seeding decrypt in the server.
func ServerConfig(dsn, redisAddr, dataDir string, pool int) config.Config {
	c := config.Defaults()
	c.DataDir = dataDir
	c.Database = config.Database{Driver: "mysql", DSN: dsn, MaxOpenConns: pool, MaxIdleConns: pool, ConnMaxLifetime: time.Hour}
	c.Redis.Addrs = []string{redisAddr}
	c.WeChat.Fake = true
	RaiseAbuseLimits(&c.Limits)
	return c
}

// RaiseAbuseLimits puts the per-IP and per-user limits out of reach: the load
// comes from one address standing for a hospital's worth of phones, and one
// case manager sends far more than a person types.
func RaiseAbuseLimits(l *config.Limits) {
	const far = 1_000_000
	l.StaffLoginPerIP, l.WeChatLoginPerIP, l.RefreshPerIP = far, far, far
	l.MessagesPerUser, l.MessagesPerIP, l.UploadsPerUser, l.InvitationsPerUser = far, far, far, far
}

// FreePort returns a loopback address nobody listens on (at the time of the call).
func FreePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// LoginPatients logs each patient in through the (fake) WeChat login, as
// the mini-program does, links the new WeChat user to the patient and
// returns the access tokens and WeChat user ids by patient id. Codes are
// "test-<tag><i>~<nonce>", so a tag gives each run's patients their own openids.
func LoginPatients(ctx context.Context, db *gorm.DB, base, tag string, patients []string) (tokens, users map[string]string, err error) {
	tokens, users = map[string]string{}, map[string]string{}
	for i, pid := range patients {
		body := strings.NewReader(fmt.Sprintf(`{"code":"test-%s%05d~%d"}`, tag, i, time.Now().UnixNano()))
		resp, err := http.Post(base+"/api/v1/auth/wechat/login", "application/json", body)
		if err != nil {
			return nil, nil, err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			UserID      string `json:"user_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if err != nil || tok.AccessToken == "" {
			return nil, nil, fmt.Errorf("login patient %d: %s %v", i, resp.Status, err)
		}
		if err := db.WithContext(ctx).Exec("UPDATE patients SET user_id = ? WHERE id = ?", tok.UserID, pid).Error; err != nil {
			return nil, nil, err
		}
		tokens[pid], users[pid] = tok.AccessToken, tok.UserID
	}
	return tokens, users, nil
}

// StaffSession is a desk login: the Cookie header and the CSRF token unsafe requests carry.
type StaffSession struct{ Cookie, CSRF string }

// StaffLogin signs a staff member in to the desk.
func StaffLogin(base, username, password string) (StaffSession, error) {
	body := strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, username, password))
	resp, err := http.Post(base+"/api/v1/auth/staff/login", "application/json", body)
	if err != nil {
		return StaffSession{}, err
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	var parts []string
	for _, c := range resp.Cookies() {
		parts = append(parts, c.Name+"="+c.Value)
	}
	if resp.StatusCode != http.StatusOK || len(parts) == 0 {
		return StaffSession{}, fmt.Errorf("login %s: %s", username, resp.Status)
	}
	return StaffSession{Cookie: strings.Join(parts, "; "), CSRF: out.CSRF}, nil
}

// SeedPushRecipients inserts n patients with WeChat accounts (openids
// openIDPrefix0, openIDPrefix1, …) and quota credits each for templateID,
// in batches of 1000, and returns the patient ids in openid order.
func SeedPushRecipients(ctx context.Context, db *gorm.DB, hospitalID, deptID, templateID, openIDPrefix string, n, quota int) ([]string, error) {
	const batch = 1000
	now := time.Now().UTC()
	ids := make([]string, 0, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		users := make([]auth.User, 0, hi-lo)
		pats := make([]patient.Patient, 0, hi-lo)
		subs := make([]notify.Subscription, 0, hi-lo)
		for i := lo; i < hi; i++ {
			openID := fmt.Sprintf("%s%d", openIDPrefix, i)
			u := auth.User{ID: database.NewID(), OpenID: &openID, Status: auth.StatusActive, CreatedAt: now, UpdatedAt: now}
			p := patient.Patient{ID: database.NewID(), HospitalID: hospitalID, DepartmentID: deptID, UserID: &u.ID,
				MRN: fmt.Sprintf("PUSH%05d-%07d", now.Unix()%100000, i), Gender: "U", RiskLevel: patient.RiskLow,
				Status: patient.StatusActive, CreatedAt: now, UpdatedAt: now}
			users, pats = append(users, u), append(pats, p)
			subs = append(subs, notify.Subscription{ID: database.NewID(), UserID: u.ID, TemplateID: templateID, Quota: quota,
				Status: notify.ResultAccept, Accepted: quota, CreatedAt: now, UpdatedAt: now})
			ids = append(ids, p.ID)
		}
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&users).Error; err != nil {
				return err
			}
			if err := tx.Create(&pats).Error; err != nil {
				return err
			}
			return tx.Create(&subs).Error
		})
		if err != nil {
			return nil, fmt.Errorf("seed push recipients: %w", err)
		}
	}
	return ids, nil
}

// ReadSpec reads a load child's JSON spec named by its -spec flag.
func ReadSpec[T any](args []string) (T, error) {
	var spec T
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	path := fs.String("spec", "", "JSON load spec")
	if err := fs.Parse(args); err != nil {
		return spec, err
	}
	b, err := os.ReadFile(*path)
	if err != nil {
		return spec, err
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		return spec, fmt.Errorf("load spec %s: %w", *path, err)
	}
	return spec, nil
}
