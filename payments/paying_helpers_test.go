package payments_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

type attemptJSON struct {
	ID          string `json:"id"`
	OrderID     string `json:"order_id"`
	Gateway     string `json:"gateway"`
	Method      string `json:"method"`
	GatewayRef  string `json:"gateway_ref"`
	GatewayTxn  string `json:"gateway_txn_id"`
	Amount      string `json:"amount"`
	Status      string `json:"status"`
	Outcome     string `json:"outcome"`
	ResultCode  string `json:"result_code"`
	RedirectURL string `json:"redirect_url"`
	QRPayload   string `json:"qr_payload"`
}

type refundJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Amount    string `json:"amount"`
	Status    string `json:"status"`
	Tries     int    `json:"tries"`
	LastError string `json:"last_error"`
}

type paidOrderJSON struct {
	orderJSON
	AmountPaid     string        `json:"amount_paid"`
	AmountRefunded string        `json:"amount_refunded"`
	Refundable     string        `json:"refundable"`
	Attempts       []attemptJSON `json:"attempts"`
	Refunds        []refundJSON  `json:"refunds"`
}

var orderSeq atomic.Int64

// newOrder creates an order through the API: one line of A-FEE (200 000 VND)
// for agency A, and optionally a second line for agency B.
func newOrder(t *testing.T, e *apptest.Env, withB bool) orderJSON {
	t.Helper()
	lines := `{"service":"A-FEE","agency":"AG-A","amount":200000}`
	if withB {
		lines += `,{"service":"B-CHARGE","agency":"AG-B","amount":50000}`
	}
	body := `{"lines":[` + lines + `],"payer":{"name":"Trần Thị Bình","email":"binh@example.vn"},"description":"Lệ phí"}`
	r := create(t, e, e.Portal, fmt.Sprintf("pay-%d", orderSeq.Add(1)), body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create order = %d %s", r.Status, r.Body)
	}
	var o orderJSON
	r.JSON(t, &o)
	return o
}

// startAttempt starts an attempt with method at gateway (preferred; "" for the router's choice).
func startAttempt(t *testing.T, e *apptest.Env, orderID, method, gateway string) attemptJSON {
	t.Helper()
	r := e.Do(t, "POST", "/v1/orders/"+orderID+"/attempts", e.Portal,
		fmt.Sprintf(`{"method":%q,"gateway":%q}`, method, gateway))
	if r.Status != http.StatusCreated {
		t.Fatalf("start %s attempt = %d %s", method, r.Status, r.Body)
	}
	var a attemptJSON
	r.JSON(t, &a)
	return a
}

// pay completes an attempt at the simulated gateway, as the citizen would.
func pay(t *testing.T, e *apptest.Env, a attemptJSON, outcome string) gatewaysim.PayResult {
	t.Helper()
	res, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: a.Gateway, PayURL: a.RedirectURL, Outcome: outcome})
	if err != nil {
		t.Fatalf("sim pay %s %s: %v", a.Gateway, a.GatewayRef, err)
	}
	return res
}

func getOrder(t *testing.T, e *apptest.Env, id string) paidOrderJSON {
	t.Helper()
	var o paidOrderJSON
	r := e.Do(t, "GET", "/v1/orders/"+id, e.Treasury, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get order = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &o)
	return o
}

// eventually polls cond until it holds, failing after a generous deadline
// (what is waited for is River and callbacks, not speed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, e *apptest.Env, orderID, status string) paidOrderJSON {
	t.Helper()
	var o paidOrderJSON
	eventually(t, "order "+orderID+" "+status, func() bool {
		o = getOrder(t, e, orderID)
		return o.Status == status
	})
	return o
}

// waitCallbacks waits until the simulator has no callback in flight.
func waitCallbacks(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Sim.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
}

// ledgerEntries counts the order's ledger entries by kind.
func ledgerEntries(t *testing.T, e *apptest.Env, orderID string) map[string]int {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(),
		`SELECT kind, count(*) FROM ledger_entries WHERE reference LIKE 'order:' || $1 || '/%' GROUP BY kind`, orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			t.Fatal(err)
		}
		out[kind] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventTypes lists the order's event types in order.
func eventTypes(t *testing.T, e *apptest.Env, orderID string) []string {
	t.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT type FROM order_events WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func count(items []string, want string) int {
	n := 0
	for _, s := range items {
		if s == want {
			n++
		}
	}
	return n
}

func setFaults(t *testing.T, e *apptest.Env, gateway string, f gatewaysim.Faults) {
	t.Helper()
	if err := e.Sim.SetFaults(gateway, f); err != nil {
		t.Fatal(err)
	}
}

// quickPolls makes the status job ask the gateway soon and often.
func quickPolls(c *config.Config) {
	c.Paying.StatusPollDelay = 100 * time.Millisecond
	c.Paying.StatusPollMax = 500 * time.Millisecond
}
