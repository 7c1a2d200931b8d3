package bizday_test

import (
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
)

func TestTheBusinessDayIsTheDateInVietnam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		at   time.Time
		date string
	}{
		{time.Date(2026, 11, 23, 16, 59, 59, 0, time.UTC), "2026-11-23"}, // 23:59:59 GMT+7
		{time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC), "2026-11-24"},   // midnight GMT+7
		{time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), "2027-01-01"},
		{time.Date(2026, 11, 24, 0, 30, 0, 0, time.FixedZone("X", 9*3600)), "2026-11-23"}, // 22:30 GMT+7
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339), func(t *testing.T) {
			t.Parallel()
			start, date := bizday.Start(tt.at), bizday.Date(tt.at)
			parsed, err := bizday.Parse(tt.date)
			if err != nil {
				t.Fatal(err)
			}
			if start.Format(time.DateOnly) != tt.date || !start.Equal(parsed) || start.Location() != bizday.Zone ||
				start.After(tt.at) || !tt.at.Before(start.AddDate(0, 0, 1)) {
				t.Errorf("Start(%s) = %s, want midnight GMT+7 of %s", tt.at, start, tt.date)
			}
			if date.Format(time.DateOnly) != tt.date || date.Location() != time.UTC || date.Hour() != 0 {
				t.Errorf("Date(%s) = %s, want %s at midnight UTC", tt.at, date, tt.date)
			}
		})
	}
	if _, off := time.Now().In(bizday.Zone).Zone(); off != 7*3600 {
		t.Fatalf("zone offset %d", off)
	}
}

func TestSQLOffsetIsTheZones(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, bizday.Zone)
	if got := at.Format("-07:00"); got != bizday.SQLOffset {
		t.Fatalf("Zone's offset is %s, SQLOffset %s", got, bizday.SQLOffset)
	}
}
