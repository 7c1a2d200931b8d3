package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func mustParse(t *testing.T, keys, current string) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.Parse(keys, current, key(9))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustParse(t, "k1:"+key(1), "")
	ad := []byte("orders.payer_national_id:1")
	a, err := k.Seal([]byte("079203001234"), ad)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Seal([]byte("079203001234"), ad)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if bytes.Contains(a, []byte("079203001234")) || bytes.Contains(a, []byte("1234")) {
		t.Fatal("the sealed value carries the plaintext")
	}
	got, err := k.Open(a, ad)
	if err != nil || string(got) != "079203001234" {
		t.Fatalf("open: %q %v", got, err)
	}
	if id, _ := secretbox.KeyID(a); id != "k1" || !k.IsCurrent(a) {
		t.Fatalf("key id %q, current %v", id, k.IsCurrent(a))
	}
	tests := []struct {
		name   string
		sealed []byte
		ad     string
		want   error
	}{
		{"other row", a, "orders.payer_national_id:2", secretbox.ErrForged},
		{"flipped bit", append(append([]byte{}, a[:len(a)-1]...), a[len(a)-1]^1), string(ad), secretbox.ErrForged},
		{"truncated", a[:10], string(ad), secretbox.ErrMalformed},
		{"empty", nil, string(ad), secretbox.ErrMalformed},
		{"plaintext", []byte("079203001234"), string(ad), secretbox.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := k.Open(tc.sealed, []byte(tc.ad)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// After rotation the new key seals, the old one still opens, and a keyring
// without the old key refuses its values by name.
func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustParse(t, "k1:"+key(1), "k1")
	both := mustParse(t, "k1:"+key(1)+", k2:"+key(2), "k2")
	onlyNew := mustParse(t, "k2:"+key(2), "k2")
	sealed, _ := old.Seal([]byte("whsec_x"), nil)
	if both.IsCurrent(sealed) {
		t.Fatal("a k1 value counts as current under k2")
	}
	if got, err := both.Open(sealed, nil); err != nil || string(got) != "whsec_x" {
		t.Fatalf("old value under the rotated keyring: %q %v", got, err)
	}
	if _, err := onlyNew.Open(sealed, nil); !errors.Is(err, secretbox.ErrUnknownKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("old value without its key: %v", err)
	}
	resealed, _ := both.Seal([]byte("whsec_x"), nil)
	if !both.IsCurrent(resealed) || !bytes.HasPrefix(resealed, both.CurrentPrefix()) {
		t.Fatal("a new value is not under the current key")
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, keys, current, lookup, want string }{
		{"no keys", "", "", key(9), "no data key"},
		{"short key", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "", key(9), "5 bytes"},
		{"no colon", key(1), "", key(9), "kid:base64key"},
		{"bad base64", "k1:***", "", key(9), "not base64"},
		{"bad kid", "k 1:" + key(1), "", key(9), "key id"},
		{"unknown current", "k1:" + key(1), "k2", key(9), `current key "k2"`},
		{"several, none current", "k1:" + key(1) + ",k2:" + key(2), "", key(9), "no current key"},
		{"duplicate", "k1:" + key(1) + ",k1:" + key(2), "k1", key(9), "twice"},
		{"short lookup key", "k1:" + key(1), "", "c2hvcnQ=", "lookup key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := secretbox.Parse(tc.keys, tc.current, tc.lookup)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), key(1)[8:]) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
}

func TestHashIsKeyedAndStable(t *testing.T) {
	t.Parallel()
	a := mustParse(t, "k1:"+key(1), "")
	b := mustParse(t, "k2:"+key(2), "") // same lookup key, other data key
	c, _ := secretbox.Parse("k1:"+key(1), "", key(8))
	v := []byte("079203001234")
	if !bytes.Equal(a.Hash("national_id", v), b.Hash("national_id", v)) {
		t.Fatal("the hash changed with the data key: lookups would break on rotation")
	}
	if bytes.Equal(a.Hash("national_id", v), c.Hash("national_id", v)) {
		t.Fatal("the hash does not depend on the lookup key")
	}
	if bytes.Equal(a.Hash("national_id", v), a.Hash("phone", v)) {
		t.Fatal("the hash does not depend on the domain")
	}
}
