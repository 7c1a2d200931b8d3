package main

import (
	"context"
	"testing"
	"time"
)

// TestSmoke seeds a small year and reads it once each way, so that a change
// that breaks the bench (the schema moving under its COPY, the ledger's
// hashing, an API it calls) fails `make test` rather than the next
// `make bench BENCH=scale`: run fails if ledger.Verify finds anything wrong
// with the seeded ledger. The payments and the reconciliation are left out
// (cmd/benchpay's and cmd/benchrecon's smoke tests drive the same code).
// Its numbers mean nothing at this size (20,000 orders: some 30 of the
// agency in any 30 days, so that its lists are never empty). It seeds on the
// configured server: the scale cluster's own start and restart are
// devdb's TestScaleClusterRestartsWithItsSettings.
func TestSmoke(t *testing.T) {
	err := run(context.Background(), options{orders: 20_000, readD: 0, readMin: 1, readClients: 1, verify: true, server: serverConfigured})
	if err != nil {
		t.Fatal(err)
	}
}

// The generated ids, references and phones are what the reads look for:
// distinct where the schema wants them unique.
func TestWorldIsDistinct(t *testing.T) {
	t.Parallel()
	w := newWorld(50_000, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), [16]byte{1})
	refs, ids, events := map[string]bool{}, map[[16]byte]bool{}, map[string]bool{}
	for i := range w.n {
		o := w.order(i)
		if refs[o.ref()] {
			t.Fatalf("order %d: reference %s twice", i, o.ref())
		}
		refs[o.ref()] = true
		for _, id := range [][16]byte{o.id, o.attempt, o.failed} {
			if id != [16]byte{} && ids[id] {
				t.Fatalf("order %d: id %x twice", i, id)
			}
			ids[id] = true
		}
		for k := range 3 {
			e := eventID(o.paid, i, k)
			if events[e] || len(e) != 30 {
				t.Fatalf("order %d: event id %s twice or not msg_ and 26 characters", i, e)
			}
			events[e] = true
		}
		if o.svc2 >= 0 && w.services[o.svc2].agency == w.services[o.svc1].agency {
			t.Fatalf("order %d: both lines of agency %d", i, w.services[o.svc1].agency)
		}
		if !o.paid.Before(w.end) || o.created.Before(w.start) {
			t.Fatalf("order %d: created %s, paid %s, outside the year [%s, %s)", i, o.created, o.paid, w.start, w.end)
		}
	}
	if len(w.agencies) != agencyCount || len(w.services) != serviceCount {
		t.Fatalf("%d agencies, %d services", len(w.agencies), len(w.services))
	}
}
