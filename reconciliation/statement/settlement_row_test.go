package statement

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// fastRow reads a line without decimals; whatever it accepts must be read
// the same (values and exponents) by the general way, and whatever the
// general way refuses it must not accept.
func TestFastRowAgreesWithTheGeneralWay(t *testing.T) {
	t.Parallel()
	amounts := []string{"0", "1", "-1", "100", "-100", "150", "007", "-0", "", "-", "1.5", "1e3", "+5",
		"999999999999999999", "-999999999999999999", "1000000000000000000", "12345678", "-12345600", "x", "10000000", "-220000", "5000000"}
	for _, gw := range Gateways() {
		l := layouts[gw]
		t.Run(gw, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("STL-%s-20261123-R1", strings.ToUpper(gw))
			date := day(2026, 11, 23).Format(l.dateLayout)
			at := l.formatTime(day(2026, 11, 23).Add(9 * 3600e9))
			var codes []string
			for c := range l.types {
				codes = append(codes, c)
			}
			codes = append(codes, "99")
			refs := []string{"ATT20261123000001", "", "a b", strings.Repeat("A", 101), "261123_123_x", "x.y", "é"}
			txns := []string{"14422574", "", "12a", strings.Repeat("1", 21)}
			checked := 0
			for _, code := range codes {
				for _, g := range amounts {
					for _, f := range []string{"0", "100", "-100", "3"} {
						for _, ref := range refs {
							for _, txn := range txns {
								net := netFor(l, g, f)
								for _, ccy := range []string{"VND", "USD"} {
									rec := []string{id, date, txn, ref, code, g, f, net, ccy, at}
									if checkFastRow(t, l, rec) {
										checked++
									}
								}
							}
						}
					}
				}
			}
			if checked < 10 {
				t.Fatalf("only %d valid lines checked", checked)
			}
		})
	}
}

// netFor is a net column that agrees with gross and fee when they are
// numbers (so that most lines are valid), else "0".
func netFor(l *layout, g, f string) string {
	gd, err1 := decimal.NewFromString(g)
	fd, err2 := decimal.NewFromString(f)
	if err1 != nil || err2 != nil {
		return "0"
	}
	return gd.Sub(fd).String()
}

// checkFastRow reports whether both ways accepted the line.
func checkFastRow(t *testing.T, l *layout, rec []string) bool {
	t.Helper()
	// The file is identified from a first, valid line, as in a real file.
	slow := &settlementParser{l: l, file: SettlementFile{Gateway: l.gateway}}
	fast := &settlementParser{l: l, file: SettlementFile{Gateway: l.gateway}}
	for _, p := range []*settlementParser{slow, fast} {
		if err := p.identify(rec[colFileID], "VND"); err != nil {
			t.Fatalf("identify: %v", err)
		}
	}
	want, err := slow.line(7, rec)
	ok := fast.fastRow(7, rec)
	switch {
	case err != nil && ok:
		t.Fatalf("%q: fast row accepted a line the general way refuses (%v)", rec, err)
	case err == nil && ok:
		got := fast.row.SettlementLine()
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Fatalf("%q:\nfast    %#v\ngeneral %#v", rec, got, want)
		}
		if r := l.rowOf(want); r != fast.row {
			t.Fatalf("%q: rowOf %+v, fast %+v", rec, r, fast.row)
		}
		return true
	case err == nil:
		t.Logf("%q: fast row left a valid line to the general way", rec)
	}
	return false
}

// The character classes checked without a regular expression say what the
// expressions say.
func TestFastIdentifierChecksMatchTheExpressions(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "0", "12345678901234567890", "123456789012345678901", "12a", "-1", "ATT_1-x", "a.b",
		"a b", strings.Repeat("z", 100), strings.Repeat("z", 101), "é", "Z9", "_", "-", "\x00", "1\n"}
	for _, s := range inputs {
		if got, want := digitsOK(s), digitsID.MatchString(s); got != want {
			t.Errorf("digitsOK(%q) = %v, the expression says %v", s, got, want)
		}
		if got, want := vnpayRefOK(s), vnpayRef.MatchString(s); got != want {
			t.Errorf("vnpayRefOK(%q) = %v, the expression says %v", s, got, want)
		}
	}
}

// Totals kept in int64 spill into the decimals before they could overflow:
// the sum is exact whatever the order of magnitude.
func TestRowSumsSpillExactly(t *testing.T) {
	t.Parallel()
	p := &settlementParser{l: layouts[GatewayVNPAY]}
	want := decimal.Zero
	for i := 0; i < 20; i++ {
		v := int64(999_999_999_999_999_999)
		p.addUnits(v, 1, v-1)
		want = want.Add(decimal.New(v, -2))
	}
	p.spill()
	if !p.sum.Gross.Equal(want) || p.sum.Gross.Exponent() != -2 {
		t.Fatalf("gross %s (exp %d), want %s", p.sum.Gross, p.sum.Gross.Exponent(), want)
	}
	if !p.sum.Fees.Equal(decimal.New(20, -2)) {
		t.Fatalf("fees %s", p.sum.Fees)
	}
}
