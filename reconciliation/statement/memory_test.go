package statement

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// generatedLine is the i-th line of a generated settlement file.
func generatedLine(gateway string, i int) SettlementLine {
	gross := decimal.NewFromInt(int64(10000 + i%5000*100))
	fee := decimal.NewFromInt(int64(i % 7 * 100))
	l := SettlementLine{
		GatewayTxnID: fmt.Sprint(100000000 + i), Type: TypePayment, Gross: gross, Fee: fee, Net: gross.Sub(fee),
		At: time.Date(2026, time.November, 23, 0, 0, 0, 0, ICT).Add(time.Duration(i) * 400 * time.Millisecond),
	}
	l.Reference = fmt.Sprintf("ATT%09d", i)
	if gateway == GatewayZaloPay {
		l.Reference = fmt.Sprintf("261123_ATT%09d", i)
	}
	if i%10 == 9 {
		l.Type, l.Gross, l.Net = TypeRefund, gross.Neg(), gross.Neg().Sub(fee)
	}
	return l
}

// generateSettlement writes a settlement file of n lines.
func generateSettlement(w io.Writer, gateway string, n int) error {
	sw, err := NewSettlementWriter(gateway, w, SettlementFile{BusinessDate: day(2026, time.November, 23)})
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := sw.Write(generatedLine(gateway, i)); err != nil {
			return err
		}
	}
	return sw.Close()
}

// generateCAMT writes a camt.053 statement of n entries.
func generateCAMT(w io.Writer, n int) error {
	d := day(2026, time.November, 23)
	closing := decimal.Zero
	for i := 0; i < n; i++ {
		closing = closing.Add(decimal.NewFromInt(int64(1000 + i%1000)))
	}
	cw, err := NewCAMTWriter(w, KindCAMT053, "BIG-1", d)
	if err != nil {
		return err
	}
	err = cw.StartStatement(Statement{StatementID: "BIG-STMT", Account: "0011004123456", Currency: "VND",
		Opening: &Balance{Type: BalanceOpening, Amount: decimal.Zero, Currency: "VND", Date: d},
		Closing: &Balance{Type: BalanceClosing, Amount: closing, Currency: "VND", Date: d}})
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		err := cw.WriteEntry(Entry{Amount: decimal.NewFromInt(int64(1000 + i%1000)), Currency: "VND", Credit: true,
			BookingDate: d, AcctSvcrRef: fmt.Sprintf("FT%011d", i),
			TxDetails: []TxDetail{{EndToEndID: "NOTPROVIDED", TxID: fmt.Sprintf("FT%011d", i),
				RemittanceInfo: []string{fmt.Sprintf("RF18539007547034 NOP PHI %d", i)}}}})
		if err != nil {
			return err
		}
	}
	if err := cw.EndStatement(); err != nil {
		return err
	}
	return cw.Close()
}

// measureStream feeds what generate writes through a pipe to parse, sampling
// the heap every 10,000 callbacks, and returns the bytes streamed and the peak
// HeapInuse seen. parse gets a sample func to call from its callback. Each
// sample collects garbage first, so that it measures what the parser keeps
// rather than how far the collector let the heap grow.
func measureStream(t *testing.T, generate func(io.Writer) error, parse func(io.Reader, func()) error) (int64, uint64) {
	t.Helper()
	pr, pw := io.Pipe()
	counter := &countingWriter{w: pw}
	go func() { pw.CloseWithError(generate(counter)) }()
	runtime.GC()
	var peak uint64
	var ms runtime.MemStats
	calls := 0
	sample := func() {
		if calls++; calls%10000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if err := parse(pr, sample); err != nil {
		t.Fatal(err)
	}
	return counter.n, peak
}

// TestBoundedMemory streams large generated files through the parsers and
// checks that the heap stays far below the file size. It is not parallel on
// purpose: it measures the heap, and parallel tests (which wait while
// sequential ones run) would disturb it.
func TestBoundedMemory(t *testing.T) {
	tests := []struct {
		name     string
		n        int // lines or entries
		generate func(io.Writer, int) error
		parse    func(r io.Reader, sample func()) (int, error) // how many lines or entries it read
	}{
		{"settlement, 200k lines", 200_000,
			func(w io.Writer, n int) error { return generateSettlement(w, GatewayVNPAY, n) },
			func(r io.Reader, sample func()) (int, error) {
				f, err := ParseSettlement(GatewayVNPAY, r, func(SettlementLine) error { sample(); return nil })
				return f.Count, err
			}},
		{"camt.053, 40k entries", 40_000, generateCAMT,
			func(r io.Reader, sample func()) (int, error) {
				stmts, err := ParseCAMT(r, func(Statement, Entry) error { sample(); return nil })
				if err != nil || len(stmts) != 1 {
					return 0, err
				}
				return stmts[0].Entries, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got int
			size, peak := measureStream(t,
				func(w io.Writer) error { return tt.generate(w, tt.n) },
				func(r io.Reader, sample func()) (err error) {
					got, err = tt.parse(r, sample)
					return err
				})
			if got != tt.n {
				t.Errorf("parsed %d, want %d", got, tt.n)
			}
			t.Logf("%d bytes streamed, peak HeapInuse %d bytes", size, peak)
			if peak == 0 || peak > uint64(size)/8 {
				t.Errorf("peak HeapInuse %d bytes for a %d-byte input: not streaming", peak, size)
			}
		})
	}
}
