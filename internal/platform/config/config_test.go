package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/carepath/carepath/internal/platform/config"
)

const examplePath = "../../../configs/carepath.example.yaml"

// productionSecrets are the settings production needs that a config file must not hold.
var productionSecrets = []string{
	"CAREPATH_DATABASE_DSN=carepath:dbpass-5e6f@tcp(db:3306)/carepath?parseTime=true",
	"CAREPATH_WECHAT_APP_ID=wx1234567890abcdef",
	"CAREPATH_WECHAT_APP_SECRET=appsecret-0123456789abcdef",
	"CAREPATH_AUTH_TOKEN_SECRET=token-secret-0123456789-0123456789-abcdef",
	"CAREPATH_CRYPTO_KEYS=k1:MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
	"CAREPATH_CRYPTO_BLIND_INDEX_KEY=blind-index-key-0123456789-0123456789",
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	got, err := config.Load("", nil)
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	if diff := cmp.Diff(config.Defaults(), got); diff != "" {
		t.Errorf("Load with nothing set differs from Defaults (-want +got):\n%s", diff)
	}
	if err := config.Defaults().Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v, want nil", err)
	}
	if !got.Embedded() {
		t.Errorf("Defaults().Embedded() = false, want true")
	}
	if got.Audit.RetentionDays != 365 {
		t.Errorf("audit.retention_days default %d, want 365", got.Audit.RetentionDays)
	}
}

func TestLoadLayers(t *testing.T) {
	file := writeFile(t, "carepath.yaml", `
data_dir: /srv/carepath
timezone: Asia/Urumqi
http:
  addr: ":9000"
  shutdown_timeout: 30s
database:
  max_open_conns: 50
redis:
  addrs: [file-redis:6379]
wechat:
  app_id: wxfile
auth:
  refresh_ttl: 168h
log:
  format: text
`)
	tests := []struct {
		name    string
		path    string
		environ []string
		want    func(*config.Config)
	}{
		{
			name: "file overrides defaults",
			path: file,
			want: func(c *config.Config) {
				c.DataDir = "/srv/carepath"
				c.Timezone = "Asia/Urumqi"
				c.HTTP.Addr = ":9000"
				c.HTTP.ShutdownTimeout = 30 * time.Second
				c.Database.MaxOpenConns = 50
				c.Redis.Addrs = []string{"file-redis:6379"}
				c.WeChat.AppID = "wxfile"
				c.Auth.RefreshTTL = 168 * time.Hour
				c.Log.Format = "text"
			},
		},
		{
			name: "environment overrides file",
			path: file,
			environ: []string{
				"CAREPATH_HTTP_ADDR=127.0.0.1:8181",
				"CAREPATH_DATA_DIR=/var/lib/carepath",
				"CAREPATH_REDIS_ADDRS=a:1, b:2",
				"CAREPATH_WECHAT_APP_ID=wxenv",
				"CAREPATH_AUTH_LOCKOUT_THRESHOLD=3",
				"CAREPATH_AUTH_ACCESS_TTL=5m",
				"CAREPATH_WECHAT_FAKE=true",
				"CAREPATH_HTTP_TRUSTED_PROXIES=10.0.0.0/8,192.168.1.10",
			},
			want: func(c *config.Config) {
				c.DataDir = "/var/lib/carepath"
				c.Timezone = "Asia/Urumqi"
				c.HTTP.Addr = "127.0.0.1:8181"
				c.HTTP.ShutdownTimeout = 30 * time.Second
				c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.10"}
				c.Database.MaxOpenConns = 50
				c.Redis.Addrs = []string{"a:1", "b:2"}
				c.WeChat.AppID = "wxenv"
				c.WeChat.Fake = true
				c.Auth.RefreshTTL = 168 * time.Hour
				c.Auth.AccessTTL = 5 * time.Minute
				c.Auth.LockoutThreshold = 3
				c.Log.Format = "text"
			},
		},
		{
			name:    "environment without a file",
			environ: []string{"CAREPATH_ENV=dev", "CAREPATH_DATABASE_DRIVER=sqlite", "CAREPATH_LOG_LEVEL=debug"},
			want: func(c *config.Config) {
				c.Database.Driver = "sqlite"
				c.Log.Level = "debug"
			},
		},
		{
			name: "variables that are not settings are ignored",
			environ: []string{
				"CAREPATH_TEST_MYSQL_DSN=root@tcp(127.0.0.1:3306)/test",
				"CAREPATH_TEST_REDIS_ADDR=127.0.0.1:6379",
				"CAREPATH_CONFIG=/etc/carepath/carepath.yaml",
				"PATH=/usr/bin",
				"HOME=/root",
			},
			want: func(*config.Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Load(tt.path, tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := config.Defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	const secret = "file-secret-0123456789-0123456789-abcdef"
	path := writeFile(t, "token_secret", "\n  "+secret+"  \n")
	got, err := config.Load("", []string{"CAREPATH_AUTH_TOKEN_SECRET_FILE=" + path})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Auth.TokenSecret != secret {
		t.Errorf("Auth.TokenSecret = %q, want %q (the file's content, trimmed)", got.Auth.TokenSecret, secret)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // YAML content; empty means no file
		environ []string
		want    []string // substrings of the error
	}{
		{
			name:    "unknown variable",
			environ: []string{"CAREPATH_HTTP_ADRR=:9000"},
			want:    []string{"CAREPATH_HTTP_ADRR"},
		},
		{
			name:    "audit retention below 180 days",
			environ: []string{"CAREPATH_AUDIT_RETENTION_DAYS=90"},
			want:    []string{"audit.retention_days is 90", "at least 180 days"},
		},
		{
			name: "audit retention below 180 days in the file",
			file: "audit:\n  retention_days: 179\n",
			want: []string{"audit.retention_days is 179"},
		},
		{
			name:    "unknown _FILE variable",
			environ: []string{"CAREPATH_NO_SUCH_SETTING_FILE=/etc/hostname"},
			want:    []string{"CAREPATH_NO_SUCH_SETTING_FILE"},
		},
		{
			name:    "missing secret file",
			environ: []string{"CAREPATH_WECHAT_APP_SECRET_FILE=/nonexistent/carepath/app_secret"},
			want:    []string{"CAREPATH_WECHAT_APP_SECRET_FILE", "/nonexistent/carepath/app_secret"},
		},
		{
			name:    "push AES key of the wrong length, without an app id",
			environ: []string{"CAREPATH_WECHAT_PUSH_AES_KEY=tooshort"},
			want:    []string{"wechat.push_aes_key must be the 43-character EncodingAESKey", "needs wechat.app_id"},
		},
		{
			name:    "push AES key that is not base64",
			environ: []string{"CAREPATH_WECHAT_APP_ID=wx1", "CAREPATH_WECHAT_PUSH_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDE!!"},
			want:    []string{"wechat.push_aes_key must be the 43-character EncodingAESKey"},
		},
		{
			name:    "production without secrets",
			environ: []string{"CAREPATH_ENV=production"},
			want: []string{"wechat.app_id", "wechat.app_secret", "auth.token_secret", "crypto.keys",
				"crypto.blind_index_key", "database.driver", "redis.addrs"},
		},
		{
			name:    "production with a short token secret",
			environ: append(withEnv(productionSecrets, "CAREPATH_AUTH_TOKEN_SECRET=too-short"), "CAREPATH_ENV=production", "CAREPATH_DATABASE_DRIVER=mysql", "CAREPATH_REDIS_ADDRS=redis:6379"),
			want:    []string{"auth.token_secret"},
		},
		{
			name:    "fake WeChat in production",
			file:    "env: production\nwechat:\n  fake: true\ndatabase:\n  driver: mysql\nredis:\n  addrs: [redis:6379]\n",
			environ: productionSecrets,
			want:    []string{"wechat.fake"},
		},
		{
			name:    "unknown env",
			environ: []string{"CAREPATH_ENV=staging"},
			want:    []string{"env must be dev or production", "staging"},
		},
		{
			name:    "unknown database driver",
			environ: []string{"CAREPATH_DATABASE_DRIVER=postgres"},
			want:    []string{"database.driver", "postgres"},
		},
		{
			name:    "mysql without a DSN",
			environ: []string{"CAREPATH_DATABASE_DRIVER=mysql"},
			want:    []string{"database.dsn"},
		},
		{
			name:    "unknown time zone",
			environ: []string{"CAREPATH_TIMEZONE=Mars/Olympus_Mons"},
			want:    []string{"Mars/Olympus_Mons"},
		},
		{
			name:    "refresh shorter than access",
			environ: []string{"CAREPATH_AUTH_ACCESS_TTL=2h", "CAREPATH_AUTH_REFRESH_TTL=1h"},
			want:    []string{"auth.access_ttl"},
		},
		{
			name:    "lockout threshold zero",
			environ: []string{"CAREPATH_AUTH_LOCKOUT_THRESHOLD=0"},
			want:    []string{"auth.lockout_threshold"},
		},
		{
			name:    "invitation TTL out of range",
			environ: []string{"CAREPATH_FAMILY_INVITATION_TTL=1000h"},
			want:    []string{"family.invitation_ttl"},
		},
		{
			name:    "no invitation-code attempts",
			environ: []string{"CAREPATH_FAMILY_CODE_ATTEMPTS_PER_IP=0"},
			want:    []string{"family.code_attempts_per_ip"},
		},
		{
			name:    "empty privacy policy version",
			environ: []string{"CAREPATH_CONSENT_PRIVACY_POLICY_VERSION="},
			want:    []string{"consent.privacy_policy_version"},
		},
		{
			name:    "not a duration",
			environ: []string{"CAREPATH_HTTP_SHUTDOWN_TIMEOUT=soon"},
			want:    []string{"shutdown_timeout"},
		},
		{
			name: "malformed file",
			file: "http: [not, a, map\n",
			want: []string{"load config file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, "carepath.yaml", tt.file)
			}
			_, err := config.Load(path, tt.environ)
			if err == nil {
				t.Fatalf("Load: got nil error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// withEnv returns environ with the given NAME=value entries replacing those of the same name.
func withEnv(environ []string, set ...string) []string {
	out := make([]string, 0, len(environ)+len(set))
	names := map[string]bool{}
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		names[name] = true
	}
	for _, kv := range environ {
		if name, _, _ := strings.Cut(kv, "="); !names[name] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

func TestMasked(t *testing.T) {
	secrets := map[string]string{
		"auth.token_secret":      "tok-SECRET-0123456789-0123456789-abcdef",
		"database.dsn":           "carepath:dbpw-SECRET@tcp(db:3306)/carepath?parseTime=true",
		"wechat.app_secret":      "app-SECRET-0123456789",
		"crypto.keys":            "k1:a2V5LVNFQ1JFVC0wMTIzNDU2Nzg5MDEyMzQ1Njc4OTA=",
		"crypto.blind_index_key": "blind-SECRET-0123456789-0123456789",
		"redis.password":         "redis-SECRET-pw",
		"demo.password":          "demo-SECRET-pw",
	}
	cfg := config.Defaults()
	cfg.Auth.TokenSecret = secrets["auth.token_secret"]
	cfg.Database.Driver = "mysql"
	cfg.Database.DSN = secrets["database.dsn"]
	cfg.WeChat.AppID = "wx1234567890abcdef"
	cfg.WeChat.AppSecret = secrets["wechat.app_secret"]
	cfg.Crypto.Keys = secrets["crypto.keys"]
	cfg.Crypto.BlindIndexKey = secrets["crypto.blind_index_key"]
	cfg.Redis.Password = secrets["redis.password"]
	cfg.Redis.Addrs = []string{"redis-1:6379", "redis-2:6379"}
	cfg.Demo.Password = secrets["demo.password"]

	masked := cfg.Masked()
	for key, value := range masked {
		for name, secret := range secrets {
			if strings.Contains(value, secret) {
				t.Errorf("Masked()[%q] = %q contains the value of %s", key, value, name)
			}
		}
	}
	for key := range secrets {
		if got, want := masked[key], "***"; got != want {
			t.Errorf("Masked()[%q] = %q, want %q", key, got, want)
		}
	}
	shown := map[string]string{
		"env":                      "dev",
		"http.addr":                ":8080",
		"database.driver":          "mysql",
		"database.max_open_conns":  "20",
		"redis.addrs":              "[redis-1:6379 redis-2:6379]",
		"wechat.app_id":            "wx1234567890abcdef",
		"auth.access_ttl":          "15m0s",
		"crypto.active_key":        "k1",
		"log.level":                "info",
		"http.shutdown_timeout":    "15s",
		"auth.lockout_threshold":   "5",
		"wechat.miniprogram_state": "formal",
	}
	for key, want := range shown {
		if got := masked[key]; got != want {
			t.Errorf("Masked()[%q] = %q, want %q", key, got, want)
		}
	}
	// An unset secret shows as empty, so an operator can see it is missing.
	if got := config.Defaults().Masked()["wechat.app_secret"]; got != "" {
		t.Errorf("Defaults().Masked()[wechat.app_secret] = %q, want empty", got)
	}
}

func TestExampleFile(t *testing.T) {
	t.Run("needs secrets from the environment", func(t *testing.T) {
		_, err := config.Load(examplePath, nil)
		if err == nil {
			t.Fatal("Load(example) without secrets: got nil error, want production to insist on secrets")
		}
		for _, w := range []string{"database.dsn", "wechat.app_secret", "auth.token_secret", "crypto.keys"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(example) error = %q, want it to mention %q", err, w)
			}
		}
	})
	t.Run("validates with secrets", func(t *testing.T) {
		cfg, err := config.Load(examplePath, productionSecrets)
		if err != nil {
			t.Fatalf("Load(example) with secrets in the environment: %v", err)
		}
		if got, want := cfg.Env, "production"; got != want {
			t.Errorf("Env = %q, want %q", got, want)
		}
		if got, want := cfg.Database.Driver, "mysql"; got != want {
			t.Errorf("Database.Driver = %q, want %q", got, want)
		}
		if got, want := cfg.Redis.Addrs, []string{"redis:6379"}; !cmp.Equal(got, want) {
			t.Errorf("Redis.Addrs = %q, want %q", got, want)
		}
		if cfg.WeChat.Fake {
			t.Errorf("WeChat.Fake = true, want false in the production example")
		}
	})
	t.Run("documents every setting", func(t *testing.T) {
		b, err := os.ReadFile(examplePath)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for key := range config.Defaults().Masked() {
			name := "CAREPATH_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
			if !strings.Contains(text, name) {
				t.Errorf("the example does not mention %s (setting %s)", name, key)
			}
			leaf := key[strings.LastIndex(key, ".")+1:]
			if !strings.Contains(text, "\n"+strings.Repeat("  ", strings.Count(key, "."))+leaf+":") {
				t.Errorf("the example does not set %s", key)
			}
		}
	})
}
