// Package config loads CarePath's settings: defaults, then an optional YAML
// file, then CAREPATH_* environment variables (a *_FILE variant reads a secret
// from a file). It only parses and validates; it opens nothing.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
)

// Config is every setting of the service. configs/carepath.example.yaml documents each one.
type Config struct {
	// Env is "dev" or "production". Only dev may use the fake WeChat server.
	Env      string   `koanf:"env"`
	DataDir  string   `koanf:"data_dir"`
	Timezone string   `koanf:"timezone"`
	HTTP     HTTP     `koanf:"http"`
	Database Database `koanf:"database"`
	Redis    Redis    `koanf:"redis"`
	WeChat   WeChat   `koanf:"wechat"`
	Auth     Auth     `koanf:"auth"`
	Crypto   Crypto   `koanf:"crypto"`
	Family   Family   `koanf:"family"`
	Limits   Limits   `koanf:"limits"`
	Followup Followup `koanf:"followup"`
	Audit    Audit    `koanf:"audit"`
	Consent  Consent  `koanf:"consent"`
	Demo     Demo     `koanf:"demo"`
	Log      Log      `koanf:"log"`

	// Messaging tunes patient–care-team messaging and its realtime delivery.
	Messaging Messaging `koanf:"messaging"`

	// Notify tunes subscription-message pushes and the in-app notification centre.
	Notify Notify `koanf:"notify"`
}

type HTTP struct {
	Addr            string        `koanf:"addr"`
	PublicURL       string        `koanf:"public_url"`
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	TrustedProxies  []string      `koanf:"trusted_proxies"`
}

type Database struct {
	// Driver is "mysql" or "sqlite"; empty means the embedded SQLite file under DataDir.
	Driver          string        `koanf:"driver"`
	DSN             string        `koanf:"dsn" secret:"true"`
	MaxOpenConns    int           `koanf:"max_open_conns"`
	MaxIdleConns    int           `koanf:"max_idle_conns"`
	ConnMaxLifetime time.Duration `koanf:"conn_max_lifetime"`
}

type Redis struct {
	// Addrs empty means an in-process Redis (embedded mode). One address is a
	// single server, several a cluster, and MasterName selects Sentinel.
	Addrs      []string `koanf:"addrs"`
	Password   string   `koanf:"password" secret:"true"`
	DB         int      `koanf:"db"`
	MasterName string   `koanf:"master_name"`
}

type WeChat struct {
	AppID     string `koanf:"app_id"`
	AppSecret string `koanf:"app_secret" secret:"true"`
	// Fake runs the built-in fake WeChat server; allowed only when Env is dev.
	Fake             bool          `koanf:"fake"`
	Timeout          time.Duration `koanf:"timeout"`
	MiniprogramState string        `koanf:"miniprogram_state"`
	// PushToken is the Token set for the mini-program's message push (消息推送)
	// in the WeChat console; it signs every push WeChat sends us.
	PushToken string `koanf:"push_token" secret:"true"`
	// PushAESKey is the EncodingAESKey (消息加密密钥, 43 characters) of the
	// message push in safe or compatible mode (安全模式/兼容模式): those pushes
	// carry the event encrypted, and it decrypts them.
	PushAESKey string `koanf:"push_aes_key" secret:"true"`
}

type Notify struct {
	// QuietStart and QuietEnd ("HH:MM" in the hospital's zone) bound the quiet
	// hours; a non-urgent push due inside them waits until QuietEnd.
	QuietStart string `koanf:"quiet_start"`
	QuietEnd   string `koanf:"quiet_end"`
	// DailyCap is how many subscription messages one patient's household may
	// get per day (urgent pushes are not capped).
	DailyCap int `koanf:"daily_cap"`
	// MaxRetry bounds the retries of a push after transient WeChat errors.
	MaxRetry int `koanf:"max_retry"`
	// Templates is a YAML file replacing the shipped configs/notify/templates.yaml; "" keeps it.
	Templates string `koanf:"templates"`
	// ReportingReminderDays: a patient whose plan expects a reading that is
	// this many whole days overdue gets a reporting_reminder (one a day).
	ReportingReminderDays int `koanf:"reporting_reminder_days"`
}

type Auth struct {
	TokenSecret      string        `koanf:"token_secret" secret:"true"`
	AccessTTL        time.Duration `koanf:"access_ttl"`
	RefreshTTL       time.Duration `koanf:"refresh_ttl"`
	StaffSessionTTL  time.Duration `koanf:"staff_session_ttl"`
	StaffIdleTimeout time.Duration `koanf:"staff_idle_timeout"`
	LockoutThreshold int           `koanf:"lockout_threshold"`
	LockoutDuration  time.Duration `koanf:"lockout_duration"`
	// SessionCacheTTL is how long an instance trusts a checked bearer session
	// without reading it again; revocations reach other instances by pub/sub
	// sooner. 0 reads the session on every request.
	SessionCacheTTL time.Duration `koanf:"session_cache_ttl"`
	// MeCacheTTL is how long an instance keeps a caller's GET /me answer;
	// every write to accounts, patients, family links or staff drops them all
	// on every instance sooner. 0 builds the answer on every request.
	MeCacheTTL time.Duration `koanf:"me_cache_ttl"`
}

type Crypto struct {
	// Keys is "id:base64key,id2:base64key"; each key is 32 bytes. ActiveKey encrypts new values.
	Keys          string `koanf:"keys" secret:"true"`
	ActiveKey     string `koanf:"active_key"`
	BlindIndexKey string `koanf:"blind_index_key" secret:"true"`
}

// Followup tunes case-manager follow-ups.
type Followup struct {
	// EscalateAfter is how long after its window closes a follow-up still not
	// made goes to the department lead (随访超时升级).
	EscalateAfter time.Duration `koanf:"escalate_after"`
}

// Audit tunes the audit log.
type Audit struct {
	// RetentionDays is how long audit events are kept before the daily
	// audit.purge job deletes them; at least 180 (MLPS 2.0 level 3, and the
	// database refuses a shorter purge).
	RetentionDays int `koanf:"retention_days"`
}

// Family tunes family invitations.
type Family struct {
	// InvitationTTL is how long a family invitation code can be accepted.
	InvitationTTL time.Duration `koanf:"invitation_ttl"`
	// CodeAttemptsPerUser and CodeAttemptsPerIP cap invitation-code look-ups
	// (preview or accept) per CodeAttemptWindow, against guessing.
	CodeAttemptsPerUser int           `koanf:"code_attempts_per_user"`
	CodeAttemptsPerIP   int           `koanf:"code_attempts_per_ip"`
	CodeAttemptWindow   time.Duration `koanf:"code_attempt_window"`
}

// Limits are the abuse limits: hits per Window counted in Redis (so every
// instance shares them), per caller IP and per user. Over a limit the answer
// is 429 with Retry-After. If Redis is down, login routes answer 503 (fail
// closed: a password or code2session without a counter could be hammered);
// message sends, uploads and invitations go on without the count (fail open,
// logged), so patients can still reach the care team.
type Limits struct {
	Window             time.Duration `koanf:"window"`
	StaffLoginPerIP    int           `koanf:"staff_login_per_ip"`
	WeChatLoginPerIP   int           `koanf:"wechat_login_per_ip"` // code2session calls
	RefreshPerIP       int           `koanf:"refresh_per_ip"`
	MessagesPerUser    int           `koanf:"messages_per_user"`
	MessagesPerIP      int           `koanf:"messages_per_ip"`
	UploadsPerUser     int           `koanf:"uploads_per_user"`
	InvitationsPerUser int           `koanf:"invitations_per_user"`
}

func (l Limits) validate() []error {
	if l.Window < time.Second || l.StaffLoginPerIP < 1 || l.WeChatLoginPerIP < 1 || l.RefreshPerIP < 1 ||
		l.MessagesPerUser < 1 || l.MessagesPerIP < 1 || l.UploadsPerUser < 1 || l.InvitationsPerUser < 1 {
		return []error{errors.New("limits.window must be at least 1s and every limits.* count at least 1")}
	}
	return nil
}

type Consent struct {
	// PrivacyPolicyVersion is the version of the privacy policy (隐私政策) users must accept.
	PrivacyPolicyVersion string `koanf:"privacy_policy_version"`
	// HealthDataVersion is the version of the notice for processing sensitive
	// health data (敏感个人信息处理告知) a patient consents to.
	HealthDataVersion string `koanf:"health_data_version"`
}

type Demo struct {
	// Seed loads demo data into an empty database at start (embedded mode turns it on).
	Seed     bool   `koanf:"seed"`
	Password string `koanf:"password" secret:"true"`
}

type Log struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

type Messaging struct {
	// ContentCheck sends patient and family text through WeChat's msg_sec_check
	// before it is stored; staff text is trusted (staff have no fresh openid).
	ContentCheck  bool          `koanf:"content_check"`
	MaxTextLength int           `koanf:"max_text_length"`
	MaxImageBytes int64         `koanf:"max_image_bytes"`
	URLTTL        time.Duration `koanf:"url_ttl"`
	Heartbeat     time.Duration `koanf:"heartbeat"`
	SendBuffer    int           `koanf:"send_buffer"`
	AccessRecheck time.Duration `koanf:"access_recheck"`
	Storage       Storage       `koanf:"storage"`
}

// Storage is where uploaded files go: "local" (a directory) or "s3".
type Storage struct {
	Driver      string `koanf:"driver"`
	Dir         string `koanf:"dir"`
	S3Endpoint  string `koanf:"s3_endpoint"`
	S3Bucket    string `koanf:"s3_bucket"`
	S3Region    string `koanf:"s3_region"`
	S3AccessKey string `koanf:"s3_access_key"`
	S3SecretKey string `koanf:"s3_secret_key" secret:"true"`
	S3UseSSL    bool   `koanf:"s3_use_ssl"`
	S3Prefix    string `koanf:"s3_prefix"`
}

// Defaults are the embedded-mode settings: SQLite, in-process Redis, fake WeChat, demo data.
func Defaults() Config {
	return Config{
		Env:      "dev",
		DataDir:  "./data",
		Timezone: "Asia/Shanghai",
		HTTP:     HTTP{Addr: ":8080", ShutdownTimeout: 15 * time.Second},
		Database: Database{MaxOpenConns: 20, MaxIdleConns: 20, ConnMaxLifetime: 30 * time.Minute},
		WeChat:   WeChat{Timeout: 5 * time.Second, MiniprogramState: "formal"},
		Auth: Auth{
			AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour,
			StaffSessionTTL: 10 * time.Hour, StaffIdleTimeout: 30 * time.Minute,
			LockoutThreshold: 5, LockoutDuration: 15 * time.Minute,
			SessionCacheTTL: 30 * time.Second,
			MeCacheTTL:      10 * time.Second,
		},
		Crypto: Crypto{ActiveKey: "k1"},
		Log:    Log{Level: "info", Format: "json"},
		Messaging: Messaging{
			ContentCheck: true, MaxTextLength: 2000, MaxImageBytes: 5 << 20, URLTTL: 10 * time.Minute,
			Heartbeat: 25 * time.Second, SendBuffer: 256, AccessRecheck: 10 * time.Second, Storage: Storage{Driver: "local", S3UseSSL: true},
		},
		Followup: Followup{EscalateAfter: 48 * time.Hour},
		Audit:    Audit{RetentionDays: 365},
		Family:   Family{InvitationTTL: 72 * time.Hour, CodeAttemptsPerUser: 10, CodeAttemptsPerIP: 50, CodeAttemptWindow: 15 * time.Minute},
		Limits: Limits{
			Window: time.Minute, StaffLoginPerIP: 20, WeChatLoginPerIP: 60, RefreshPerIP: 120,
			MessagesPerUser: 30, MessagesPerIP: 300, UploadsPerUser: 10, InvitationsPerUser: 5,
		},
		Consent: Consent{PrivacyPolicyVersion: "2026-01", HealthDataVersion: "2026-01"},
		Notify:  Notify{QuietStart: "21:30", QuietEnd: "08:00", DailyCap: 3, MaxRetry: 8, ReportingReminderDays: 1},
	}
}

// Embedded reports whether the service runs with no external database or Redis.
func (c Config) Embedded() bool {
	return c.Database.Driver == "" || c.Database.Driver == "sqlite"
}

// Location is the hospital's time zone.
func (c Config) Location() (*time.Location, error) {
	return time.LoadLocation(c.Timezone)
}

// Load reads defaults, then the YAML file at path (if not empty), then the
// environment (CAREPATH_SECTION_KEY, e.g. CAREPATH_HTTP_ADDR, CAREPATH_DATA_DIR;
// CAREPATH_X_FILE reads X's value from a file).
func Load(path string, environ []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(Defaults(), "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("load defaults: %w", err)
	}
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("load config file %s: %w", path, err)
		}
	}
	keys := envKeys()
	var envErr error
	provider := env.Provider(".", env.Opt{
		Prefix:      "CAREPATH_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			key, value, err := envValue(keys, name, value)
			if err != nil {
				envErr = errors.Join(envErr, err)
				return "", nil
			}
			if key == "" {
				return "", nil
			}
			if isList(key) {
				return key, splitList(value)
			}
			return key, value
		},
	})
	if err := k.Load(provider, nil); err != nil {
		return Config{}, fmt.Errorf("load environment: %w", err)
	}
	if envErr != nil {
		return Config{}, envErr
	}
	var cfg Config
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	return cfg, cfg.Validate()
}

// Validate checks values that would otherwise fail late and obscurely.
func (c Config) Validate() error {
	var errs []error
	switch c.Env {
	case "dev", "production":
	default:
		errs = append(errs, fmt.Errorf("env must be dev or production, got %q", c.Env))
	}
	switch c.Database.Driver {
	case "", "sqlite", "mysql":
	default:
		errs = append(errs, fmt.Errorf("database.driver must be mysql or sqlite, got %q", c.Database.Driver))
	}
	if c.Database.Driver == "mysql" && c.Database.DSN == "" {
		errs = append(errs, errors.New("database.dsn is required when database.driver is mysql"))
	}
	if c.WeChat.Fake && c.Env != "dev" {
		errs = append(errs, errors.New("wechat.fake is allowed only with env: dev (refusing to run production against a fake WeChat server)"))
	}
	if c.WeChat.PushAESKey != "" {
		if key, err := base64.StdEncoding.DecodeString(c.WeChat.PushAESKey + "="); len(c.WeChat.PushAESKey) != 43 || err != nil || len(key) != 32 {
			errs = append(errs, errors.New("wechat.push_aes_key must be the 43-character EncodingAESKey from the WeChat console"))
		}
		if c.WeChat.AppID == "" {
			errs = append(errs, errors.New("wechat.push_aes_key needs wechat.app_id (every encrypted push names the app it is for)"))
		}
	}
	if c.Env == "production" {
		if c.WeChat.AppID == "" || c.WeChat.AppSecret == "" {
			errs = append(errs, errors.New("wechat.app_id and wechat.app_secret are required in production"))
		}
		if len(c.Auth.TokenSecret) < 32 {
			errs = append(errs, errors.New("auth.token_secret must be at least 32 characters in production"))
		}
		if c.Crypto.Keys == "" || c.Crypto.BlindIndexKey == "" {
			errs = append(errs, errors.New("crypto.keys and crypto.blind_index_key are required in production"))
		}
		if c.Embedded() || len(c.Redis.Addrs) == 0 {
			errs = append(errs, errors.New("production needs database.driver mysql and redis.addrs"))
		}
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone %q: %w", c.Timezone, err))
	}
	if c.Auth.AccessTTL <= 0 || c.Auth.RefreshTTL <= c.Auth.AccessTTL {
		errs = append(errs, errors.New("auth.access_ttl must be positive and shorter than auth.refresh_ttl"))
	}
	errs = append(errs, c.Messaging.validate()...)
	errs = append(errs, c.Notify.validate()...)
	errs = append(errs, c.Limits.validate()...)
	if c.Auth.SessionCacheTTL < 0 || c.Auth.SessionCacheTTL > 5*time.Minute {
		errs = append(errs, errors.New("auth.session_cache_ttl must be between 0s and 5m"))
	}
	if c.Auth.MeCacheTTL < 0 || c.Auth.MeCacheTTL > 5*time.Minute {
		errs = append(errs, errors.New("auth.me_cache_ttl must be between 0s and 5m"))
	}
	if c.Auth.LockoutThreshold < 1 {
		errs = append(errs, errors.New("auth.lockout_threshold must be at least 1"))
	}
	if c.Followup.EscalateAfter < 0 || c.Followup.EscalateAfter > 30*24*time.Hour {
		errs = append(errs, errors.New("followup.escalate_after must be between 0s and 720h"))
	}
	if c.Audit.RetentionDays < 180 {
		errs = append(errs, fmt.Errorf("audit.retention_days is %d: audit events must be kept at least 180 days (等保三级), set 180 or more", c.Audit.RetentionDays))
	}
	if c.Family.InvitationTTL < time.Minute || c.Family.InvitationTTL > 30*24*time.Hour {
		errs = append(errs, errors.New("family.invitation_ttl must be between 1m and 720h"))
	}
	if c.Family.CodeAttemptsPerUser < 1 || c.Family.CodeAttemptsPerIP < 1 || c.Family.CodeAttemptWindow < time.Second {
		errs = append(errs, errors.New("family.code_attempts_per_user and family.code_attempts_per_ip must be at least 1, family.code_attempt_window at least 1s"))
	}
	if c.Consent.PrivacyPolicyVersion == "" || c.Consent.HealthDataVersion == "" ||
		len(c.Consent.PrivacyPolicyVersion) > 32 || len(c.Consent.HealthDataVersion) > 32 {
		errs = append(errs, errors.New("consent.privacy_policy_version and consent.health_data_version must be set (at most 32 characters)"))
	}
	return errors.Join(errs...)
}

func (m Messaging) validate() []error {
	var errs []error
	if m.MaxTextLength < 1 || m.MaxTextLength > 2500 {
		errs = append(errs, errors.New("messaging.max_text_length must be 1..2500 (WeChat checks at most 2500 characters)"))
	}
	if m.MaxImageBytes < 1 {
		errs = append(errs, errors.New("messaging.max_image_bytes must be positive"))
	}
	if m.URLTTL < time.Minute || m.URLTTL > 24*time.Hour {
		errs = append(errs, errors.New("messaging.url_ttl must be between 1m and 24h"))
	}
	if m.Heartbeat < time.Second {
		errs = append(errs, errors.New("messaging.heartbeat must be at least 1s"))
	}
	if m.AccessRecheck < 0 {
		errs = append(errs, errors.New("messaging.access_recheck must not be negative"))
	}
	if m.SendBuffer < 1 {
		errs = append(errs, errors.New("messaging.send_buffer must be at least 1"))
	}
	switch m.Storage.Driver {
	case "local":
	case "s3":
		if m.Storage.S3Endpoint == "" || m.Storage.S3Bucket == "" {
			errs = append(errs, errors.New("messaging.storage.s3_endpoint and s3_bucket are required when messaging.storage.driver is s3"))
		}
	default:
		errs = append(errs, fmt.Errorf("messaging.storage.driver must be local or s3, got %q", m.Storage.Driver))
	}
	return errs
}

func (n Notify) validate() []error {
	var errs []error
	for _, v := range []struct{ key, val string }{{"notify.quiet_start", n.QuietStart}, {"notify.quiet_end", n.QuietEnd}} {
		if _, err := time.Parse("15:04", v.val); err != nil {
			errs = append(errs, fmt.Errorf("%s must be HH:MM, got %q", v.key, v.val))
		}
	}
	if n.DailyCap < 1 {
		errs = append(errs, errors.New("notify.daily_cap must be at least 1"))
	}
	if n.MaxRetry < 0 {
		errs = append(errs, errors.New("notify.max_retry must not be negative"))
	}
	if n.ReportingReminderDays < 1 || n.ReportingReminderDays > 60 {
		errs = append(errs, errors.New("notify.reporting_reminder_days must be 1..60"))
	}
	return errs
}

// Masked lists every setting as key=value with secrets replaced, for the start-up log.
func (c Config) Masked() map[string]string {
	out := map[string]string{}
	walk(reflect.ValueOf(c), "", func(key string, v reflect.Value, secret bool) {
		s := fmt.Sprint(v.Interface())
		if secret && s != "" {
			s = "***"
		}
		out[key] = s
	})
	return out
}

// envKeys maps every environment variable name to its koanf key, derived from
// the struct tags so that keys containing underscores (data_dir) stay unambiguous.
func envKeys() map[string]string {
	keys := map[string]string{}
	walk(reflect.ValueOf(Defaults()), "", func(key string, _ reflect.Value, _ bool) {
		keys["CAREPATH_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	})
	return keys
}

// notSettings are CAREPATH_ variables read by tests and tools, not by the config.
var notSettings = map[string]bool{"CAREPATH_CONFIG": true, "CAREPATH_TEST_MYSQL_DSN": true, "CAREPATH_TEST_REDIS_ADDR": true}

func envValue(keys map[string]string, name, value string) (string, string, error) {
	if notSettings[name] {
		return "", "", nil
	}
	if key, ok := keys[name]; ok {
		return key, value, nil
	}
	if base, ok := strings.CutSuffix(name, "_FILE"); ok {
		if key, ok := keys[base]; ok {
			b, err := os.ReadFile(value)
			if err != nil {
				return "", "", fmt.Errorf("%s: %w", name, err)
			}
			return key, strings.TrimSpace(string(b)), nil
		}
	}
	return "", "", fmt.Errorf("unknown environment variable %s (see configs/carepath.example.yaml)", name)
}

func isList(key string) bool { return key == "redis.addrs" || key == "http.trusted_proxies" }

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func walk(v reflect.Value, prefix string, visit func(key string, v reflect.Value, secret bool)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("koanf")
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.Type.Kind() == reflect.Struct {
			walk(v.Field(i), key, visit)
			continue
		}
		visit(key, v.Field(i), f.Tag.Get("secret") == "true")
	}
}
