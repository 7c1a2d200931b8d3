// Package bizday is civicpay's business day: the calendar day in Vietnam
// (Asia/Ho_Chi_Minh, GMT+7, no daylight saving), which statements, cut-offs,
// closed days, revenue by day and the gateways' date fields use. Times are
// stored in UTC; this is the one place the zone is written.
package bizday

import "time"

// Zone is the business day's zone, fixed at GMT+7 so that no tzdata is
// needed (Vietnam has had no daylight saving since 1975).
var Zone = time.FixedZone("ICT", 7*3600)

// SQLOffset is Zone's offset as PostgreSQL reads it: the business day of a
// timestamptz t in SQL is (t AT TIME ZONE INTERVAL '+07:00')::date. (Migration
// 00015 writes it literally: a migration cannot import it.)
const SQLOffset = "+07:00"

// Start is midnight (Zone) of the business day t falls in.
func Start(t time.Time) time.Time {
	y, m, d := t.In(Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Zone)
}

// Date is the business day t falls in as midnight UTC of that date: how a
// PostgreSQL date reads and is written.
func Date(t time.Time) time.Time {
	y, m, d := t.In(Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Parse reads a business day, YYYY-MM-DD, as midnight Zone.
func Parse(s string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, s, Zone)
}
