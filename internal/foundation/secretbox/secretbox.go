// Package secretbox encrypts small values kept in the database (national IDs,
// webhook signing secrets) with AES-256-GCM under keys from the environment,
// and makes keyed hashes of them for equality lookups.
//
// A sealed value is self-describing, so keys rotate: new values are sealed
// under the current key, and any configured key opens what it sealed:
//
//	0x01 | len(kid) | kid | nonce (12 bytes) | ciphertext and tag
//
// Every value is sealed with associated data naming where it lives (column and
// row id), so a ciphertext copied into another row or column does not open.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

const (
	version  = 0x01
	keyBytes = 32
	// DemoKeyID names the key Demo uses; a keyring holding it is not for production.
	DemoKeyID = "demo"
)

// Errors of Open.
var (
	ErrUnknownKey = errors.New("secretbox: sealed under a key that is not configured")
	ErrMalformed  = errors.New("secretbox: not a sealed value")
	ErrForged     = errors.New("secretbox: message authentication failed")
)

var kidRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Keyring holds the data keys (one of them current, for sealing) and the
// lookup key for keyed hashes. It is safe for concurrent use.
type Keyring struct {
	current string
	prefix  []byte
	aeads   map[string]cipher.AEAD
	lookup  []byte
}

// New builds a keyring from raw 32-byte keys by id, the id of the one that
// seals new values, and the lookup (HMAC) key, at least 32 bytes. The lookup
// key does not rotate with the data keys: hashes must stay comparable.
func New(keys map[string][]byte, current string, lookupKey []byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no data key")
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys)), current: current}
	for id, key := range keys {
		if !kidRE.MatchString(id) {
			return nil, fmt.Errorf("secretbox: key id %q: 1 to 32 of A-Z a-z 0-9 _ . -", id)
		}
		if len(key) != keyBytes {
			return nil, fmt.Errorf("secretbox: key %q is %d bytes, want %d", id, len(key), keyBytes)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		if k.aeads[id], err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	if _, ok := k.aeads[current]; !ok {
		return nil, fmt.Errorf("secretbox: the current key %q is not among the keys", current)
	}
	if len(lookupKey) < keyBytes {
		return nil, fmt.Errorf("secretbox: the lookup key is %d bytes, want at least %d", len(lookupKey), keyBytes)
	}
	k.lookup = slices.Clone(lookupKey)
	k.prefix = append([]byte{version, byte(len(current))}, current...)
	return k, nil
}

// Parse builds a keyring from configuration text: keys as comma-separated
// kid:base64 (standard or URL alphabet, padded or not), the current kid (may be
// empty when there is only one key) and the lookup key in base64.
func Parse(keys, current, lookupKey string) (*Keyring, error) {
	m := map[string][]byte{}
	for _, item := range strings.Split(keys, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("secretbox: data key %q: want kid:base64key", redact(item))
		}
		raw, err := decode64(b64)
		if err != nil {
			return nil, fmt.Errorf("secretbox: data key %q: not base64", id)
		}
		if _, dup := m[id]; dup {
			return nil, fmt.Errorf("secretbox: data key %q given twice", id)
		}
		m[id] = raw
	}
	if len(m) == 0 {
		return nil, errors.New("secretbox: no data key")
	}
	if current == "" && len(m) == 1 {
		for id := range m {
			current = id
		}
	}
	if current == "" {
		return nil, errors.New("secretbox: several data keys and no current key id")
	}
	lk, err := decode64(lookupKey)
	if err != nil {
		return nil, errors.New("secretbox: the lookup key is not base64")
	}
	return New(m, current, lk)
}

func decode64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// redact keeps a configuration item's key id and hides the key.
func redact(item string) string {
	if len(item) > 6 {
		return item[:6] + "…"
	}
	return "…"
}

// Demo is a keyring with fixed, published keys (key id "demo"): for
// development and tests only; values it seals are not secret.
func Demo() *Keyring {
	dk := sha256.Sum256([]byte("civicpay demo data key: not a secret"))
	lk := sha256.Sum256([]byte("civicpay demo lookup key: not a secret"))
	k, err := New(map[string][]byte{DemoKeyID: dk[:]}, DemoKeyID, lk[:])
	if err != nil {
		panic(err)
	}
	return k
}

// Current is the id of the key that seals new values.
func (k *Keyring) Current() string { return k.current }

// IsDemo reports whether values are sealed under the published demo key.
func (k *Keyring) IsDemo() bool { return k.current == DemoKeyID }

// CurrentPrefix is how every value sealed under the current key begins: a
// value whose first len(CurrentPrefix()) bytes differ needs re-sealing.
func (k *Keyring) CurrentPrefix() []byte { return slices.Clone(k.prefix) }

// Seal encrypts plaintext under the current key, bound to ad (where the value
// lives, e.g. "orders.payer_national_id:<order id>").
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := k.aeads[k.current]
	out := make([]byte, len(k.prefix), len(k.prefix)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	copy(out, k.prefix)
	nonce := out[len(out) : len(out)+aead.NonceSize()]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	out = out[:len(out)+len(nonce)]
	return aead.Seal(out, nonce, plaintext, ad), nil
}

// KeyID is the id of the key sealed was sealed under.
func KeyID(sealed []byte) (string, error) {
	if len(sealed) < 2 || sealed[0] != version || len(sealed) < 2+int(sealed[1]) {
		return "", ErrMalformed
	}
	return string(sealed[2 : 2+int(sealed[1])]), nil
}

// Open decrypts a value sealed (under any configured key) with the same ad.
func (k *Keyring) Open(sealed, ad []byte) ([]byte, error) {
	kid, err := KeyID(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w (key id %q)", ErrUnknownKey, kid)
	}
	rest := sealed[2+len(kid):]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrMalformed
	}
	out, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], ad)
	if err != nil {
		return nil, ErrForged
	}
	return out, nil
}

// IsCurrent reports whether sealed was sealed under the current key.
func (k *Keyring) IsCurrent(sealed []byte) bool { return bytes.HasPrefix(sealed, k.prefix) }

// Hash is the keyed hash (HMAC-SHA256 under the lookup key) of value in
// domain (e.g. "national_id"): equal values give equal hashes, and without the
// lookup key a hash cannot be tested against guesses.
func (k *Keyring) Hash(domain string, value []byte) []byte {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write(value)
	return m.Sum(nil)
}

// GenerateKey returns a new random 32-byte key in base64, as
// CIVICPAY_DATA_KEYS and CIVICPAY_LOOKUP_KEY take it (`openssl rand -base64 32`
// does the same).
func GenerateKey() string {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.StdEncoding.EncodeToString(b)
}
