package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/reference"
)

// The catalogue the orders are of: six agencies of three services each.
var agencies = []struct {
	code, name string
	services   [3]string
}{
	{"STP-HCM", "Sở Tư pháp TP.HCM", [3]string{"STP-LLTP", "STP-HT", "STP-CT"}},
	{"CSGT-HN", "Cảnh sát giao thông Hà Nội", [3]string{"CSGT-PHAT", "CSGT-DK", "CSGT-GPLX"}},
	{"TNMT-DN", "Sở Tài nguyên và Môi trường Đà Nẵng", [3]string{"TNMT-SD", "TNMT-TB", "TNMT-DD"}},
	{"GTVT-HP", "Sở Giao thông vận tải Hải Phòng", [3]string{"GTVT-DK", "GTVT-GP", "GTVT-KD"}},
	{"XD-CT", "Sở Xây dựng Cần Thơ", [3]string{"XD-GPXD", "XD-CC", "XD-QH"}},
	{"KBNN-HUE", "Kho bạc Nhà nước Huế", [3]string{"KB-THUE", "KB-PHI", "KB-LP"}},
}

var (
	families = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"}
	middles  = []string{"Văn", "Thị", "Hữu", "Minh", "Ngọc", "Đức", "Thanh", "Quốc"}
	givens   = []string{"An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Long", "Mai", "Nam", "Phúc", "Quân", "Thảo", "Trang", "Tuấn", "Vy", "Yến"}
	gateways = []struct{ name, method string }{{"vnpay", "card"}, {"momo", "ewallet"}, {"zalopay", "ewallet"}, {"vietqr", "bank_transfer"}}
)

// world is the seeded data: n orders created evenly over the year up to
// end, every field a function of the order's number, so that the
// measurements can pick orders, references and phones without reading them.
type world struct {
	n        int
	start    time.Time
	step     time.Duration
	end      time.Time // the bench's "now"
	portalID uuid.UUID
}

func newWorld(n int, now time.Time) *world {
	end := now.Add(-10 * time.Minute).Truncate(time.Millisecond)
	start := end.AddDate(-1, 0, 0)
	// Whole microseconds, as PostgreSQL keeps them: a cursor made of
	// createdAt(i) is then exactly the stored row's.
	step := (end.Sub(start) / time.Duration(n)).Truncate(time.Microsecond)
	return &world{n: n, start: start, step: step, end: end, portalID: uuid.MustParse("01900000-0000-7000-8000-00000000b0b0")}
}

// mix is splitmix64: the order's pseudo-random bits.
func mix(i int) uint64 {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// order is order i as seeded.
type order struct {
	i           int
	id          uuid.UUID
	ref         string
	created     time.Time
	agency      int // first line's agency
	service     string
	second      int // second line's agency, -1 for none
	service2    string
	amount1     int64
	amount2     int64
	status      string
	refunded    int64 // of the order, all on line 1 (and line 2 when refunded in full)
	gateway     int
	failedFirst bool // an attempt failed before the one that paid
	phone       string
	name        string
}

func (o *order) total() int64 { return o.amount1 + o.amount2 }
func (o *order) paid() bool {
	return o.status == "paid" || o.status == "refunded" || o.status == "partially_refunded"
}

func (w *world) createdAt(i int) time.Time { return w.start.Add(time.Duration(i) * w.step) }

// orderID is a version 7 UUID of the order's creation time, as the service
// makes them (time-ordered), with the order's number in its random bits.
func (w *world) orderID(i int) uuid.UUID {
	var u uuid.UUID
	ms := uint64(w.createdAt(i).UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16)
	binary.BigEndian.PutUint64(u[8:16], uint64(i))
	u[6] = 0x70 | (u[6] & 0x0f)
	u[8] = 0x80 | (u[8] & 0x3f)
	return u
}

// attemptID is the version 7 UUID of attempt k (0 or 1) of order i.
func (w *world) attemptID(i, k int) uuid.UUID {
	u := w.orderID(i)
	u[9] ^= byte(0x10 + k)
	return u
}

// reference of order i: distinct for every i (multiplying by a number prime
// to 10 permutes the 15-digit bodies).
func (w *world) reference(i int) string {
	body := (uint64(i)*982451653 + 271828182845) % 1_000_000_000_000_000
	ref, err := reference.FromBody(fmt.Sprintf("%015d", body))
	if err != nil {
		panic(err)
	}
	return ref
}

// phone of order i: about 200,000 payers, each with some five orders spread
// over the year.
func phone(i int) string { return fmt.Sprintf("09%08d", (uint64(i)*7919)%200_003) }

func (w *world) order(i int) order {
	r := mix(i)
	o := order{i: i, id: w.orderID(i), ref: w.reference(i), created: w.createdAt(i), second: -1}
	o.agency = int(r % uint64(len(agencies)))
	o.service = agencies[o.agency].services[(r>>8)%3]
	o.amount1 = int64(10+(r>>24)%490) * 1000
	if (r>>16)%10 == 0 { // one order in ten has a second line, of another agency
		o.second = (o.agency + 1 + int((r>>20)%uint64(len(agencies)-1))) % len(agencies)
		o.service2 = agencies[o.second].services[(r>>12)%3]
		o.amount2 = int64(5+(r>>32)%100) * 1000
	}
	p := (r >> 40) % 100
	switch {
	case w.end.Sub(o.created) < 24*time.Hour && p < 30:
		o.status = "open"
	case p < 78:
		o.status = "paid"
	case p < 81:
		o.status, o.refunded = "refunded", o.total()
	case p < 83:
		o.status, o.refunded = "partially_refunded", max(o.amount1/2000, 1)*1000
	case p < 86:
		o.status = "cancelled"
	default:
		o.status = "expired"
	}
	o.gateway = int((r >> 48) % uint64(len(gateways)))
	o.failedFirst = (r>>52)%100 < 15
	o.phone = phone(i)
	o.name = families[(r>>56)%uint64(len(families))] + " " + middles[(r>>44)%uint64(len(middles))] + " " + givens[(r>>36)%uint64(len(givens))]
	return o
}

// seedCatalogue makes the agencies and their services, and the staff users.
func seedCatalogue(ctx context.Context, pool *pgxpool.Pool) error {
	ctx = audit.System(ctx, "benchconsole")
	cat := catalogue.NewStore(pool)
	for k, a := range agencies {
		if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: a.code, Name: a.name, TreasuryAccount: fmt.Sprintf("KBNN-%d", k+1)}); err != nil {
			return err
		}
		for _, s := range a.services {
			lo, hi := decimal.NewFromInt(1000), decimal.NewFromInt(10_000_000)
			if _, err := cat.UpsertService(ctx, catalogue.Service{Code: s, AgencyCode: a.code, Name: s, Kind: catalogue.KindFee,
				MinAmount: &lo, MaxAmount: &hi, Active: true}); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedOrders COPYs the orders, then their lines, attempts and events (three
// COPYs at once), and leaves the tables vacuumed and analysed, as
// autovacuum would after such a load.
func seedOrders(ctx context.Context, pool *pgxpool.Pool, w *world) error {
	expiresOpen := w.end.Add(7 * 24 * time.Hour) // never expired during the run
	orders := &rowSource{n: w.n, row: func(i int) []any {
		o := w.order(i)
		paid, paidAt, closedAt, updated := int64(0), any(nil), any(nil), o.created
		expires := o.created.Add(24 * time.Hour)
		switch {
		case o.paid():
			paid = o.total()
			at := o.created.Add(3 * time.Minute)
			paidAt, updated = at, at
		case o.status == "cancelled":
			at := o.created.Add(time.Hour)
			closedAt, updated = at, at
		case o.status == "expired":
			closedAt, updated = expires, expires
		case o.status == "open":
			expires = expiresOpen
		}
		return []any{o.id, o.ref, agencies[o.agency].code, w.portalID, o.status, "VND", o.total(), paid, o.refunded,
			o.name, o.phone, "Lệ phí " + o.service, expires, o.created, updated, paidAt, closedAt,
			"bench-" + fmt.Sprint(i), []byte{0}}
	}}
	start := time.Now()
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"id", "reference", "agency_code", "created_by",
		"status", "currency", "total", "amount_paid", "amount_refunded", "payer_name", "payer_phone", "description",
		"expires_at", "created_at", "updated_at", "paid_at", "closed_at", "idempotency_key", "request_hash"}, orders); err != nil {
		return fmt.Errorf("seed orders: %w", err)
	}
	progress("COPY orders: %d rows in %s", w.n, time.Since(start).Round(time.Second))

	// The lines, attempts and events at once, each on its own connection.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for k, t := range []struct {
		table string
		cols  []string
		rows  func(w *world, i int, out [][]any) [][]any
	}{{"order_lines", lineColumns, lineRows}, {"payment_attempts", attemptColumns, attemptRows}, {"order_events", eventColumns, eventRows}} {
		wg.Go(func() { errs[k] = copyExpanded(ctx, pool, w, t.table, t.cols, t.rows) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	start = time.Now()
	for _, t := range []string{"orders", "order_lines", "payment_attempts", "order_events"} {
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		progress("no checkpoint after seeding: %v", err)
	}
	progress("VACUUM (ANALYZE), CHECKPOINT in %s", time.Since(start).Round(time.Second))
	return nil
}

var lineColumns = []string{"order_id", "line_no", "service_code", "agency_code", "kind", "amount", "amount_refunded", "order_created_at"}

func lineRows(w *world, i int, out [][]any) [][]any {
	o := w.order(i)
	ref1, ref2 := o.refunded, int64(0)
	if o.status == "refunded" {
		ref1, ref2 = o.amount1, o.amount2
	}
	out = append(out, []any{o.id, int16(1), o.service, agencies[o.agency].code, "fee", o.amount1, ref1, o.created})
	if o.second >= 0 {
		out = append(out, []any{o.id, int16(2), o.service2, agencies[o.second].code, "fee", o.amount2, ref2, o.created})
	}
	return out
}

var attemptColumns = []string{"id", "order_id", "gateway", "method", "gateway_ref", "gateway_txn_id", "currency", "amount",
	"status", "outcome", "result_code", "created_by", "created_at", "updated_at", "expires_at", "paid_at", "followed_at"}

func attemptRows(w *world, i int, out [][]any) [][]any {
	o := w.order(i)
	g := gateways[o.gateway]
	at := o.created.Add(time.Minute)
	if o.failedFirst && o.status != "open" && o.status != "cancelled" {
		out = append(out, []any{w.attemptID(i, 0), o.id, g.name, g.method, fmt.Sprintf("%x-0", i), nil, "VND", o.total(),
			"failed", nil, "24", "portal", at, at, at.Add(15 * time.Minute), nil, at})
	}
	if o.paid() {
		paidAt := o.created.Add(3 * time.Minute)
		out = append(out, []any{w.attemptID(i, 1), o.id, g.name, g.method, fmt.Sprintf("%x-1", i), fmt.Sprintf("T%d", 14_000_000_000+i),
			"VND", o.total(), "succeeded", "payment", "00", "portal", at, paidAt, at.Add(15 * time.Minute), paidAt, at})
	}
	return out
}

var eventColumns = []string{"order_id", "type", "actor", "created_at"}

func eventRows(w *world, i int, out [][]any) [][]any {
	o := w.order(i)
	out = append(out, []any{o.id, "order.created", "key:portal", o.created})
	switch {
	case o.paid():
		out = append(out, []any{o.id, "order.paid", "system:gateway", o.created.Add(3 * time.Minute)})
	case o.status == "cancelled":
		out = append(out, []any{o.id, "order.cancelled", "key:portal", o.created.Add(time.Hour)})
	case o.status == "expired":
		out = append(out, []any{o.id, "order.expired", "system:expiry", o.created.Add(24 * time.Hour)})
	}
	return out
}

// copyExpanded COPYs into table the rows rows makes of each order.
func copyExpanded(ctx context.Context, pool *pgxpool.Pool, w *world, table string, cols []string,
	rows func(w *world, i int, out [][]any) [][]any) error {
	start := time.Now()
	src := &expandSource{n: w.n, w: w, rows: rows}
	n, err := pool.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	if err != nil {
		return fmt.Errorf("seed %s: %w", table, err)
	}
	progress("COPY %s: %d rows in %s", table, n, time.Since(start).Round(time.Second))
	return nil
}

// rowSource is a pgx.CopyFromSource of n generated rows.
type rowSource struct {
	n, i int
	row  func(i int) []any
	cur  []any
}

func (s *rowSource) Next() bool {
	if s.i >= s.n {
		return false
	}
	s.cur = s.row(s.i)
	s.i++
	return true
}

func (s *rowSource) Values() ([]any, error) { return s.cur, nil }
func (s *rowSource) Err() error             { return nil }

// expandSource is a pgx.CopyFromSource of the rows each of n orders makes.
type expandSource struct {
	n, i int
	w    *world
	rows func(w *world, i int, out [][]any) [][]any
	buf  [][]any
	cur  []any
}

func (s *expandSource) Next() bool {
	for len(s.buf) == 0 {
		if s.i >= s.n {
			return false
		}
		s.buf = s.rows(s.w, s.i, s.buf[:0])
		s.i++
	}
	s.cur, s.buf = s.buf[0], s.buf[1:]
	return true
}

func (s *expandSource) Values() ([]any, error) { return s.cur, nil }
func (s *expandSource) Err() error             { return nil }

// typed writes ref as a person might type it: lower case, a space every four characters.
func typed(ref string) string {
	var b strings.Builder
	for k, r := range strings.ToLower(ref) {
		if k > 0 && k%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
