package reconciliation_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// TestContractedFeeIsRoundedInTheFilesCurrency: in a USD file, 1.5% of
// 10.01 is 0.15 (rounded to the cent, as the matcher's SQL does), not 0 (to
// the whole dollar); a fee a cent off is still a mismatch.
func TestContractedFeeIsRoundedInTheFilesCurrency(t *testing.T) {
	t.Parallel()
	f := newFx(t, func(c *reconciliation.Config) {
		fees, err := reconciliation.ParseFees("vnpay=1.5%")
		if err != nil {
			t.Fatal(err)
		}
		c.Fees = fees
	})
	const gw = statement.GatewayVNPAY
	d := decimal.RequireFromString
	usdPaid := func(amount string, n int) attempt {
		oid := uuid.Must(uuid.NewV7())
		ref, err := reference.New()
		if err != nil {
			t.Fatal(err)
		}
		paidAt := at(9, n)
		f.exec(`INSERT INTO orders (id, reference, agency_code, created_by, status, currency, total, amount_paid, payer_name,
			description, expires_at, paid_at, idempotency_key, request_hash)
			VALUES ($1, $2, 'AG-A', $3, 'paid', 'USD', $4, $4, 'Test', 'test', $5, $6, $2, '\x00')`,
			oid, ref, uuid.New(), d(amount), day0.AddDate(0, 0, 1), paidAt)
		f.exec(`INSERT INTO order_lines (order_id, line_no, service_code, agency_code, kind, amount)
			VALUES ($1, 1, 'A-FEE', 'AG-A', 'fee', $2)`, oid, d(amount))
		a := attempt{ID: uuid.Must(uuid.NewV7()), Gateway: gw, Ref: fmt.Sprintf("USD%010d", n), Txn: fmt.Sprintf("%d", 15500000+n),
			PaidAt: paidAt}
		f.exec(`INSERT INTO payment_attempts (id, order_id, gateway, method, gateway_ref, gateway_txn_id, currency, amount, status,
			outcome, created_by, created_at, updated_at, expires_at, paid_at)
			VALUES ($1, $2, $3, 'card', $4, $5, 'USD', $6, 'succeeded', 'payment', 'test', $7, $7, $8, $7)`,
			a.ID, oid, gw, a.Ref, a.Txn, d(amount), paidAt, paidAt.Add(time.Hour))
		return a
	}
	usdLine := func(a attempt, gross, fee string) statement.SettlementLine {
		return statement.SettlementLine{GatewayTxnID: a.Txn, Reference: a.Ref, Type: statement.TypePayment,
			Gross: d(gross), Fee: d(fee), Net: d(gross).Sub(d(fee)), Currency: "USD", At: a.PaidAt}
	}
	right, centOff, halfCent := usdPaid("10.01", 1), usdPaid("20.03", 2), usdPaid("23.00", 3)
	var buf bytes.Buffer
	w, err := statement.NewSettlementWriter(gw, &buf, statement.SettlementFile{BusinessDate: day0, Revision: 1, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []statement.SettlementLine{
		usdLine(right, "10.01", "0.15"),    // 0.15015
		usdLine(centOff, "20.03", "0.31"),  // 0.30045: contracted 0.30
		usdLine(halfCent, "23.00", "0.35"), // 0.345: half a cent rounds up (half-even would give 0.34)
	} {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if file := f.load(buf.Bytes()); file.Status != reconciliation.FileLoaded {
		t.Fatalf("file = %+v", file)
	}
	run := f.lastRun(gw, day0)
	if got, want := classes(run), map[matcher.Class]int64{matcher.Matched: 2, matcher.AmountMismatch: 1}; !equalCounts(got, want) {
		t.Fatalf("classes = %v, want %v; exceptions %+v", got, want, f.exceptions(run.ID))
	}
	x, ok := byClass(f.exceptions(run.ID), matcher.AmountMismatch, centOff.Txn)
	if !ok || !strings.Contains(x.Detail, "fee 0.31, contracted 0.30") {
		t.Fatalf("mismatch of the cent-off fee: %+v", x)
	}
}
