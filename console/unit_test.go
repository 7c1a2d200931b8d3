package console

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPasswordHashing(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id with the default parameters", h)
	}
	if h2, _ := HashPassword("correct horse battery", DefaultArgon2); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}, {"correct horse battery ", false}} {
		ok, err := VerifyPassword(tc.pw, h)
		if err != nil || ok != tc.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	// A hash made with other parameters still verifies: they are read from it.
	cheap, _ := HashPassword("another long password", fastArgon)
	if ok, err := VerifyPassword("another long password", cheap); !ok || err != nil {
		t.Errorf("hash with other parameters: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA"} {
		if ok, err := VerifyPassword("x", bad); ok || err == nil {
			t.Errorf("VerifyPassword on %q = %v, %v; want an error", bad, ok, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{"elevenchars", false},
		{"twelve chars", true},
		{"mật khẩu dài", true}, // 12 characters, more bytes
		{strings.Repeat("x", 257), false},
		{"\xff\xfe invalid utf-8 bytes", false},
	} {
		if err := CheckPasswordPolicy(tc.pw); (err == nil) != tc.ok {
			t.Errorf("CheckPasswordPolicy(%q) = %v, want ok %v", tc.pw, err, tc.ok)
		}
	}
}

func TestTOTPChecks(t *testing.T) {
	t.Parallel()
	secret, uri, err := NewTOTP("an@example.vn")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/civicpay:an@example.vn?") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("uri %q", uri)
	}
	if got := TOTPURI("an@example.vn", secret); !strings.Contains(got, "secret="+secret) || !strings.HasPrefix(got, "otpauth://totp/") {
		t.Errorf("TOTPURI %q", got)
	}
	now := time.Date(2026, 11, 24, 3, 0, 10, 0, time.UTC)
	step := now.Unix() / totpPeriod
	code := func(at time.Time) string {
		c, err := TOTPCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		lastStep int64
		want     int64
	}{
		{"current", code(now), 0, step},
		{"with spaces", code(now)[:3] + " " + code(now)[3:], 0, step},
		{"previous step", code(now.Add(-30 * time.Second)), 0, step - 1},
		{"next step", code(now.Add(30 * time.Second)), 0, step + 1},
		{"two steps old", code(now.Add(-60 * time.Second)), 0, 0},
		{"replayed", code(now), step, 0},
		{"older than the last accepted", code(now.Add(-30 * time.Second)), step - 1, 0},
		{"wrong", "000000", 0, 0},
		{"too short", "12345", 0, 0},
	} {
		if tc.name == "wrong" && code(now) == "000000" {
			continue
		}
		if got := checkTOTP(secret, tc.code, now, tc.lastStep); got != tc.want {
			t.Errorf("%s: step %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		c, err := newRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 19 || !looksLikeRecoveryCode(c) || seen[c] {
			t.Fatalf("code %q: malformed or repeated", c)
		}
		seen[c] = true
		if string(recoveryHash(strings.ToLower(strings.ReplaceAll(c, "-", " ")))) != string(recoveryHash(c)) {
			t.Errorf("%q: its hash depends on case and separators", c)
		}
	}
	if looksLikeRecoveryCode("123456") {
		t.Error("a TOTP code looks like a recovery code")
	}
}

// TestEveryMessageHasBothLanguages: each key has Vietnamese and English.
func TestEveryMessageHasBothLanguages(t *testing.T) {
	t.Parallel()
	for k, m := range messages {
		if m.vi == "" || m.en == "" {
			t.Errorf("%s: vi %q en %q", k, m.vi, m.en)
		}
	}
}

// TestTemplateKeysExist: every message key the templates name, and every
// key they build (nav.<section>, dash.<window>, status.<status>,
// role.<role>), has a message; an unknown key would show as itself.
func TestTemplateKeysExist(t *testing.T) {
	t.Parallel()
	keyRE := regexp.MustCompile(`T "([a-z0-9.]+)"`)
	entries, err := files.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, en := range entries {
		b, err := files.ReadFile("templates/" + en.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	if len(keys) < 30 {
		t.Fatalf("found only %d keys in the templates", len(keys))
	}
	keys = append(keys, "nav.dashboard", "role.agency", "role.treasury", "role.admin")
	for _, s := range sections {
		keys = append(keys, "nav."+s.key)
	}
	for _, w := range Windows(time.Now()) {
		keys = append(keys, "dash."+w.Key)
	}
	for _, s := range []string{"open", "paid", "expired"} {
		keys = append(keys, "status."+s)
	}
	for _, k := range keys {
		if _, ok := messages[k]; !ok {
			t.Errorf("no message %q", k)
		}
	}
}

// BenchmarkVerifyPassword is the cost of one sign-in's password check with
// the default parameters (also paid for an unknown email, against a dummy hash).
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := HashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := VerifyPassword("correct horse battery", h); !ok {
			b.Fatal("no match")
		}
	}
}
