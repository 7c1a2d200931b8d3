package payments

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// One statement decides every idempotency outcome, for a batch as for one
// order: created, busy (a later duplicate in the same batch, or a key whose
// lock another transaction holds), replay (same key, same request) and
// mismatch (same key, another request).
func TestCreateOrdersStatementAnswersEveryRule(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	c := &creator{pool: pool}
	client := uuid.Must(uuid.NewV7())
	job := func(key, hash string) createJob {
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := uuid.Must(uuid.NewV7())
		o := &Order{ID: id, Reference: "T" + id.String()[24:], AgencyCode: "AG-A", CreatedBy: client, Status: StatusOpen,
			Currency: "VND", Total: decimal.NewFromInt(200000), Payer: Payer{Name: "P", Email: "p@example.org"},
			Description: "d", Metadata: map[string]string{}, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
			Lines: []Line{{No: 1, ServiceCode: "SVC", AgencyCode: "AG-A", Kind: "fee", Amount: decimal.NewFromInt(200000)}}}
		return createJob{o: o, actor: "test", key: key, hash: []byte(hash)}
	}
	// Another transaction holds the lock of key "held".
	holder, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, client.String()+":held"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = holder.Exec(ctx, `SELECT pg_advisory_unlock_all()`) }() // before the connection goes back

	first := []createJob{job("a", "h1"), job("a", "h1"), job("b", "h1"), job("held", "h1")}
	second := []createJob{job("a", "h1"), job("b", "h2"), job("c", "h1")}
	tests := []struct {
		name string
		jobs []createJob
		want []createResult
	}{
		{"first batch", first, []createResult{
			{"created", first[0].o.ID}, {"busy", uuid.Nil}, {"created", first[2].o.ID}, {"busy", uuid.Nil}}},
		{"second batch", second, []createResult{
			{"replay", first[0].o.ID}, {"mismatch", first[2].o.ID}, {"created", second[2].o.ID}}},
		{"one order", []createJob{job("b", "h1")}, []createResult{{"replay", first[2].o.ID}}},
	}
	for _, tt := range tests { // in order: each batch sees the ones before
		got, err := c.run(ctx, tt.jobs)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("%s: order %d = %+v, want %+v", tt.name, i, got[i], tt.want[i])
			}
		}
	}
	var orders, lines, events int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE created_by = $1),
		(SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.created_by = $1),
		(SELECT count(*) FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.created_by = $1)`, client).
		Scan(&orders, &lines, &events); err != nil {
		t.Fatal(err)
	}
	if orders != 3 || lines != 3 || events != 3 {
		t.Errorf("%d orders, %d lines, %d events written: want 3 of each (a, b, c)", orders, lines, events)
	}
}
