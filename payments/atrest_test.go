package payments_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/payments"
)

// National IDs are stored sealed under the data key, with a keyed hash and the
// masked form: no database row carries the number (alone or batched), while
// the creating portal still reads it in full and everyone else masked.
func TestNationalIDEncryptedAtRest(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	ctx := context.Background()
	keys := e.DataKeys(t)
	nid := func(i int) string { return fmt.Sprintf("0792030%05d", 12345+7*i) }
	body := func(i int) string { return strings.Replace(orderBody("200000"), "079203001234", nid(i), 1) }

	// One order alone, then a burst the creator batches (both through
	// sql/create_orders.sql).
	ids := make([]string, 13)
	r := create(t, e, e.Portal, "nid-0", body(0))
	var o orderJSON
	r.JSON(t, &o)
	ids[0] = o.ID
	var wg sync.WaitGroup
	for i := 1; i < len(ids); i++ {
		wg.Go(func() {
			r := e.Do(t, "POST", "/v1/orders", e.Portal, body(i), "Idempotency-Key", fmt.Sprintf("nid-%d", i))
			var o orderJSON
			r.JSON(t, &o)
			if r.Status != http.StatusCreated || o.Payer.NationalID != nid(i) {
				t.Errorf("create %d: %d %q", i, r.Status, o.Payer.NationalID)
			}
			ids[i] = o.ID
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for i, id := range ids {
		var row, events string
		var clear *string
		var sealed, hash []byte
		var masked string
		if err := e.Pool.QueryRow(ctx, `SELECT row_to_json(o)::text, payer_national_id, payer_national_id_enc,
				payer_national_id_hash, payer_national_id_masked,
				(SELECT coalesce(string_agg(row_to_json(ev)::text, ''), '') FROM order_events ev WHERE ev.order_id = o.id)
			FROM orders o WHERE id = $1`, id).Scan(&row, &clear, &sealed, &hash, &masked, &events); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row+events, nid(i)[:9]) {
			t.Fatalf("order %d: the national ID is readable in the database: %s", i, row)
		}
		if clear != nil {
			t.Fatalf("order %d: national ID in the clear column", i)
		}
		got, err := payments.OpenNationalID(keys, uuid.MustParse(id), sealed)
		if err != nil || got != nid(i) {
			t.Fatalf("order %d: sealed national ID opens to %q, %v", i, got, err)
		}
		if !bytes.Equal(hash, keys.Hash("national_id", []byte(nid(i)))) || masked != payments.MaskNationalID(nid(i)) {
			t.Fatalf("order %d: hash or masked form wrong (%q)", i, masked)
		}
		if _, err := payments.OpenNationalID(keys, uuid.MustParse(ids[(i+1)%len(ids)]), sealed); err == nil {
			t.Fatalf("order %d: its sealed national ID opens as another order's", i)
		}
	}

	// Read back: the creator in full (also on an idempotent replay), others masked.
	for _, c := range []struct {
		name, method, path, key, idem, want string
	}{
		{"creator", "GET", "/v1/orders/" + ids[0], e.Portal, "", nid(0)},
		{"creator replay", "POST", "/v1/orders", e.Portal, "nid-0", nid(0)},
		{"agency", "GET", "/v1/orders/" + ids[0], e.AgencyA, "", payments.MaskNationalID(nid(0))},
		{"treasury", "GET", "/v1/orders/" + ids[0], e.Treasury, "", payments.MaskNationalID(nid(0))},
	} {
		var r apptest.Response
		if c.idem != "" {
			r = e.Do(t, c.method, c.path, c.key, body(0), "Idempotency-Key", c.idem)
		} else {
			r = e.Do(t, c.method, c.path, c.key, nil)
		}
		var got orderJSON
		r.JSON(t, &got)
		if got.ID != ids[0] || got.Payer.NationalID != c.want {
			t.Errorf("%s: %d national_id %q, want %q", c.name, r.Status, got.Payer.NationalID, c.want)
		}
	}
	page := e.Do(t, "GET", "/pay/"+mustRef(t, e, ids[0]), "", nil)
	if strings.Contains(string(page.Body), nid(0)) || !strings.Contains(string(page.Body), nid(0)[9:]) {
		t.Error("the pay page shows the national ID in full, or not masked")
	}

	// An order written before sealing (clear column) still reads as before.
	if _, err := e.Pool.Exec(ctx, `UPDATE orders SET payer_national_id = $2, payer_national_id_enc = NULL,
		payer_national_id_hash = NULL, payer_national_id_masked = NULL WHERE id = $1`, ids[1], nid(1)); err != nil {
		t.Fatal(err)
	}
	var mine, theirs orderJSON
	e.Do(t, "GET", "/v1/orders/"+ids[1], e.Portal, nil).JSON(t, &mine)
	e.Do(t, "GET", "/v1/orders/"+ids[1], e.AgencyA, nil).JSON(t, &theirs)
	if mine.Payer.NationalID != nid(1) || theirs.Payer.NationalID != payments.MaskNationalID(nid(1)) {
		t.Fatalf("legacy clear row: creator %q, agency %q", mine.Payer.NationalID, theirs.Payer.NationalID)
	}
}

func mustRef(t *testing.T, e *apptest.Env, id string) string {
	t.Helper()
	var ref string
	if err := e.Pool.QueryRow(context.Background(), `SELECT reference FROM orders WHERE id = $1`, id).Scan(&ref); err != nil {
		t.Fatal(err)
	}
	return ref
}
