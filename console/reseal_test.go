package console

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// TestResealTOTPSecrets: after a data key rotation the staff TOTP secrets
// open under the new key alone, unchanged, with an audit row per batch; a
// second run has nothing to do.
func TestResealTOTPSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var secrets []string
	for _, email := range []string{"a@example.vn", "b@example.vn", "c@example.vn"} {
		_, s := e.user(email, RoleTreasury, "")
		secrets = append(secrets, s)
	}
	demoKey := sha256.Sum256([]byte("civicpay demo data key: not a secret"))
	newKey, lookup := sha256.Sum256([]byte("test k2")), sha256.Sum256([]byte("test lookup"))
	both, err := secretbox.New(map[string][]byte{secretbox.DemoKeyID: demoKey[:], "k2": newKey[:]}, "k2", lookup[:])
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.System(context.Background(), "test")
	for run, want := range []int{3, 0} {
		n, err := ResealTOTPSecrets(ctx, e.pool, both, 2)
		if err != nil || n != want {
			t.Fatalf("run %d: %d resealed (%v), want %d", run+1, n, err, want)
		}
	}
	onlyNew, _ := secretbox.New(map[string][]byte{"k2": newKey[:]}, "k2", lookup[:])
	for i, email := range []string{"a@example.vn", "b@example.vn", "c@example.vn"} {
		var r loginRow
		if err := e.pool.QueryRow(ctx, `SELECT id, totp_secret FROM staff_users WHERE email = $1`, email).Scan(&r.ID, &r.sealed); err != nil {
			t.Fatal(err)
		}
		got, err := (&Store{keys: onlyNew}).openSecret(r)
		if err != nil || got != secrets[i] {
			t.Errorf("%s: opens to %q (%v) under the new key alone", email, got, err)
		}
	}
	var batches int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'data_key.reseal' AND resource_type = 'staff_users'`).Scan(&batches); err != nil || batches != 2 {
		t.Errorf("%d audited batches (%v), want 2", batches, err)
	}
}
