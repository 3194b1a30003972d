package fieldcrypt

import (
	"encoding/base64"
	"strings"
	"testing"
)

func mustSealer(t *testing.T, spec, active string) *Sealer {
	t.Helper()
	keys, err := ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(keys, active, []byte(strings.Repeat("b", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTripAndRotation(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	old := mustSealer(t, "k1:"+k1, "k1")
	sealed, err := old.Seal("13800000001")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "k1:") || strings.Contains(sealed, "13800000001") {
		t.Fatalf("sealed value %q: want key id prefix and no plaintext", sealed)
	}
	rotated := mustSealer(t, "k1:"+k1+",k2:"+k2, "k2")
	got, err := rotated.Open(sealed)
	if err != nil || got != "13800000001" {
		t.Fatalf("open after rotation = %q, %v; want the phone", got, err)
	}
	again, _ := rotated.Seal("13800000001")
	if !strings.HasPrefix(again, "k2:") {
		t.Fatalf("new values must use the active key, got %q", again)
	}
	if a, b := old.Index("13800000001"), rotated.Index("13800000001"); a != b {
		t.Fatalf("blind index must not depend on the encryption key: %s != %s", a, b)
	}
}

func TestOpenRejectsTamperingAndUnknownKeys(t *testing.T) {
	s := mustSealer(t, "k1:"+NewKey(), "k1")
	sealed, _ := s.Seal("张三")
	raw, _ := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "k1:"))
	raw[len(raw)-1] ^= 1
	cases := map[string]string{
		"tampered":    "k1:" + base64.RawStdEncoding.EncodeToString(raw),
		"unknown key": "k9:" + strings.TrimPrefix(sealed, "k1:"),
		"no key id":   "abc",
		"key swapped": "k1:" + strings.TrimPrefix(mustSealerSeal(t), "k1:"),
	}
	for name, v := range cases {
		if _, err := s.Open(v); err == nil {
			t.Errorf("%s: Open succeeded, want an error", name)
		}
	}
	if v, err := s.Seal(""); v != "" || err != nil {
		t.Errorf("Seal(\"\") = %q, %v; want empty", v, err)
	}
}

func mustSealerSeal(t *testing.T) string {
	other := mustSealer(t, "k1:"+NewKey(), "k1")
	v, _ := other.Seal("张三")
	return v
}

func TestParseKeysErrors(t *testing.T) {
	for _, spec := range []string{"", "k1", "k1:notbase64!", "k1:" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseKeys(spec); err == nil {
			t.Errorf("ParseKeys(%q) succeeded, want an error", spec)
		}
	}
}

// OpenFields opens every field of a sealed row and clears its flag, leaves a
// row written in the clear alone, and refuses a sealed row without a key.
func TestOpenFields(t *testing.T) {
	s := mustSealer(t, "k1:"+NewKey(), "k1")
	a, _ := s.Seal("膝关节肿胀")
	b, _ := s.Seal("三天后复诊")
	sealed := true
	if err := OpenFields(s, &sealed, &a, &b); err != nil || a != "膝关节肿胀" || b != "三天后复诊" || sealed {
		t.Fatalf("sealed row: %q %q sealed=%v err=%v", a, b, sealed, err)
	}
	plain, flag := "旧的明文", false
	if err := OpenFields(s, &flag, &plain); err != nil || plain != "旧的明文" {
		t.Fatalf("clear row: %q err=%v", plain, err)
	}
	c, _ := s.Seal("x")
	flag = true
	if err := OpenFields(nil, &flag, &c); err == nil {
		t.Fatal("a sealed row opened without a key")
	}
}
