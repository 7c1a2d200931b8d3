package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// Production refuses to run without data keys, naming the setting; development
// uses the published demo key and says so.
func TestDataKeyring(t *testing.T) {
	t.Parallel()
	k1, lookup := secretbox.GenerateKey(), secretbox.GenerateKey()
	tests := []struct {
		name                  string
		keys, current, lookup string
		development           bool
		wantErr, wantKID      string
	}{
		{"production without keys", "", "", "", false, "CIVICPAY_DATA_KEYS", ""},
		{"development without keys", "", "", "", true, "", secretbox.DemoKeyID},
		{"keys without lookup key", "k1:" + k1, "", "", false, "CIVICPAY_LOOKUP_KEY", ""},
		{"bad key", "k1:abc", "", lookup, false, "CIVICPAY_DATA_KEYS", ""},
		{"configured", "k1:" + k1, "", lookup, false, "", "k1"},
		{"configured in development", "k1:" + k1, "k1", lookup, true, "", "k1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			c := Config{DataKeys: tc.keys, DataKeyID: tc.current, LookupKey: tc.lookup}
			k, err := c.DataKeyring(tc.development, slog.New(slog.NewTextHandler(&logs, nil)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || k.Current() != tc.wantKID {
				t.Fatalf("keyring %v, err %v", k, err)
			}
			if k.IsDemo() != strings.Contains(logs.String(), "demo key") {
				t.Fatalf("demo keys without a warning (or a warning without them): %q", logs.String())
			}
		})
	}
}
