package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/carepath/carepath/internal/platform/config"
	"github.com/carepath/carepath/internal/platform/fieldcrypt"
)

type secrets struct {
	tokenSecret   []byte
	cryptoKeys    map[string][]byte
	activeKey     string
	blindIndexKey []byte
}

// devSecrets are generated on the first dev start and kept under the data
// directory, so tokens and encrypted fields survive a restart. Production
// must configure its own (config.Validate insists).
type devSecrets struct {
	TokenSecret   string `json:"token_secret"`
	CryptoKeys    string `json:"crypto_keys"`
	BlindIndexKey string `json:"blind_index_key"`
}

func loadSecrets(cfg config.Config) (secrets, error) {
	c := cfg
	if cfg.Env == "dev" && (c.Auth.TokenSecret == "" || c.Crypto.Keys == "" || c.Crypto.BlindIndexKey == "") {
		dev, err := loadDevSecrets(cfg.DataDir)
		if err != nil {
			return secrets{}, err
		}
		if c.Auth.TokenSecret == "" {
			c.Auth.TokenSecret = dev.TokenSecret
		}
		if c.Crypto.Keys == "" {
			c.Crypto.Keys, c.Crypto.ActiveKey = dev.CryptoKeys, "k1"
		}
		if c.Crypto.BlindIndexKey == "" {
			c.Crypto.BlindIndexKey = dev.BlindIndexKey
		}
	}
	keys, err := fieldcrypt.ParseKeys(c.Crypto.Keys)
	if err != nil {
		return secrets{}, fmt.Errorf("crypto.keys: %w", err)
	}
	if len(c.Auth.TokenSecret) < 32 {
		return secrets{}, errors.New("auth.token_secret must be at least 32 characters")
	}
	return secrets{tokenSecret: []byte(c.Auth.TokenSecret), cryptoKeys: keys, activeKey: c.Crypto.ActiveKey,
		blindIndexKey: []byte(c.Crypto.BlindIndexKey)}, nil
}

func loadDevSecrets(dir string) (devSecrets, error) {
	path := filepath.Join(dir, "dev-secrets.json")
	var s devSecrets
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return devSecrets{}, fmt.Errorf("%s is corrupt: %w", path, err)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return devSecrets{}, err
	}
	s = devSecrets{TokenSecret: fieldcrypt.NewKey(), CryptoKeys: "k1:" + fieldcrypt.NewKey(), BlindIndexKey: fieldcrypt.NewKey()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return devSecrets{}, fmt.Errorf("create data directory: %w", err)
	}
	b, _ = json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return devSecrets{}, fmt.Errorf("write %s: %w", path, err)
	}
	return s, nil
}
