package reconciliation

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/money"
)

// demoFees are gatewaysim's demo fees, which CIVICPAY_RECON_FEES defaults to.
const demoFees = "vnpay=1.1%+1650,momo=1.5%,zalopay=1%"

func TestParseFees(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in      string
		gateway string
		gross   int64
		fee     int64
		wantErr bool
	}{
		{in: demoFees, gateway: "vnpay", gross: 200_000, fee: 2_200 + 1_650},
		{in: demoFees, gateway: "momo", gross: 310_001, fee: 4_650}, // 4650.015 rounds down
		{in: "zalopay=1%", gateway: "zalopay", gross: 150, fee: 2},  // 1.5 rounds half away from zero
		{in: " momo=0.5% , vnpay=2%+1000 ", gateway: "vnpay", gross: 1_000, fee: 1_020},
		{in: "", gateway: "vnpay"},
		{in: "vnpay=1.1", wantErr: true},
		{in: "vnpay=100%", wantErr: true},
		{in: "VNPAY=1%", wantErr: true},
		{in: "vnpay=-1%", wantErr: true},
	} {
		fees, err := ParseFees(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("ParseFees(%q): %v", c.in, err)
			continue
		}
		f, ok := fees[c.gateway]
		if c.wantErr || !ok {
			if c.fee != 0 {
				t.Errorf("ParseFees(%q) has no fee for %s", c.in, c.gateway)
			}
			continue
		}
		if got := f.Of(decimal.NewFromInt(c.gross), money.MustLookup(money.VND)); !got.Equal(decimal.NewFromInt(c.fee)) {
			t.Errorf("%q: fee on %d = %s, want %d", c.in, c.gross, got, c.fee)
		}
	}
}

func TestParseCutoffAndURLs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"06:00": 6 * time.Hour, "23:30": 23*time.Hour + 30*time.Minute, "off": NoSchedule} {
		if got, err := ParseCutoff(in); err != nil || got != want {
			t.Errorf("ParseCutoff(%q) = %s, %v", in, got, err)
		}
	}
	for _, bad := range []string{"6", "24:00", "06:00:00", ""} {
		if _, err := ParseCutoff(bad); err == nil {
			t.Errorf("ParseCutoff(%q) accepted", bad)
		}
	}
	for u, ok := range map[string]bool{"": true, "http://127.0.0.1:8090/admin/settlements/{gateway}/{date}": true,
		"ftp://bank/x": false, "/relative/{date}": false} {
		if err := CheckURLTemplate(u); (err == nil) != ok {
			t.Errorf("CheckURLTemplate(%q) = %v", u, err)
		}
	}
}

func TestTheDailyRunIsAtTheCutoffInVietnamTime(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sched := dailyAt{at: 6 * time.Hour}
	for _, c := range []struct{ now, next, day string }{
		// 06:00 ICT is 23:00 UTC of the day before.
		{"2026-11-23T22:59:59Z", "2026-11-23T23:00:00Z", "2026-11-22"},
		{"2026-11-23T23:00:00Z", "2026-11-24T23:00:00Z", "2026-11-23"},
		{"2026-11-24T10:00:00Z", "2026-11-24T23:00:00Z", "2026-11-23"},
		{"2026-12-31T23:30:00Z", "2027-01-01T23:00:00Z", "2026-12-31"},
	} {
		now := utc(c.now)
		if got := sched.Next(now); !got.Equal(utc(c.next)) || got.Location() != time.UTC {
			t.Errorf("Next(%s) = %s, want %s", c.now, got, c.next)
		}
		if got := dayString(previousBusinessDay(now, 6*time.Hour)); got != c.day {
			t.Errorf("previous business day at %s = %s, want %s", c.now, got, c.day)
		}
	}
}
