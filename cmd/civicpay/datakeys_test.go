package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/webhooks"
)

// TestRotateDataKey: values sealed under the old key and values still in clear
// (from before migration 00013) all end up sealed under the new key, batch by
// batch with progress and audit rows; the old key is then not needed; a second
// run has nothing to do; a keyring missing the key in use stops, naming it.
// It sets environment variables, so it does not run in parallel.
func TestRotateDataKey(t *testing.T) {
	ctx := context.Background()
	k1, k2, lookup := secretbox.GenerateKey(), secretbox.GenerateKey(), secretbox.GenerateKey()
	e := apptest.New(t, func(c *config.Config) {
		c.DataKeys, c.LookupKey, c.Webhooks.AllowLoopback = "k1:"+k1, lookup, true
	})
	nid := func(i int) string { return fmt.Sprintf("07920300%04d", 1000+i) }
	var orders []uuid.UUID
	for i := range 5 {
		body := `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],"payer":{"name":"An","national_id":"` + nid(i) + `","email":"an@example.vn"},"description":"x"}`
		r := e.Do(t, "POST", "/v1/orders", e.Portal, body, "Idempotency-Key", fmt.Sprintf("rot-%d", i))
		var o struct{ ID uuid.UUID }
		r.JSON(t, &o)
		if r.Status != 201 {
			t.Fatalf("create order: %d %s", r.Status, r.Body)
		}
		orders = append(orders, o.ID)
	}
	var secrets []string
	var endpoints []uuid.UUID
	for range 3 {
		r := e.Do(t, "POST", "/v1/webhook-endpoints", e.Portal, `{"url":"http://127.0.0.1:9/hook","events":["order.paid"]}`)
		var ep struct {
			ID     uuid.UUID
			Secret string
		}
		r.JSON(t, &ep)
		if r.Status != 201 {
			t.Fatalf("create endpoint: %d %s", r.Status, r.Body)
		}
		endpoints, secrets = append(endpoints, ep.ID), append(secrets, ep.Secret)
	}
	rotated := e.Do(t, "POST", "/v1/webhook-endpoints/"+endpoints[0].String()+"/rotate-secret", e.Portal, nil)
	var rot struct{ Secret string }
	rotated.JSON(t, &rot)
	previous := secrets[0]
	secrets[0] = rot.Secret
	// Rows as they were before migration 00013: in clear.
	if _, err := e.Pool.Exec(ctx, `UPDATE orders SET payer_national_id = $2, payer_national_id_enc = NULL,
		payer_national_id_hash = NULL, payer_national_id_masked = NULL WHERE id = $1`, orders[3], nid(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE webhook_endpoints SET secret = $2, secret_enc = NULL WHERE id = $1`, endpoints[2], secrets[2]); err != nil {
		t.Fatal(err)
	}

	t.Setenv("DATABASE_URL", e.Pool.Config().ConnString())
	t.Setenv("CIVICPAY_DATA_KEYS", "k1:"+k1+",k2:"+k2)
	t.Setenv("CIVICPAY_DATA_KEY_ID", "k2")
	t.Setenv("CIVICPAY_LOOKUP_KEY", lookup)
	var out bytes.Buffer
	if err := run(ctx, []string{"keys", "rotate-data-key", "--batch", "2"}, &out); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out.String())
	}
	for _, want := range []string{"orders: 2 national IDs", "orders: 4 national IDs", "orders: 5 national IDs",
		"webhook endpoints: 2 signing", "webhook endpoints: 3 signing", "done: 5 orders and 3 webhook endpoints"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	onlyK2, err := secretbox.Parse("k2:"+k2, "", lookup)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range orders {
		var clear *string
		var sealed, hash []byte
		if err := e.Pool.QueryRow(ctx, `SELECT payer_national_id, payer_national_id_enc, payer_national_id_hash FROM orders WHERE id = $1`,
			id).Scan(&clear, &sealed, &hash); err != nil {
			t.Fatal(err)
		}
		got, err := payments.OpenNationalID(onlyK2, id, sealed)
		if clear != nil || err != nil || got != nid(i) || !bytes.Equal(hash, onlyK2.Hash("national_id", []byte(nid(i)))) {
			t.Errorf("order %d after rotation: clear %v, opens to %q (%v)", i, clear != nil, got, err)
		}
	}
	for i, id := range endpoints {
		var clear, clearPrev *string
		var sealed, sealedPrev []byte
		if err := e.Pool.QueryRow(ctx, `SELECT secret, secret_enc, previous_secret, previous_secret_enc FROM webhook_endpoints WHERE id = $1`,
			id).Scan(&clear, &sealed, &clearPrev, &sealedPrev); err != nil {
			t.Fatal(err)
		}
		got, err := webhooks.OpenSecret(onlyK2, id, sealed)
		if clear != nil || clearPrev != nil || err != nil || got != secrets[i] {
			t.Errorf("endpoint %d after rotation: clear %v, opens: %v", i, clear != nil, err)
		}
		if i == 0 {
			if got, err := webhooks.OpenSecret(onlyK2, id, sealedPrev); err != nil || got != previous {
				t.Errorf("previous secret after rotation: %v", err)
			}
		}
	}
	var audited int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'data_key.reseal' AND actor LIKE 'cli:%'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 5 { // 3 batches of orders, 2 of endpoints
		t.Errorf("%d audit rows, want 5", audited)
	}

	out.Reset()
	if err := run(ctx, []string{"keys", "rotate-data-key"}, &out); err != nil || !strings.Contains(out.String(), "done: 0 orders and 0 webhook endpoints") {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}

	t.Setenv("CIVICPAY_DATA_KEYS", "k3:"+k1)
	t.Setenv("CIVICPAY_DATA_KEY_ID", "k3")
	if err := run(ctx, []string{"keys", "rotate-data-key"}, &out); err == nil || !strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("rotation without the key in use: %v", err)
	}
}
