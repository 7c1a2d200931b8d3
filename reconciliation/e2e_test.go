package reconciliation_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// simStart is when the test's business day begins for the service and the
// simulator alike: 10:00 GMT+7, far from either midnight, on a fixed day.
var simStart = time.Date(2026, time.November, 23, 10, 0, 0, 0, bizday.Zone)

// simEnv is a whole civicpay paying through an in-process gatewaysim, both
// on one clock the test moves, reconciling what the simulator publishes.
type simEnv struct {
	*apptest.Env
	sim    *gatewaysim.Sim
	simURL string
	clock  *clock.Fake
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	// The clock runs (each request sees its own time) from 10:00 of the day:
	// every payment falls in it however long the test takes, and the test
	// moves to the next day by setting the clock, not by waiting.
	clk := clock.NewRunning(simStart)
	e := apptest.NewWithSimRecon(t, clk, []string{"vnpay", "momo", "zalopay"})
	return &simEnv{Env: e, sim: e.Sim, simURL: e.SimURL, clock: clk}
}

type orderJSON struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Status    string `json:"status"`
}

type attemptJSON struct {
	ID          string `json:"id"`
	Gateway     string `json:"gateway"`
	GatewayRef  string `json:"gateway_ref"`
	RedirectURL string `json:"redirect_url"`
}

var orderSeq atomic.Int64

// pay creates an order of amount VND (a fine of agency A) and pays it at
// gateway as a citizen would (for VietQR: starts the attempt only).
func (e *simEnv) pay(t *testing.T, gateway, method string, amount int64) (orderJSON, attemptJSON) {
	t.Helper()
	body := fmt.Sprintf(`{"lines":[{"service":"A-FINE","agency":"AG-A","amount":%d}],"payer":{"name":"Lê Văn C","email":"c@example.vn"},"description":"Phạt"}`, amount)
	r := e.Do(t, "POST", "/v1/orders", e.Portal, body, "Idempotency-Key", fmt.Sprintf("recon-%d", orderSeq.Add(1)))
	if r.Status != http.StatusCreated {
		t.Fatalf("create order = %d %s", r.Status, r.Body)
	}
	var o orderJSON
	r.JSON(t, &o)
	r = e.Do(t, "POST", "/v1/orders/"+o.ID+"/attempts", e.Portal, fmt.Sprintf(`{"method":%q,"gateway":%q}`, method, gateway))
	if r.Status != http.StatusCreated {
		t.Fatalf("start %s attempt = %d %s", gateway, r.Status, r.Body)
	}
	var a attemptJSON
	r.JSON(t, &a)
	if gateway != matcher.VietQR {
		if _, err := e.sim.Pay(gatewaysim.PayRequest{Gateway: gateway, PayURL: a.RedirectURL, Outcome: gatewaysim.PaySuccess}); err != nil {
			t.Fatalf("pay %s: %v", gateway, err)
		}
	}
	return o, a
}

func (e *simEnv) orderStatus(t *testing.T, id string) string {
	t.Helper()
	var o orderJSON
	e.Do(t, "GET", "/v1/orders/"+id, e.Treasury, nil).JSON(t, &o)
	return o.Status
}

// eventually polls cond until it holds, failing after a generous deadline
// (what is waited for is River and callbacks, not speed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type runPage struct {
	Items []reconciliation.Run `json:"items"`
}

// reconcile asks for the day's reconciliation (one source, or all) and
// waits until a run of each source newer than every earlier one is done.
func (e *simEnv) reconcile(t *testing.T, day time.Time, sources ...string) map[string]reconciliation.Run {
	t.Helper()
	var last int64
	var before runPage
	e.Do(t, "GET", "/v1/reconciliation/runs?limit=1", e.Treasury, nil).JSON(t, &before)
	if len(before.Items) > 0 {
		last = before.Items[0].ID
	}
	source := ""
	if len(sources) == 1 {
		source = sources[0]
	}
	r := e.Do(t, "POST", "/v1/reconciliation/runs", e.Treasury, fmt.Sprintf(`{"date":%q,"source":%q}`, day.Format(time.DateOnly), source))
	if r.Status != http.StatusAccepted {
		t.Fatalf("request reconciliation = %d %s", r.Status, r.Body)
	}
	out := map[string]reconciliation.Run{}
	eventually(t, "runs of "+day.Format(time.DateOnly)+" "+strings.Join(sources, ","), func() bool {
		var page runPage
		e.Do(t, "GET", "/v1/reconciliation/runs?date="+day.Format(time.DateOnly), e.Treasury, nil).JSON(t, &page)
		for _, run := range page.Items {
			if _, seen := out[run.Source]; !seen && run.ID > last && (run.Status == reconciliation.RunCompleted || run.Status == reconciliation.RunFailed) {
				out[run.Source] = run
			}
		}
		for _, s := range sources {
			if _, ok := out[s]; !ok {
				return false
			}
		}
		return true
	})
	for s, run := range out {
		var full reconciliation.Run
		e.Do(t, "GET", fmt.Sprintf("/v1/reconciliation/runs/%d", run.ID), e.Treasury, nil).JSON(t, &full)
		out[s] = full
	}
	return out
}

// dayStatus is GET /v1/days/{day}: whether the service sees day as over.
func (e *simEnv) dayStatus(t *testing.T, day time.Time) reconciliation.DayStatus {
	t.Helper()
	var st reconciliation.DayStatus
	r := e.Do(t, "GET", "/v1/days/"+day.Format(time.DateOnly), e.Treasury, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("day %s = %d %s", day.Format(time.DateOnly), r.Status, r.Body)
	}
	r.JSON(t, &st)
	return st
}

type exceptionPage struct {
	Items []reconciliation.RunException `json:"items"`
}

func (e *simEnv) exceptions(t *testing.T, runID int64) []reconciliation.RunException {
	t.Helper()
	var page exceptionPage
	e.Do(t, "GET", fmt.Sprintf("/v1/reconciliation/runs/%d/exceptions?limit=500", runID), e.Treasury, nil).JSON(t, &page)
	return page.Items
}

func TestADayFromGatewaySimWithDiscrepancies(t *testing.T) {
	t.Parallel()
	e := newSimEnv(t)
	day := bizday.Start(e.clock.Now())
	if !day.Equal(bizday.Start(simStart)) {
		t.Fatalf("the test's day is %s, want %s", day, simStart)
	}

	// The day's payments.
	plainV, _ := e.pay(t, "vnpay", "card", 210_000)
	feeV, feeA := e.pay(t, "vnpay", "card", 220_000)
	if err := e.sim.SetFaults("vnpay", gatewaysim.Faults{CallbackDropRate: 1}); err != nil {
		t.Fatal(err)
	}
	droppedV, droppedA := e.pay(t, "vnpay", "card", 230_000) // paid at VNPAY; the IPN is lost, nobody asked
	if err := e.sim.SetFaults("vnpay", gatewaysim.Faults{}); err != nil {
		t.Fatal(err)
	}
	plainM, _ := e.pay(t, "momo", "ewallet", 310_000)
	dupM, dupA := e.pay(t, "momo", "ewallet", 320_000)
	lostZ, lostA := e.pay(t, "zalopay", "ewallet", 410_000) // the gateway's file never lists it
	plainZ, _ := e.pay(t, "zalopay", "ewallet", 420_000)
	qr, _ := e.pay(t, "vietqr", "bank_transfer", 510_000)
	if _, err := e.sim.Transfer(gatewaysim.TransferRequest{Reference: qr.Reference, Amount: 510_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.SetBankDiscrepancies(gatewaysim.BankDiscrepancies{UnknownCredit: 77_777, OmitSettlement: []string{"zalopay"}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []orderJSON{plainV, feeV, plainM, dupM, lostZ, plainZ} {
		eventually(t, "order "+o.ID+" paid", func() bool { return e.orderStatus(t, o.ID) == "paid" })
	}
	if s := e.orderStatus(t, droppedV.ID); s != "open" {
		t.Fatalf("order with the dropped callback is %s", s)
	}
	for gw, d := range map[string]gatewaysim.FileDiscrepancies{
		"vnpay": {AlterFee: feeA.GatewayRef}, "momo": {DuplicateLine: dupA.GatewayRef}, "zalopay": {DropLine: lostA.GatewayRef},
	} {
		if err := e.sim.SetFileDiscrepancies(gw, d); err != nil {
			t.Fatal(err)
		}
	}

	// The day: every gateway's file and the bank's statement, fetched.
	runs := e.reconcile(t, day, "vnpay", "momo", "zalopay", "bank")
	want := map[string]map[matcher.Class]int64{
		"vnpay":   {matcher.Matched: 1, matcher.AmountMismatch: 1, matcher.MissingHere: 1},
		"momo":    {matcher.Matched: 2, matcher.Duplicate: 1},
		"zalopay": {matcher.Matched: 1, matcher.MissingThere: 1},
		"bank":    {matcher.MissingHere: 1, matcher.Unknown: 1},
	}
	for source, w := range want {
		if got := classes(runs[source]); !equalCounts(got, w) {
			t.Errorf("%s run %+v: classes %v, want %v", source, runs[source], got, w)
		}
	}
	if runs["vnpay"].AutoResolved != 1 || runs["bank"].AutoResolved != 1 {
		t.Fatalf("auto-resolved: vnpay %d, bank %d", runs["vnpay"].AutoResolved, runs["bank"].AutoResolved)
	}
	for _, o := range []orderJSON{droppedV, qr} {
		if s := e.orderStatus(t, o.ID); s != "paid" {
			t.Fatalf("order %s confirmed by reconciliation is %s", o.ID, s)
		}
	}
	checks := []struct {
		source string
		class  matcher.Class
		key    string
	}{
		{"vnpay", matcher.AmountMismatch, "vnpay:payment:"},
		{"momo", matcher.Duplicate, ":2"},
		{"zalopay", matcher.MissingThere, "zalopay:attempt:"},
		{"bank", matcher.Unknown, "bank:"},
	}
	for _, c := range checks {
		if _, ok := byClass(e.exceptions(t, runs[c.source].ID), c.class, c.key); !ok {
			t.Errorf("%s: no %s exception %s", c.source, c.class, c.key)
		}
	}
	if x, ok := byClass(e.exceptions(t, runs["zalopay"].ID), matcher.MissingThere, "zalopay:attempt:"); !ok ||
		x.Exception.Reference != lostA.GatewayRef {
		t.Errorf("missing there is %+v, want %s", x.Exception, lostA.GatewayRef)
	}

	// The day is not over for the service while its clock is in it.
	if st := e.dayStatus(t, day); st.Over {
		t.Fatalf("day %s is over at %s", st.Date, e.clock.Now())
	}

	// The next day the gateways pay the day's net (ZaloPay's credit never
	// reaches the bank). The service and the simulator move to 10:00 of it.
	e.clock.Set(day.AddDate(0, 0, 1).Add(10 * time.Hour))
	if st := e.dayStatus(t, day); !st.Over {
		t.Fatalf("day %s is not over at %s", st.Date, e.clock.Now())
	}
	next := e.reconcile(t, day.AddDate(0, 0, 1), "bank")["bank"]
	if got := classes(next); !equalCounts(got, map[matcher.Class]int64{matcher.Matched: 2, matcher.MissingThere: 1}) {
		t.Fatalf("settlement day classes %v", got)
	}
	if _, ok := byClass(e.exceptions(t, next.ID), matcher.MissingThere, "settlement:zalopay:"); !ok {
		t.Fatalf("unpaid ZaloPay settlement: %+v", e.exceptions(t, next.ID))
	}
	for _, gw := range []string{"vnpay", "momo"} {
		var run reconciliation.Run
		e.Do(t, "GET", fmt.Sprintf("/v1/reconciliation/runs/%d", runs[gw].ID), e.Treasury, nil).JSON(t, &run)
		if run.Settlement == nil || run.Settlement.Status != reconciliation.SettlementMatched || run.Settlement.LedgerEntryID == nil {
			t.Fatalf("%s settlement %+v", gw, run.Settlement)
		}
	}
	postedOnce := func() {
		t.Helper()
		ctx := context.Background()
		var settlements, payment int64
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE idempotency_key LIKE 'recon:settlement:%'),
			count(*) FILTER (WHERE reference LIKE '%attempt:' || $1) FROM ledger_entries`, droppedA.ID).Scan(&settlements, &payment); err != nil {
			t.Fatal(err)
		}
		if settlements != 2 || payment != 1 {
			t.Fatalf("settlement entries %d (want 2), payment entries of the confirmed attempt %d (want 1)", settlements, payment)
		}
		rep, err := ledger.Verify(ctx, e.Pool)
		if err != nil || !rep.OK() {
			t.Fatalf("ledger verify: %v %+v", err, rep.Findings)
		}
	}
	postedOnce()

	// Everything again: the same files are the same files, and nothing is
	// posted or recorded twice. Only the bank's statement of the day is new:
	// fetched during the day the first time, it is final now; its entries
	// are the same entries.
	var files int64
	countFiles := func() int64 {
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM recon_files`).Scan(&files); err != nil {
			t.Fatal(err)
		}
		return files
	}
	before := countFiles()
	again := e.reconcile(t, day, "vnpay", "momo", "zalopay", "bank")
	for source, w := range map[string]map[matcher.Class]int64{
		"vnpay": {matcher.Matched: 2, matcher.AmountMismatch: 1},
		"bank":  {matcher.Matched: 1, matcher.Unknown: 1},
	} {
		if got := classes(again[source]); !equalCounts(got, w) {
			t.Errorf("%s again: %v, want %v", source, got, w)
		}
	}
	if n := countFiles(); n != before+1 {
		t.Fatalf("fetching the same day again stored %d new files, want the final statement only", n-before)
	}
	postedOnce()
	var suspense int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries WHERE kind = 'suspense'`).Scan(&suspense); err != nil || suspense != 1 {
		t.Fatalf("suspense entries %d, %v", suspense, err)
	}

	raw := e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d/raw", runs["vnpay"].Files[0]), e.Treasury, nil)
	up := e.Do(t, "POST", "/v1/statements", e.Treasury, raw.Body, "Content-Type", "text/csv")
	var dup reconciliation.File
	up.JSON(t, &dup)
	if up.Status != http.StatusOK || !dup.Duplicate || dup.ID != runs["vnpay"].Files[0] {
		t.Fatalf("upload of a stored file = %d %+v", up.Status, dup)
	}

	// The export has every line of the file with its class.
	exp := e.Do(t, "GET", fmt.Sprintf("/v1/reconciliation/runs/%d/export", runs["momo"].ID), e.Treasury, nil)
	recs, err := csv.NewReader(bytes.NewReader(exp.Body)).ReadAll()
	if err != nil || exp.Status != http.StatusOK || len(recs) != 4 { // header and three lines
		t.Fatalf("export = %d %v %v", exp.Status, recs, err)
	}

	// A person resolves the unknown credit; who and when are kept.
	unknown, _ := byClass(e.exceptions(t, runs["bank"].ID), matcher.Unknown, "bank:")
	path := fmt.Sprintf("/v1/reconciliation/exceptions/%d/resolve", unknown.Exception.ID)
	res := e.Do(t, "POST", path, e.Treasury, `{"resolution":"ledger_adjusted","note":"returned to the sender"}`)
	var resolved reconciliation.Exception
	res.JSON(t, &resolved)
	if res.Status != http.StatusOK || resolved.Status != reconciliation.ExceptionResolved ||
		!strings.HasPrefix(resolved.ResolvedBy, "treasury:") || resolved.ResolvedAt == nil || resolved.LedgerEntryID == nil {
		t.Fatalf("resolve = %d %+v", res.Status, resolved)
	}
	if r := e.Do(t, "POST", path, e.Treasury, `{"resolution":"written_off","note":"again"}`); r.Status != http.StatusConflict {
		t.Fatalf("second resolve = %d %s", r.Status, r.Body)
	}
	var webhooks int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_events WHERE type = 'reconciliation.completed'`).
		Scan(&webhooks); err != nil || webhooks == 0 {
		t.Fatalf("reconciliation.completed events: %d, %v", webhooks, err)
	}
}
