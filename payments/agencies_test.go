package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// Issue 10, item 4: every agency on an order. The orders here have a line of
// A-FEE (200 000 VND, agency AG-A) and then one of B-CHARGE (50 000 VND,
// agency AG-B): on main the order belonged to AG-A alone.

type lineJSON struct {
	LineNo     int     `json:"line_no"`
	Service    string  `json:"service"`
	Agency     string  `json:"agency"`
	Kind       string  `json:"kind"`
	Amount     string  `json:"amount"`
	Refunded   *string `json:"amount_refunded"`
	Refundable *string `json:"refundable"`
}

type agencyOrderJSON struct {
	ID             string       `json:"id"`
	Status         string       `json:"status"`
	AmountRefunded string       `json:"amount_refunded"`
	Refundable     string       `json:"refundable"`
	Lines          []lineJSON   `json:"lines"`
	Refunds        []refundView `json:"refunds"`
}

type refundView struct {
	ID     string `json:"id"`
	Amount string `json:"amount"`
	Status string `json:"status"`
	Lines  []struct {
		LineNo int    `json:"line_no"`
		Agency string `json:"agency"`
		Amount string `json:"amount"`
	} `json:"lines"`
}

// paidTwoAgencyOrder creates an order of A's and B's lines and pays it.
func paidTwoAgencyOrder(t *testing.T, e *apptest.Env) orderJSON {
	t.Helper()
	o := newOrder(t, e, true)
	pay(t, e, startAttempt(t, e, o.ID, "ewallet", "zalopay"), gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")
	return o
}

func viewAs(t *testing.T, e *apptest.Env, key, id string) agencyOrderJSON {
	t.Helper()
	r := e.Do(t, "GET", "/v1/orders/"+id, key, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET order = %d %s", r.Status, r.Body)
	}
	var o agencyOrderJSON
	r.JSON(t, &o)
	return o
}

// TestEveryAgencyOnAnOrderSeesIt: agency B, whose line is the second, sees
// the order — its own line in full, A's as agency and amount only — in GET
// and in its list; the refundable it is shown is its line's.
func TestEveryAgencyOnAnOrderSeesIt(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := paidTwoAgencyOrder(t, e)

	b := viewAs(t, e, e.AgencyB, o.ID)
	if len(b.Lines) != 2 || b.Refundable != "50000" {
		t.Fatalf("B's view: %+v", b)
	}
	if l := b.Lines[0]; l.Agency != "AG-A" || l.Amount != "200000" || l.Service != "" || l.Kind != "" || l.Refundable != nil || l.Refunded != nil {
		t.Fatalf("B sees A's line as %+v, want agency and amount only", l)
	}
	if l := b.Lines[1]; l.Agency != "AG-B" || l.Service != "B-CHARGE" || l.Kind == "" || l.Refundable == nil || *l.Refundable != "50000" {
		t.Fatalf("B sees its own line as %+v, want it in full", l)
	}
	a := viewAs(t, e, e.AgencyA, o.ID)
	if a.Refundable != "200000" || a.Lines[0].Service != "A-FEE" || a.Lines[1].Service != "" {
		t.Fatalf("A's view: %+v", a)
	}
	tr := viewAs(t, e, e.Treasury, o.ID)
	if tr.Refundable != "250000" || tr.Lines[0].Service != "A-FEE" || tr.Lines[1].Service != "B-CHARGE" {
		t.Fatalf("treasury's view: %+v", tr)
	}
	for _, q := range []string{"", "?status=paid", "?agency=AG-B", "?service=B-CHARGE"} {
		var page struct {
			Data []agencyOrderJSON `json:"data"`
		}
		r := e.Do(t, "GET", "/v1/orders"+q, e.AgencyB, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("B lists orders%s = %d %s", q, r.Status, r.Body)
		}
		r.JSON(t, &page)
		if len(page.Data) != 1 || page.Data[0].ID != o.ID || page.Data[0].Lines[0].Service != "" || page.Data[0].Refundable != "50000" {
			t.Fatalf("B lists orders%s: %s", q, r.Body)
		}
	}
	// Treasury's agency filter finds the order by its second line's agency too.
	r := e.Do(t, "GET", "/v1/orders?agency=AG-B", e.Treasury, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), o.ID) {
		t.Fatalf("treasury lists AG-B's orders = %d %s", r.Status, r.Body)
	}
	// Seeing is not leading: B does not cancel an order A leads.
	o2 := newOrder(t, e, true)
	if r := e.Do(t, "POST", "/v1/orders/"+o2.ID+"/cancel", e.AgencyB, nil); r.Status != http.StatusForbidden {
		t.Fatalf("B cancels A's order = %d %s", r.Status, r.Body)
	}
}

// TestEveryAgencyOnAnOrderGetsItsWebhooks: each agency's endpoint receives
// order.paid with its own view; treasury's receives the full view once.
func TestEveryAgencyOnAnOrderGetsItsWebhooks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]json.RawMessage{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(body, &env)
		if env.Type == "order.paid" {
			mu.Lock()
			got[strings.TrimPrefix(r.URL.Path, "/")] = append(got[strings.TrimPrefix(r.URL.Path, "/")], env.Data)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	e := apptest.NewWithSim(t, func(c *config.Config) { c.Webhooks.AllowLoopback = true })
	for name, key := range map[string]string{"a": e.AgencyA, "b": e.AgencyB, "treasury": e.Treasury, "portal": e.Portal} {
		r := e.Do(t, "POST", "/v1/webhook-endpoints", key, fmt.Sprintf(`{"url":%q,"events":["order.paid"]}`, rcv.URL+"/"+name))
		if r.Status != http.StatusCreated {
			t.Fatalf("endpoint for %s = %d %s", name, r.Status, r.Body)
		}
	}
	o := paidTwoAgencyOrder(t, e)
	eventually(t, "order.paid delivered to A, B, treasury and the portal", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["a"]) > 0 && len(got["b"]) > 0 && len(got["treasury"]) > 0 && len(got["portal"]) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	decode := func(raw json.RawMessage) agencyOrderJSON {
		var v agencyOrderJSON
		if err := json.Unmarshal(raw, &v); err != nil || v.ID != o.ID {
			t.Fatalf("webhook data %s: %v", raw, err)
		}
		return v
	}
	if b := decode(got["b"][0]); b.Lines[0].Service != "" || b.Lines[1].Service != "B-CHARGE" || b.Refundable != "50000" {
		t.Fatalf("B's order.paid: %s", got["b"][0])
	}
	if a := decode(got["a"][0]); a.Lines[0].Service != "A-FEE" || a.Lines[1].Service != "" || a.Refundable != "200000" {
		t.Fatalf("A's order.paid: %s", got["a"][0])
	}
	for _, who := range []string{"treasury", "portal"} {
		if v := decode(got[who][0]); len(got[who]) != 1 || v.Lines[1].Service != "B-CHARGE" || v.Refundable != "250000" {
			t.Fatalf("%s's order.paid (%d): %s", who, len(got[who]), got[who][0])
		}
	}
	if len(got["a"]) != 1 || len(got["b"]) != 1 {
		t.Fatalf("deliveries: A %d, B %d, want one each", len(got["a"]), len(got["b"]))
	}
	// The feed says the same: B reads its event of the order, treasury the full one only.
	for key, want := range map[string]int{e.AgencyB: 1, e.Treasury: 1} {
		eventually(t, "the feed", func() bool {
			var page struct {
				Data []json.RawMessage `json:"data"`
			}
			e.Do(t, "GET", "/v1/events?type=order.paid&subject="+o.ID, key, nil).JSON(t, &page)
			return len(page.Data) == want
		})
	}
}

// TestAgencyRefundsOnlyItsLines: B refunds at most its line; A cannot name
// B's line; the refund's split is recorded per line and the ledger debits
// only the refunding agency; treasury refunds the rest, split per line.
func TestAgencyRefundsOnlyItsLines(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := paidTwoAgencyOrder(t, e)
	refund := func(key, body string) apptest.Response {
		return e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", key, body)
	}
	tests := []struct {
		name, key, body string
		status          int
		mention         string
	}{
		{"A refunding the whole order", e.AgencyA, `{"amount":250000,"expected_refundable":250000,"reason":"r"}`, 409, "200000"},
		{"B above its line", e.AgencyB, `{"amount":50001,"expected_refundable":50000,"reason":"r"}`, 422, "50000"},
		{"B expecting the order's refundable", e.AgencyB, `{"amount":1000,"expected_refundable":250000,"reason":"r"}`, 409, "50000"},
		{"A naming B's line", e.AgencyA, `{"lines":[{"line_no":2,"amount":1000}],"expected_refundable":200000,"reason":"r"}`, 403, "line 2"},
		{"A above its line", e.AgencyA, `{"amount":200001,"expected_refundable":200000,"reason":"r"}`, 422, "200000"},
		{"treasury above a named line", e.Treasury, `{"lines":[{"line_no":2,"amount":50001}],"expected_refundable":250000,"reason":"r"}`, 422, "50000"},
		{"no such line", e.Treasury, `{"lines":[{"line_no":3,"amount":1}],"expected_refundable":250000,"reason":"r"}`, 422, "line 3"},
		{"amount not the lines' sum", e.Treasury, `{"amount":2,"lines":[{"line_no":1,"amount":1}],"expected_refundable":250000,"reason":"r"}`, 422, "sum"},
	}
	for _, tt := range tests {
		if r := refund(tt.key, tt.body); r.Status != tt.status || !strings.Contains(string(r.Body), tt.mention) {
			t.Fatalf("%s: %d %s, want %d naming %q", tt.name, r.Status, r.Body, tt.status, tt.mention)
		}
	}

	r := refund(e.AgencyB, `{"amount":20000,"expected_refundable":50000,"reason":"B's service was not delivered"}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("B refunds 20000 = %d %s", r.Status, r.Body)
	}
	var rf refundView
	r.JSON(t, &rf)
	if len(rf.Lines) != 1 || rf.Lines[0].LineNo != 2 || rf.Lines[0].Agency != "AG-B" || rf.Lines[0].Amount != "20000" {
		t.Fatalf("B's refund %s", r.Body)
	}
	eventually(t, "B's refund confirmed", func() bool { return viewAs(t, e, e.Treasury, o.ID).AmountRefunded == "20000" })
	checkRefundLines(t, e, rf.ID, map[int]string{2: "20000"})
	checkRefundDebits(t, e, rf.ID, map[string]string{"AG-B": "20000"})
	if b, a := viewAs(t, e, e.AgencyB, o.ID), viewAs(t, e, e.AgencyA, o.ID); b.Refundable != "30000" || a.Refundable != "200000" ||
		*b.Lines[1].Refunded != "20000" || len(b.Refunds) != 1 || len(a.Refunds) != 0 {
		t.Fatalf("after B's refund: B %+v, A %+v", b, a)
	}

	r = refund(e.Treasury, `{"amount":230000,"expected_refundable":230000,"reason":"the whole request withdrawn"}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("treasury refunds the rest = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &rf)
	got := waitStatus(t, e, o.ID, "refunded")
	if got.AmountRefunded != "250000" || got.Refundable != "0" {
		t.Fatalf("refunded order %+v", got)
	}
	checkRefundLines(t, e, rf.ID, map[int]string{1: "200000", 2: "30000"})
	checkRefundDebits(t, e, rf.ID, map[string]string{"AG-A": "200000", "AG-B": "30000"})
	// The split is append-only.
	if _, err := e.Pool.Exec(context.Background(), `UPDATE payment_refund_lines SET amount = 1`); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE payment_refund_lines: %v", err)
	}
}

// TestConcurrentAgencyRefundsCannotOverRefund: A, B and treasury refund the
// same order at once, each as much as it may; whatever wins, no line and not
// the order is refunded beyond what it received.
func TestConcurrentAgencyRefundsCannotOverRefund(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	o := paidTwoAgencyOrder(t, e)
	reqs := []struct{ key, body string }{
		{e.AgencyA, `{"amount":200000,"expected_refundable":200000,"reason":"a"}`},
		{e.AgencyB, `{"amount":50000,"expected_refundable":50000,"reason":"b"}`},
		{e.AgencyB, `{"amount":40000,"expected_refundable":50000,"reason":"b"}`},
		{e.AgencyA, `{"amount":150000,"expected_refundable":200000,"reason":"a"}`},
		{e.Treasury, `{"lines":[{"line_no":2,"amount":50000}],"expected_refundable":250000,"reason":"t"}`},
		{e.Treasury, `{"amount":250000,"expected_refundable":250000,"reason":"t"}`},
	}
	var wg sync.WaitGroup
	statuses := make([]int, 0, len(reqs)*3)
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		for _, rq := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", rq.key, rq.body)
				mu.Lock()
				statuses = append(statuses, r.Status)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	accepted := 0
	for _, s := range statuses {
		switch s {
		case http.StatusAccepted:
			accepted++
		case http.StatusConflict:
		default:
			t.Fatalf("statuses %v: only 202 and 409 expected", statuses)
		}
	}
	if accepted == 0 {
		t.Fatalf("statuses %v: no refund accepted", statuses)
	}
	var overLines, overOrder int
	var reserved string
	ctx := context.Background()
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT l.line_no FROM order_lines l
		LEFT JOIN payment_refund_lines rl ON rl.order_id = l.order_id AND rl.line_no = l.line_no
		WHERE l.order_id = $1 GROUP BY l.line_no, l.amount HAVING coalesce(sum(rl.amount), 0) > l.amount) x`, o.ID).Scan(&overLines); err != nil {
		t.Fatal(err)
	}
	if err := e.Pool.QueryRow(ctx, `SELECT (amount_refunded + amount_refund_pending)::text,
		(amount_refunded + amount_refund_pending > amount_paid)::int FROM orders WHERE id = $1`, o.ID).Scan(&reserved, &overOrder); err != nil {
		t.Fatal(err)
	}
	if overLines != 0 || overOrder != 0 {
		t.Fatalf("over-refunded: %d lines, order %d (reserved %s); statuses %v", overLines, overOrder, reserved, statuses)
	}
	// The database itself refuses a line refunded beyond its amount.
	if _, err := e.Pool.Exec(ctx, `UPDATE order_lines SET amount_refund_pending = amount + 1 WHERE order_id = $1 AND line_no = 2`, o.ID); err == nil ||
		!strings.Contains(err.Error(), "order_lines_refunds_within_amount") {
		t.Fatalf("line over-refund in SQL: %v", err)
	}
}

func checkRefundLines(t *testing.T, e *apptest.Env, refundID string, want map[int]string) {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT line_no, amount::text FROM payment_refund_lines WHERE refund_id = $1`, refundID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]string{}
	for rows.Next() {
		var n int
		var amount string
		if err := rows.Scan(&n, &amount); err != nil {
			t.Fatal(err)
		}
		got[n] = amount
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("refund %s lines %v, want %v", refundID, got, want)
	}
}

// checkRefundDebits: the refund's ledger entry debits exactly these agencies.
func checkRefundDebits(t *testing.T, e *apptest.Env, refundID string, want map[string]string) {
	t.Helper()
	eventually(t, "refund "+refundID+" in the ledger", func() bool {
		var n int
		_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1`, "refund:"+refundID).Scan(&n)
		return n == 1
	})
	rows, err := e.Pool.Query(context.Background(), `SELECT p.account_code, p.amount::text FROM ledger_postings p
		JOIN ledger_entries e ON e.id = p.entry_id WHERE e.idempotency_key = $1 AND p.direction = 'debit'`, "refund:"+refundID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var account, amount string
		if err := rows.Scan(&account, &amount); err != nil {
			t.Fatal(err)
		}
		got[account] = amount
	}
	wantAccounts := map[string]string{}
	for agency, amount := range want {
		wantAccounts["agency:"+agency+":collected"] = amount
	}
	if fmt.Sprint(got) != fmt.Sprint(wantAccounts) {
		t.Fatalf("refund %s debits %v, want %v", refundID, got, wantAccounts)
	}
}
