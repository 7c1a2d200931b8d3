package payments

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// syncBuffer is a log sink safe for the recorder's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUnmatchedResultIsLogged: results that name no attempt of their
// gateway — another gateway's attempt, the order's payment reference — are
// answered not found, logged as a warning, and change nothing, whether
// recorded alone or in a batch.
func TestUnmatchedResultIsLogged(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	f := recorderFlow(t, pool)
	var logs syncBuffer
	f.log = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	order, _, ref := openAttempt(t, pool, "AG-A")
	var paymentRef string
	if err := pool.QueryRow(context.Background(), `SELECT reference FROM orders WHERE id = $1`, order).Scan(&paymentRef); err != nil {
		t.Fatal(err)
	}

	if ack, err := f.RecordResult(context.Background(), "othergw", result(ref, "T1", gateways.StatusSucceeded, 200000), "gateway:othergw"); err != nil || ack != gateways.AckNotFound {
		t.Errorf("another gateway's attempt: %v %v", ack, err)
	}
	if ack, err := f.RecordResult(context.Background(), "fakepay", result(paymentRef, "T2", gateways.StatusSucceeded, 200000), "gateway:fakepay"); err != nil || ack != gateways.AckNotFound {
		t.Errorf("the payment reference: %v %v", ack, err)
	}
	batch := []recordJob{job(result(paymentRef, "T3", gateways.StatusSucceeded, 200000)), job(result("REF-NOBODY", "T4", gateways.StatusSucceeded, 200000))}
	for i, res := range f.rec.queue.WriteBatch(batch) {
		if res.Err != nil || res.Value != gateways.AckNotFound {
			t.Errorf("batched %s: %v %v", batch[i].r.GatewayRef, res.Value, res.Err)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "matches no attempt of that gateway"); n != 4 {
		t.Errorf("%d warnings, want 4:\n%s", n, out)
	}
	for _, want := range []string{`"level":"WARN"`, `"gateway":"othergw"`, `"gateway_ref":"` + paymentRef + `"`, `"gateway_txn_id":"T4"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM orders WHERE id = $1 AND status = 'open'`, order); n != 1 {
		t.Error("the order is not open any more")
	}
	if n := rowCount(t, pool, `SELECT count(*) FROM ledger_entries`); n != 0 {
		t.Errorf("%d ledger entries", n)
	}
}
