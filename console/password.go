package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// MinPasswordLen is the shortest password accepted, in characters.
const MinPasswordLen = 12

// maxPasswordLen bounds what is hashed (argon2 takes any length; a megabyte
// of password is only a way to spend the server's time).
const maxPasswordLen = 256

// Argon2Params are argon2id's cost parameters. DefaultArgon2 is OWASP's
// recommended minimum (19 MiB, 2 passes, 1 lane); BenchmarkVerifyPassword
// measures one check.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is what new passwords are hashed with.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// Errors of CheckPasswordPolicy and VerifyPassword.
var (
	ErrPasswordTooShort = fmt.Errorf("console: a password has at least %d characters", MinPasswordLen)
	ErrPasswordTooLong  = fmt.Errorf("console: a password has at most %d characters", maxPasswordLen)
	errBadHash          = errors.New("console: not an argon2id hash")
)

// CheckPasswordPolicy says whether pw may be set: MinPasswordLen to 256
// characters, valid UTF-8.
func CheckPasswordPolicy(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return errors.New("console: a password is valid UTF-8 text")
	case n < MinPasswordLen:
		return ErrPasswordTooShort
	case n > maxPasswordLen:
		return ErrPasswordTooLong
	}
	return nil
}

// HashPassword hashes pw with argon2id under a random salt, in the PHC
// string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("console: password salt: %w", err)
	}
	sum := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// VerifyPassword reports whether pw matches encoded (made by HashPassword,
// with whatever parameters it names), comparing in constant time.
func VerifyPassword(pw, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory == 0 || p.Memory > 1<<21 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errBadHash
	}
	if len(pw) > 4*maxPasswordLen {
		pw = pw[:4*maxPasswordLen] // still hashed, never matches a policy-checked password
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a sign-in names no account (or one
// without a password), so that the answer takes as long as for a real one.
var dummyHash = func() string {
	h, err := HashPassword("civicpay: no such account, never matches", DefaultArgon2)
	if err != nil {
		panic(err)
	}
	return h
}()
