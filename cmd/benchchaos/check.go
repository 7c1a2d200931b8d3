package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// orderFacts is what the database holds about one order of a scenario.
type orderFacts struct {
	ID, Key, Status string
	Entries         int // ledger entries of kind payment for the order
	Webhooks        int // order.paid webhook events (the full view; agencies' views are extra copies by design)
	Events          int // order.paid rows in the order's history
	Succeeded       int // attempts succeeded (payment or overpayment)
	Payments        int // attempts whose outcome is payment
}

func (o orderFacts) paid() bool {
	return o.Status == "paid" || o.Status == "partially_refunded" || o.Status == "refunded"
}

// attemptFacts is one attempt in the database.
type attemptFacts struct {
	OrderID, Gateway, Ref, Status, Outcome string
}

type gwRef struct{ gateway, ref string }

// findings are a scenario's verdict: lost and doubled payments, each
// counted once per order (or key), with the reasons.
type findings struct {
	lost, doubled map[string]string // order id (or key) -> first reason
}

func (f *findings) addLost(id, why string) {
	if _, ok := f.lost[id]; !ok {
		f.lost[id] = why
	}
}

func (f *findings) addDoubled(id, why string) {
	if _, ok := f.doubled[id]; !ok {
		f.doubled[id] = why
	}
}

// reasons counts findings by reason, with one example each.
func reasons(m map[string]string) []string {
	byWhy := map[string][]string{}
	for id, why := range m {
		byWhy[why] = append(byWhy[why], id)
	}
	var out []string
	for why, ids := range byWhy {
		sort.Strings(ids)
		out = append(out, fmt.Sprintf("%d × %s (e.g. %s)", len(ids), why, ids[0]))
	}
	sort.Strings(out)
	return out
}

// evaluate holds the clients' records, the database and the gateway's word
// against each other:
//
//   - every order a client got a 2xx for exists, under its key, with that id
//     (else lost); a key answered with two ids, or holding two orders, is doubled;
//   - every payment the gateway confirmed (sim status succeeded) has its
//     attempt succeeded and its order paid (else lost);
//   - an attempt succeeded without the gateway confirming it is doubled;
//   - a paid order has exactly one paying attempt, one payment ledger entry,
//     one order.paid webhook event and one order.paid history row (fewer is
//     lost, more is doubled); an order not paid has none of them.
//
// prefix is the scenario's key prefix: an order under it that no client
// asked for is doubled.
func evaluate(pays []*payment, orders []orderFacts, attempts []attemptFacts, simStatus map[gwRef]string, prefix string) findings {
	f := findings{lost: map[string]string{}, doubled: map[string]string{}}
	byKey := map[string][]orderFacts{}
	byID := map[string]orderFacts{}
	for _, o := range orders {
		byKey[o.Key] = append(byKey[o.Key], o)
		byID[o.ID] = o
	}
	attemptByRef := map[gwRef]attemptFacts{}
	for _, a := range attempts {
		attemptByRef[gwRef{a.Gateway, a.Ref}] = a
	}
	asked := map[string]bool{}
	for _, p := range pays {
		asked[p.key] = true
		inDB := byKey[p.key]
		if len(inDB) > 1 {
			f.addDoubled(p.key, "two orders under one Idempotency-Key")
		}
		ids := map[string]bool{}
		for _, id := range p.orderIDs {
			ids[id] = true
		}
		if len(ids) > 1 {
			f.addDoubled(p.key, "one Idempotency-Key answered with two order ids")
		}
		for id := range ids {
			if o, ok := byID[id]; !ok || o.Key != p.key {
				f.addLost(id, "order answered 2xx is not in the database under its key")
			}
		}
		if !p.payCalled || simStatus[gwRef{p.gateway, p.ref}] != "succeeded" {
			continue
		}
		a, ok := attemptByRef[gwRef{p.gateway, p.ref}]
		switch {
		case !ok:
			f.addLost(p.orderID(), "confirmed at the gateway, no such attempt in civicpay")
		case a.Status != "succeeded":
			f.addLost(a.OrderID, "confirmed at the gateway, attempt still "+a.Status)
		case !byID[a.OrderID].paid():
			f.addLost(a.OrderID, "confirmed at the gateway, order "+byID[a.OrderID].Status)
		}
	}
	for _, a := range attempts {
		if a.Status == "succeeded" && simStatus[gwRef{a.Gateway, a.Ref}] != "succeeded" {
			f.addDoubled(a.OrderID, "attempt succeeded in civicpay, not at the gateway")
		}
	}
	for _, o := range orders {
		if strings.HasPrefix(o.Key, prefix) && !asked[o.Key] {
			f.addDoubled(o.ID, "order under a key no client sent")
		}
		want := 0
		if o.paid() {
			want = 1
		}
		for _, c := range []struct {
			n    int
			what string
		}{{o.Payments, "paying attempt"}, {o.Entries, "payment ledger entry"},
			{o.Webhooks, "order.paid webhook event"}, {o.Events, "order.paid history row"}} {
			switch {
			case c.n < want:
				f.addLost(o.ID, "paid order without its "+c.what)
			case c.n > want:
				f.addDoubled(o.ID, fmt.Sprintf("%s order with %d × %s", o.Status, c.n, c.what))
			}
		}
		if o.Succeeded > o.Payments && o.Succeeded > 1 {
			// The load pays each order once at the gateway: a second success
			// (an overpayment) means one confirmation was recorded twice.
			f.addDoubled(o.ID, fmt.Sprintf("%d attempts succeeded", o.Succeeded))
		}
	}
	return f
}

// loadFacts reads the scenario's orders (by key prefix) and their attempts.
func loadFacts(ctx context.Context, pool *pgxpool.Pool, prefix string) ([]orderFacts, []attemptFacts, error) {
	rows, err := pool.Query(ctx, `
		WITH o AS (SELECT id, idempotency_key, status FROM orders WHERE starts_with(idempotency_key, $1)),
		e AS (SELECT split_part(reference, '/', 1) AS ref, count(*) AS n FROM ledger_entries
			WHERE kind = 'payment' GROUP BY 1),
		w AS (SELECT subject, count(*) AS n FROM webhook_events
			WHERE type = 'order.paid' AND NOT agency_only GROUP BY 1),
		ev AS (SELECT order_id, count(*) AS n FROM order_events WHERE type = 'order.paid' GROUP BY 1),
		a AS (SELECT order_id, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
			count(*) FILTER (WHERE outcome = 'payment') AS payments FROM payment_attempts GROUP BY 1)
		SELECT o.id::text, o.idempotency_key, o.status, coalesce(e.n, 0), coalesce(w.n, 0), coalesce(ev.n, 0),
			coalesce(a.succeeded, 0), coalesce(a.payments, 0)
		FROM o LEFT JOIN e ON e.ref = 'order:' || o.id LEFT JOIN w ON w.subject = o.id::text
			LEFT JOIN ev ON ev.order_id = o.id LEFT JOIN a ON a.order_id = o.id`, prefix)
	if err != nil {
		return nil, nil, err
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orderFacts, error) {
		var o orderFacts
		err := r.Scan(&o.ID, &o.Key, &o.Status, &o.Entries, &o.Webhooks, &o.Events, &o.Succeeded, &o.Payments)
		return o, err
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = pool.Query(ctx, `SELECT a.order_id::text, a.gateway, a.gateway_ref, a.status, coalesce(a.outcome, '')
		FROM payment_attempts a JOIN orders o ON o.id = a.order_id WHERE starts_with(o.idempotency_key, $1)`, prefix)
	if err != nil {
		return nil, nil, err
	}
	attempts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attemptFacts, error) {
		var a attemptFacts
		err := r.Scan(&a.OrderID, &a.Gateway, &a.Ref, &a.Status, &a.Outcome)
		return a, err
	})
	return orders, attempts, err
}

// simStatuses asks the simulator for the status of every transaction the
// clients paid and every attempt civicpay says succeeded (16 at a time).
func simStatuses(ctx context.Context, s *sim, pays []*payment, attempts []attemptFacts) (map[gwRef]string, error) {
	want := map[gwRef]bool{}
	for _, p := range pays {
		if p.payCalled {
			want[gwRef{p.gateway, p.ref}] = true
		}
	}
	for _, a := range attempts {
		if a.Status == "succeeded" {
			want[gwRef{a.Gateway, a.Ref}] = true
		}
	}
	var (
		mu    sync.Mutex
		out   = make(map[gwRef]string, len(want))
		first error
		wg    sync.WaitGroup
		work  = make(chan gwRef)
	)
	for range 16 {
		wg.Go(func() {
			for r := range work {
				st, err := s.status(ctx, r.gateway, r.ref)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				out[r] = st
				mu.Unlock()
			}
		})
	}
	for r := range want {
		work <- r
	}
	close(work)
	wg.Wait()
	return out, first
}

// settle waits, up to d, until the simulator has no callback in flight and
// every payment it confirmed for this scenario's clients is recorded paid in
// civicpay (by a callback or a status job). It returns how many confirmed
// payments are not paid yet when it stops.
func settle(ctx context.Context, pool *pgxpool.Pool, s *sim, pays []*payment, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	if _, err := s.callbacksInFlight(ctx, min(d, 30*time.Second)); err != nil {
		return 0, err
	}
	var gws, refs []string
	for _, p := range pays {
		if !p.payCalled {
			continue
		}
		if p.simStatus == "" { // the pay call got no answer: ask
			st, err := s.status(ctx, p.gateway, p.ref)
			if err != nil {
				return 0, err
			}
			p.simStatus = st
		}
		if p.simStatus == "succeeded" {
			gws, refs = append(gws, p.gateway), append(refs, p.ref)
		}
	}
	for {
		var paid int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM payment_attempts a
			JOIN unnest($1::text[], $2::text[]) AS r(gateway, ref) ON a.gateway = r.gateway AND a.gateway_ref = r.ref
			JOIN orders o ON o.id = a.order_id
			WHERE a.status = 'succeeded' AND o.status IN ('paid', 'partially_refunded', 'refunded')`, gws, refs).Scan(&paid)
		if err != nil {
			return 0, err
		}
		if paid >= len(refs) || time.Now().After(deadline) {
			return len(refs) - paid, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}
