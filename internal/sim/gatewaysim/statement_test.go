package gatewaysim

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation/statement"
	"github.com/shopspring/decimal"
)

// parseFile reads a settlement file with reconciliation's parser.
func parseFile(t *testing.T, gateway string, data []byte) (statement.SettlementFile, []statement.SettlementLine) {
	t.Helper()
	var lines []statement.SettlementLine
	f, err := statement.ParseSettlement(gateway, bytes.NewReader(data), func(l statement.SettlementLine) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return f, lines
}

// paid is a payment made for the statement tests.
type paid struct {
	attempt
	txnID string
}

// payMany pays amounts through gateway and waits for the callbacks.
func (e *env) payMany(gateway string, amounts ...int64) []paid {
	var out []paid
	for _, amount := range amounts {
		a := e.create(gateway, amount)
		out = append(out, paid{a, e.pay(a, PaySuccess).Transaction.GatewayTxnID})
	}
	return out
}

// refundRefOnWire is the reference a settlement file gives a refund.
func refundRefOnWire(gateway string, p paid, refundRef string, at time.Time) string {
	switch gateway {
	case VNPAY:
		return p.res.GatewayRef
	case ZaloPay:
		return zalopay.RefundID(at, DemoZaloPayAppID, refundRef)
	}
	return refundRef
}

// TestSettlementFile: a day's file lists every successful payment and
// refund of the day with the gateway's fee, parses back, and adds up; once
// issued it does not change until a corrected revision is issued.
func TestSettlementFile(t *testing.T) {
	t.Parallel()
	for _, g := range gatewayNames {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ctx := context.Background()
			ps := e.payMany(g, 100_000, 250_000)
			e.pay(e.create(g, 90_000), PayDecline) // not in the file
			at := e.clock.Now()
			rr := refundReq(ps[0].attempt, ps[0].txnID, "RFD7", 40_000, at)
			refund := must(e.gw[g].Refund(ctx, rr))(t)

			data := must(e.admin.Settlement(ctx, g, "2026-11-23", 0))(t)
			f, lines := parseFile(t, g, data)
			fee := e.sim.cfg.fee(g)
			fees := fee.Of(100_000) + fee.Of(250_000)
			if f.FileID != "STL-"+strings.ToUpper(g)+"-20261123-R1" || f.Count != 3 ||
				!f.Gross.Equal(decimal.NewFromInt(310_000)) || !f.Fees.Equal(decimal.NewFromInt(fees)) ||
				!f.Net.Equal(decimal.NewFromInt(310_000-fees)) {
				t.Errorf("file = %+v, want 3 lines, gross 310000, fees %d", f, fees)
			}
			want := []struct{ txnID, ref, typ string }{
				{ps[0].txnID, ps[0].res.GatewayRef, statement.TypePayment},
				{ps[1].txnID, ps[1].res.GatewayRef, statement.TypePayment},
				{refund.GatewayRefundID, refundRefOnWire(g, ps[0], "RFD7", at), statement.TypeRefund},
			}
			for i, w := range want {
				if i >= len(lines) {
					break
				}
				if l := lines[i]; l.GatewayTxnID != w.txnID || l.Reference != w.ref || l.Type != w.typ {
					t.Errorf("line %d = %+v, want %+v", i+1, l, w)
				}
			}

			// Issued files do not change; a revision picks up what came later.
			e.payMany(g, 60_000)
			if again := must(e.admin.Settlement(ctx, g, "2026-11-23", 0))(t); !bytes.Equal(again, data) {
				t.Error("an issued file changed")
			}
			info := must(e.admin.ReviseSettlement(ctx, g, "2026-11-23"))(t)
			if info.Revision != 2 || info.Count != 4 || info.FileID != "STL-"+strings.ToUpper(g)+"-20261123-R2" {
				t.Errorf("revision = %+v", info)
			}
			latest := must(e.admin.Settlement(ctx, g, "2026-11-23", 0))(t)
			if f2, _ := parseFile(t, g, latest); f2.Revision != 2 || f2.Count != 4 {
				t.Errorf("latest = %+v", f2)
			}
			if first := must(e.admin.Settlement(ctx, g, "2026-11-23", 1))(t); !bytes.Equal(first, data) {
				t.Error("revision 1 is not the first file")
			}
			if _, err := e.admin.Settlement(ctx, g, "2026-11-23", 3); !errors.Is(err, ErrNotFound) {
				t.Errorf("revision 3: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestSettlementDiscrepancies: armed discrepancies go into the next file
// only, and the file still parses (it is consistent, just wrong).
func TestSettlementDiscrepancies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ps := e.payMany(MoMo, 10_000, 20_000, 30_000)
	armed := FileDiscrepancies{DropLine: "*", AlterFee: ps[1].res.GatewayRef, FeeDelta: 500, DuplicateLine: ps[2].res.GatewayRef}
	if err := e.admin.SetFileDiscrepancies(ctx, MoMo, armed); err != nil {
		t.Fatal(err)
	}
	if d := e.sim.Discrepancies(); d.Files[MoMo] != armed {
		t.Errorf("armed = %+v", d)
	}
	_, lines := parseFile(t, MoMo, must(e.admin.Settlement(ctx, MoMo, "2026-11-23", 0))(t))
	var got []string
	for _, l := range lines {
		got = append(got, l.Reference+" "+l.Fee.String())
	}
	fee := e.sim.cfg.MoMo.Fee
	want := []string{ps[1].res.GatewayRef + " " + decimal.NewFromInt(fee.Of(20_000)+500).String(),
		ps[2].res.GatewayRef + " " + decimal.NewFromInt(fee.Of(30_000)).String(),
		ps[2].res.GatewayRef + " " + decimal.NewFromInt(fee.Of(30_000)).String()}
	if !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if files := e.sim.Settlements(); len(files) != 1 || len(files[0].Injected) != 3 {
		t.Errorf("files = %+v, want one with 3 injected discrepancies", files)
	}
	// Disarmed: the corrected revision is right.
	info := must(e.admin.ReviseSettlement(ctx, MoMo, "2026-11-23"))(t)
	if info.Count != 3 || len(info.Injected) != 0 || info.Fees != fee.Of(10_000)+fee.Of(20_000)+fee.Of(30_000) {
		t.Errorf("corrected revision = %+v", info)
	}
}

// camt parses a camt document (ParseCAMT refuses one that does not balance).
func camt(t *testing.T, doc []byte) ([]statement.Statement, []statement.Entry) {
	t.Helper()
	var entries []statement.Entry
	stmts, err := statement.ParseCAMT(bytes.NewReader(doc), func(_ statement.Statement, e statement.Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	return stmts, entries
}

// TestBankStatements: the day after, each gateway pays the net of its
// settlement file with the file id in the remittance text; VietQR
// transfers appear in camt.054 and camt.053 with their reference; balances
// add up and carry over from day to day; bank discrepancies show.
func TestBankStatements(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, g := range gatewayNames {
		e.payMany(g, 500_000, 1_200_000)
	}
	qr, err := vietqr.New(vietqr.Config{BankBIN: DemoBankBIN, Account: DemoBankAccount})
	if err != nil {
		t.Fatal(err)
	}
	ref := must(reference.New())(t)
	created := must(qr.Create(ctx, gateways.CreateRequest{PaymentRef: ref, Amount: decimal.NewFromInt(200_000),
		Currency: "VND", Method: gateways.MethodBankTransfer}))(t)
	transfer := must(e.admin.Transfer(ctx, TransferRequest{QR: created.QRPayload}))(t)
	if transfer.Reference != ref || transfer.Amount != 200_000 {
		t.Fatalf("transfer from QR = %+v", transfer)
	}

	// camt.054: the transfer, its reference findable in the bank's text.
	_, notified := camt(t, must(e.admin.CAMT054(ctx, day0.Add(-time.Hour)))(t))
	if len(notified) != 1 || !notified[0].Amount.Equal(decimal.NewFromInt(200_000)) {
		t.Fatalf("camt.054 entries = %+v", notified)
	}
	if got, ok := statement.FindPaymentReference(notified[0].Texts(), reference.Valid); !ok || got != ref {
		t.Errorf("reference in %q = %q, %v; want %s", notified[0].Texts(), got, ok, ref)
	}

	// Day 1: the transfer only (settlements are paid the next day).
	s1, entries1 := camt(t, must(e.admin.CAMT053(ctx, "2026-11-23"))(t))
	if len(entries1) != 1 || !s1[0].Opening.Amount.Equal(decimal.NewFromInt(DemoOpeningBalance)) {
		t.Errorf("day 1: %d entries, opening %s", len(entries1), s1[0].Opening.Amount)
	}

	e.clock.advance(24 * time.Hour)
	if err := e.admin.SetBankDiscrepancies(ctx, BankDiscrepancies{OmitSettlement: []string{ZaloPay}, UnknownCredit: 123_000}); err != nil {
		t.Fatal(err)
	}
	s2, entries2 := camt(t, must(e.admin.CAMT053(ctx, "2026-11-24"))(t))
	if !s2[0].Opening.Amount.Equal(s1[0].Closing.Amount) {
		t.Errorf("day 2 opens at %s, day 1 closed at %s", s2[0].Opening.Amount, s1[0].Closing.Amount)
	}
	credits := map[string]decimal.Decimal{}
	var unknown int
	for _, en := range entries2 {
		if id, ok := statement.FindSettlementFileID(en.Texts()); ok {
			credits[id.String()] = en.Amount
			continue
		}
		if _, ok := statement.FindPaymentReference(en.Texts(), reference.Valid); !ok && en.Amount.Equal(decimal.NewFromInt(123_000)) {
			unknown++
		}
	}
	for _, g := range []string{VNPAY, MoMo} {
		_, info := must2(e.sim.Settlement(g, day0, 0))(t)
		if got, ok := credits[info.FileID]; !ok || !got.Equal(decimal.NewFromInt(info.Net)) {
			t.Errorf("%s: credit %s for %s, want the file's net %d (credits %v)", g, got, info.FileID, info.Net, credits)
		}
	}
	if len(credits) != 2 || unknown != 1 || len(entries2) != 3 {
		t.Errorf("day 2 entries %d, settlement credits %v, unknown %d: want VNPAY and MoMo (ZaloPay omitted) and one unknown",
			len(entries2), credits, unknown)
	}
	// Asking again gives the same past day.
	if again := must(e.admin.CAMT053(ctx, "2026-11-23"))(t); !bytes.Contains(again, []byte("GWSIM053-20261123<")) {
		t.Errorf("a past day's statement is not the final one:\n%s", again)
	}
	if _, err := e.admin.CAMT053(ctx, "2026-11-26"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a future day: %v, want ErrInvalid", err)
	}
}

// must2 is must for functions with two results and an error.
func must2[A, B any](a A, b B, err error) func(testing.TB) (A, B) {
	return func(t testing.TB) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func TestFeeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fee    Fee
		amount int64
		want   int64
	}{
		{Fee{Percent: decimal.RequireFromString("1.1"), Fixed: 1_650}, 150_000, 3_300},
		{Fee{Percent: decimal.RequireFromString("1.5")}, 10_033, 150}, // 150.495 rounds down
		{Fee{Percent: decimal.RequireFromString("1.5")}, 10_100, 152}, // 151.5 rounds half away from zero
		{Fee{Fixed: 2_000}, 50_000, 2_000},
		{Fee{}, 50_000, 0},
		{Fee{Percent: decimal.RequireFromString("1.1"), Fixed: 1_650}, 1_000, 1_000}, // never more than the amount
	}
	for _, tt := range tests {
		if got := tt.fee.Of(tt.amount); got != tt.want {
			t.Errorf("%s%% + %d of %d = %d, want %d", tt.fee.Percent, tt.fee.Fixed, tt.amount, got, tt.want)
		}
	}
}
