package reconciliation_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// day0 is the business day the fixtures pay on.
var day0 = time.Date(2026, time.November, 23, 0, 0, 0, 0, statement.ICT)

const account = "0011004123456"

// fx is a reconciliation service on a fresh database whose jobs are queued
// but worked by the test (Load, Execute), with a payment flow and gateways
// that the test plays.
type fx struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	svc  *reconciliation.Service
	rec  *fakeRecorder
	gw   *fakeGateways
	seq  atomic.Int64
}

// defaultConfig is the service's default configuration
// (internal/app/config's), in development: fetching from gatewaysim.
func defaultConfig(t testing.TB) reconciliation.Config {
	t.Helper()
	cfg, err := config.Defaults("").ReconConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newFx(t *testing.T, change ...func(*reconciliation.Config)) *fx {
	t.Helper()
	pool := pgtest.New(t)
	cfg := defaultConfig(t)
	cfg.SettlementURL, cfg.StatementURL = "", ""
	cfg.SettlementDays = 1
	cfg.FetchAuthenticated = true // files loaded with loadFetched count as the authenticated fetch's
	for _, c := range change {
		c(&cfg)
	}
	f := &fx{t: t, ctx: audit.System(context.Background(), "test"), pool: pool, rec: &fakeRecorder{pool: pool}, gw: &fakeGateways{results: map[string]gateways.Result{}}}
	f.svc = reconciliation.New(pool, cfg, slog.New(slog.DiscardHandler), reconciliation.Deps{Payments: f.rec, Gateways: f.gw})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetJobs(rc)
	return f
}

// order inserts an order of amount VND for agency AG-A; paid says whether
// an attempt has paid it.
func (f *fx) order(amount int64, paid bool) (uuid.UUID, string) {
	f.t.Helper()
	id := uuid.Must(uuid.NewV7())
	ref, err := reference.New()
	if err != nil {
		f.t.Fatal(err)
	}
	status, amountPaid := "open", int64(0)
	var paidAt *time.Time
	if paid {
		now := day0.Add(9 * time.Hour)
		status, amountPaid, paidAt = "paid", amount, &now
	}
	f.exec(`INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, amount_paid, payer_name,
		description, expires_at, paid_at, idempotency_key, request_hash)
		VALUES ($1, $2, 'AG-A', $3, $4, 'VND', $5, $6, 'Test', 'test', $7, $8, $2, '\x00')`,
		id, ref, uuid.New(), status, amount, amountPaid, day0.AddDate(0, 0, 1), paidAt)
	f.exec(`INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
		VALUES ($1, 1, 'A-FEE', 'AG-A', 'fee', $2)`, id, amount)
	return id, ref
}

// attempt is a payment attempt of ours.
type attempt struct {
	ID      uuid.UUID
	Gateway string
	Ref     string // gateway_ref
	Txn     string
	Amount  int64
	PaidAt  time.Time
}

// paid inserts a paid order and its succeeded attempt at gateway.
func (f *fx) paid(gateway string, amount int64, paidAt time.Time) attempt {
	f.t.Helper()
	oid, _ := f.order(amount, true)
	n := f.seq.Add(1)
	a := attempt{ID: uuid.Must(uuid.NewV7()), Gateway: gateway, Ref: wireRef(gateway, n),
		Txn: fmt.Sprintf("%d", 14400000+n), Amount: amount, PaidAt: paidAt}
	f.exec(`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id, currency, amount, status,
		outcome, created_by, created_at, updated_at, expires_at, paid_at)
		VALUES ($1, $2, $3, 'card', $4, $5, 'VND', $6, 'succeeded', 'payment', 'test', $7, $7, $8, $7)`,
		a.ID, oid, gateway, a.Ref, a.Txn, amount, paidAt, paidAt.Add(time.Hour))
	return a
}

// pending inserts an open order and its pending attempt at gateway.
func (f *fx) pending(gateway string, amount int64, createdAt time.Time) attempt {
	f.t.Helper()
	oid, ref := f.order(amount, false)
	n := f.seq.Add(1)
	a := attempt{ID: uuid.Must(uuid.NewV7()), Gateway: gateway, Ref: wireRef(gateway, n), Amount: amount,
		Txn: fmt.Sprintf("%d", 14400000+n), PaidAt: createdAt}
	if gateway == matcher.VietQR {
		a.Ref = ref
	}
	f.exec(`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, currency, amount, status,
		created_by, created_at, updated_at, expires_at)
		VALUES ($1, $2, $3, 'card', $4, 'VND', $5, 'pending', 'test', $6, $6, $7)`,
		a.ID, oid, gateway, a.Ref, amount, createdAt, createdAt.Add(time.Hour))
	return a
}

// wireRef is the n-th attempt's reference on gateway's wire (ZaloPay's
// app_trans_id starts with the day).
func wireRef(gateway string, n int64) string {
	ref := fmt.Sprintf("ATT%013d", n)
	if gateway == statement.GatewayZaloPay {
		return day0.Format("060102") + "_" + ref
	}
	return ref
}

func (f *fx) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		f.t.Fatalf("%v\n%s", err, sql)
	}
}

func (f *fx) count(sql string, args ...any) int64 {
	f.t.Helper()
	var n int64
	if err := f.pool.QueryRow(f.ctx, sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%v\n%s", err, sql)
	}
	return n
}

// demoFees are gatewaysim's demo fees, which CIVICPAY_RECON_FEES defaults to.
var demoFees = func() map[string]matcher.Fee {
	cfg, err := config.Defaults("").ReconConfig()
	if err != nil {
		panic(err)
	}
	return cfg.Fees
}()

// fee is the demo fee of gateway on gross (what gatewaysim charges).
func fee(gateway string, gross int64) int64 {
	return demoFees[gateway].Of(decimal.NewFromInt(gross), money.MustLookup(money.VND)).IntPart()
}

// line is the settlement line the gateway writes for a.
func line(a attempt) statement.SettlementLine {
	fe := fee(a.Gateway, a.Amount)
	return statement.SettlementLine{GatewayTxnID: a.Txn, Reference: a.Ref, Type: statement.TypePayment,
		Gross: decimal.NewFromInt(a.Amount), Fee: decimal.NewFromInt(fe), Net: decimal.NewFromInt(a.Amount - fe),
		Currency: "VND", At: a.PaidAt}
}

// settlementFile writes gateway's file of day0 (revision rev).
func settlementFile(t *testing.T, gateway string, rev int, lines ...statement.SettlementLine) ([]byte, statement.SettlementFile) {
	t.Helper()
	var buf bytes.Buffer
	w, err := statement.NewSettlementWriter(gateway, &buf, statement.SettlementFile{BusinessDate: day0, Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.File()
}

var bankRefs atomic.Int64

// credit is a booked credit on the treasury account.
func credit(amount int64, booked time.Time, texts ...string) statement.Entry {
	ref := fmt.Sprintf("BNK%09d", bankRefs.Add(1))
	return statement.Entry{Amount: decimal.NewFromInt(amount), Currency: "VND", Credit: true, Status: statement.StatusBooked,
		BookingDate: booked, ValueDate: booked, AcctSvcrRef: ref,
		TxDetails: []statement.TxDetail{{EndToEndID: ref, RemittanceInfo: texts}}}
}

// camt053 is the treasury account's statement of day with entries; opening
// is 1 000 000 000 VND.
func camt053(t *testing.T, day time.Time, entries ...statement.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	st := statement.Statement{MessageID: fmt.Sprintf("MSG-%s-%d", day.Format("20060102"), bankRefs.Add(1)),
		StatementID: "STMT-" + day.Format("20060102"), Created: day.Add(23 * time.Hour), Account: account, Currency: "VND",
		Opening: &statement.Balance{Type: statement.BalanceOpening, Amount: decimal.NewFromInt(1_000_000_000), Currency: "VND", Date: day}}
	if err := statement.WriteCAMT053(&buf, st, entries); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// load imports and loads data as an upload would, then runs every queued
// run, oldest first, and returns the file.
func (f *fx) load(data []byte) reconciliation.File {
	f.t.Helper()
	return f.loadAs(data, rawfile.SourceUpload)
}

// loadFetched is load of a file that came by the (authenticated) fetch.
func (f *fx) loadFetched(data []byte) reconciliation.File {
	f.t.Helper()
	return f.loadAs(data, rawfile.SourceFetch)
}

func (f *fx) loadAs(data []byte, source string) reconciliation.File {
	f.t.Helper()
	file, err := f.svc.Import(f.ctx, bytes.NewReader(data), rawfile.Meta{Name: "test", Source: source, ReceivedBy: "test"})
	if err != nil {
		f.t.Fatalf("import: %v", err)
	}
	if file, err = f.svc.Load(f.ctx, file.ID); err != nil {
		f.t.Fatalf("load: %v", err)
	}
	f.runQueued()
	return file
}

// runQueued executes every queued run, oldest first.
func (f *fx) runQueued() []reconciliation.Run {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `SELECT id FROM recon_runs WHERE status = 'queued' ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		f.t.Fatal(err)
	}
	var out []reconciliation.Run
	for _, id := range ids {
		r, err := f.svc.Execute(f.ctx, id)
		if err != nil {
			f.t.Fatalf("execute run %d: %v", id, err)
		}
		out = append(out, r)
	}
	return out
}

// lastRun is the newest run of source for day.
func (f *fx) lastRun(source string, day time.Time) reconciliation.Run {
	f.t.Helper()
	runs, err := f.svc.Runs(f.ctx, reconciliation.RunFilter{Source: source, Date: day, Limit: 1})
	if err != nil || len(runs) == 0 {
		f.t.Fatalf("no run of %s %s: %v", source, day.Format(time.DateOnly), err)
	}
	r, err := f.svc.Run(f.ctx, runs[0].ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// classes is a run's count per class.
func classes(r reconciliation.Run) map[matcher.Class]int64 {
	out := map[matcher.Class]int64{}
	for _, t := range r.Classes {
		out[t.Class] += t.Count
	}
	return out
}

// exceptions lists a run's exceptions.
func (f *fx) exceptions(runID int64) []reconciliation.RunException {
	f.t.Helper()
	list, err := f.svc.RunExceptions(f.ctx, runID, reconciliation.ExceptionFilter{Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	return list
}

// byClass finds a run's exception of class whose key contains part.
func byClass(list []reconciliation.RunException, class matcher.Class, part string) (reconciliation.RunException, bool) {
	for _, x := range list {
		if x.Class == class && strings.Contains(x.Exception.Key, part) {
			return x, true
		}
	}
	return reconciliation.RunException{}, false
}

// fakeRecorder plays the payment flow's paid path: a success marks the
// gateway's attempt (or, for a transfer to an order without one, a new VietQR
// attempt) paid, once.
type fakeRecorder struct {
	pool  *pgxpool.Pool
	mu    sync.Mutex
	calls []gateways.Result
}

func (r *fakeRecorder) RecordResult(ctx context.Context, gateway string, res gateways.Result, actor string) (gateways.Ack, error) {
	return r.record(ctx, gateway, res, actor, false)
}

func (r *fakeRecorder) RecordTransfer(ctx context.Context, res gateways.Result, actor string) (gateways.Ack, error) {
	return r.record(ctx, "vietqr", res, actor, true)
}

func (r *fakeRecorder) record(ctx context.Context, gateway string, res gateways.Result, actor string, byReference bool) (gateways.Ack, error) {
	if res.Currency != "VND" {
		return gateways.AckAmountMismatch, nil
	}
	r.mu.Lock()
	r.calls = append(r.calls, res)
	r.mu.Unlock()
	var paid int64
	err := r.pool.QueryRow(ctx, `
		WITH upd AS (
			UPDATE payment_attempts SET status = 'succeeded', outcome = 'payment', gateway_txn_id = $3, paid_at = $4, updated_at = now()
			WHERE gateway = $1 AND gateway_ref = $2 AND status <> 'succeeded' AND amount = $5
			RETURNING order_id
		), ins AS (
			INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id, currency, amount, status,
				outcome, created_by, created_at, updated_at, expires_at, paid_at)
			SELECT gen_random_uuid(), o.id, $1, 'bank_transfer', $2, $3, o.currency, o.total, 'succeeded', 'payment', $6,
				now(), now(), now(), $4
			FROM orders o WHERE o.reference = $2 AND o.status = 'open' AND o.total = $5 AND $7
			  AND NOT EXISTS (SELECT 1 FROM upd)
			  AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.gateway = $1 AND a.gateway_ref = $2)
			RETURNING order_id
		), paid AS (
			UPDATE orders SET status = 'paid', amount_paid = total, paid_at = $4
			WHERE id IN (SELECT order_id FROM upd UNION ALL SELECT order_id FROM ins) AND status = 'open'
			RETURNING id
		)
		SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)`,
		gateway, res.GatewayRef, res.GatewayTxnID, res.PaidAt, res.Amount, actor, byReference).Scan(&paid)
	if err != nil {
		return gateways.AckError, err
	}
	if paid == 0 {
		return gateways.AckAlreadyConfirmed, nil
	}
	return gateways.AckOK, nil
}

func (r *fakeRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// fakeGateways answers status queries from results, by gateway reference.
type fakeGateways struct {
	mu      sync.Mutex
	results map[string]gateways.Result
	queries int
}

func (g *fakeGateways) set(ref string, res gateways.Result) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.results[ref] = res
}

func (g *fakeGateways) Query(_ context.Context, _ string, req gateways.QueryRequest) (gateways.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.queries++
	res, ok := g.results[req.GatewayRef]
	if !ok {
		return gateways.Result{GatewayRef: req.GatewayRef, Currency: "VND", Status: gateways.StatusPending}, nil
	}
	return res, nil
}

// readAll drains r.
func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
