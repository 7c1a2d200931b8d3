package main

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/paydriver"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/reference"
)

// The catalogue: 60 agencies (ten departments in six provinces), 400
// services (seven for each of the first 40 agencies, six for the others).
// STP-HCM and CSGT-HN, and their first services, are the ones the payment
// driver pays (internal/testkit/paydriver), so the payments measured beside
// the year go to accounts with a year of history.
const (
	agencyCount  = 60
	serviceCount = 400
	yearDays     = 365
)

var (
	departments = []struct{ code, name string }{
		{"STP", "Sở Tư pháp"}, {"CSGT", "Cảnh sát giao thông"}, {"TNMT", "Sở Tài nguyên và Môi trường"},
		{"GTVT", "Sở Giao thông vận tải"}, {"XD", "Sở Xây dựng"}, {"KBNN", "Kho bạc Nhà nước"},
		{"TC", "Sở Tài chính"}, {"YT", "Sở Y tế"}, {"GD", "Sở Giáo dục và Đào tạo"}, {"LDTBXH", "Sở Lao động - Thương binh và Xã hội"},
	}
	provinces = []struct{ code, name string }{
		{"HCM", "TP.HCM"}, {"HN", "Hà Nội"}, {"DN", "Đà Nẵng"}, {"HP", "Hải Phòng"}, {"CT", "Cần Thơ"}, {"HUE", "Huế"},
	}
	families = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"}
	middles  = []string{"Văn", "Thị", "Hữu", "Minh", "Ngọc", "Đức", "Thanh", "Quốc"}
	givens   = []string{"An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Long", "Mai", "Nam", "Phúc", "Quân", "Thảo", "Trang", "Tuấn", "Vy", "Yến"}
	gateways = []struct{ name, method string }{{"vnpay", "card"}, {"momo", "ewallet"}, {"zalopay", "ewallet"}, {"vietqr", "bank_transfer"}}
)

type agency struct{ code, name, treasury string }

type service struct {
	code, name string
	agency     int
	kind       catalogue.Kind
	fixed      int64 // a fixed amount, else 0
}

// catalogueOf builds the agencies and services.
func catalogueOf() ([]agency, []service) {
	as := make([]agency, 0, agencyCount)
	for _, d := range departments {
		for _, p := range provinces {
			code := d.code + "-" + p.code
			as = append(as, agency{code: code, name: d.name + " " + p.name, treasury: "KB-" + code})
		}
	}
	ss := make([]service, 0, serviceCount)
	for k, a := range as {
		n := 6
		if k < serviceCount-6*agencyCount {
			n = 7
		}
		for j := range n {
			s := service{code: fmt.Sprintf("%s-%02d", a.code, j+1), name: fmt.Sprintf("Lệ phí %d – %s", j+1, a.name),
				agency: k, kind: catalogue.KindFee}
			switch {
			case j == 0 && a.code == paydriver.AgencyA:
				s.code, s.fixed = paydriver.ServiceA, paydriver.FeeA
			case j == 0 && a.code == paydriver.AgencyB:
				s.code, s.kind = paydriver.ServiceB, catalogue.KindCharge
			}
			ss = append(ss, s)
		}
	}
	return as, ss
}

// world is the seeded year: n paid orders created evenly over 365
// business days that end two days before the bench's day (the day before
// it is the reconciled settlement day, the bench's day the one payments are
// measured on). Every field is a function of the order's number, so the
// measurements pick orders, references and phones without reading them.
type world struct {
	n        int
	start    time.Time // 00:00 GMT+7 of the first day
	end      time.Time // 00:00 of the day after the last
	step     time.Duration
	payers   uint64
	portal   uuid.UUID // the API key that created the orders
	agencies []agency
	services []service
}

func newWorld(n int, now time.Time, portal uuid.UUID) *world {
	today := bizday.Start(now)
	end := today.AddDate(0, 0, -1)
	start := end.AddDate(0, 0, -yearDays)
	// Ten minutes short of the end: an order is paid within four minutes
	// of its creation, all inside the year.
	step := ((end.Sub(start) - 10*time.Minute) / time.Duration(n)).Truncate(time.Microsecond)
	payers := uint64(max(n/5, 101)) | 1 // some five orders per payer
	for payers%7919 == 0 {
		payers += 2
	}
	as, ss := catalogueOf()
	return &world{n: n, start: start, end: end, step: step, payers: payers, portal: portal, agencies: as, services: ss}
}

// reconDay is the business day reconciled beside the year: the day after it.
func (w *world) reconDay() time.Time { return w.end }

// mix is splitmix64: the order's pseudo-random bits.
func mix(i int) uint64 {
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// order is order i as seeded: paid, through one attempt (after a failed one
// in about one order in seven), one line or (one in ten) two of two
// agencies. Its texts (reference, payer) are made by methods, only by the
// tables that hold them.
type order struct {
	i                int
	r                uint64
	id, attempt      uuid.UUID
	failed           uuid.UUID // the failed attempt; uuid.Nil for none
	created, paid    time.Time
	svc1, svc2       int // svc2 -1 for none
	amount1, amount2 int64
	gateway          int
}

func (o *order) total() int64 { return o.amount1 + o.amount2 }
func (o *order) lines() int {
	if o.svc2 < 0 {
		return 1
	}
	return 2
}

func (w *world) createdAt(i int) time.Time { return w.start.Add(time.Duration(i) * w.step) }

// uuid7 is a version 7 UUID of t (time-ordered, as the service makes them)
// with i and kind in its random bits.
func uuid7(t time.Time, i int, kind byte) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], uint64(t.UnixMilli())<<16)
	binary.BigEndian.PutUint64(u[8:16], uint64(i))
	u[6] = 0x70 | kind&0x0f
	u[8] = 0x80 | (u[8] & 0x3f)
	return u
}

// reference of order i: distinct for every i below 10^14 (a multiplier
// prime to 10 permutes the bodies), all with a body from 5·10^14 up, so
// never one of reconday's (small bodies).
func reference15(i int) string {
	body := 500_000_000_000_000 + (uint64(i)*982451653+271828182845)%100_000_000_000_000
	ref, err := reference.FromBody(strconv.FormatUint(body, 10))
	if err != nil {
		panic(err)
	}
	return ref
}

// phone of order i: n/5 payers, each with some five orders over the year.
func (w *world) phone(i int) string {
	b := []byte("0900000000")
	for k, v := 9, (uint64(i)*7919)%w.payers; v > 0 && k > 1; k, v = k-1, v/10 {
		b[k] = byte('0' + v%10)
	}
	return string(b)
}

func (w *world) order(i int) order {
	r := mix(i)
	o := order{i: i, r: r, created: w.createdAt(i), svc2: -1}
	o.id = uuid7(o.created, i, 0)
	o.svc1 = int(r % serviceCount)
	o.amount1 = w.amount(o.svc1, r>>24)
	if (r>>16)%10 == 0 {
		// Seven on is always another agency: no agency has more than seven services.
		o.svc2 = (int((r>>20)%serviceCount) + 7) % serviceCount
		if w.services[o.svc2].agency == w.services[o.svc1].agency {
			o.svc2 = (o.svc2 + 7) % serviceCount
		}
		o.amount2 = w.amount(o.svc2, r>>32)
	}
	o.gateway = int((r >> 48) % uint64(len(gateways)))
	at := o.created.Add(time.Minute)
	if (r>>52)%100 < 15 {
		o.failed = uuid7(at, i, 1)
		at = at.Add(30 * time.Second)
	}
	o.attempt = uuid7(at, i, 2)
	o.paid = at.Add(time.Minute + time.Duration((r>>40)%120)*time.Second)
	return o
}

func (o *order) ref() string { return reference15(o.i) }

func (o *order) name() string {
	return families[(o.r>>56)%uint64(len(families))] + " " + middles[(o.r>>44)%uint64(len(middles))] + " " + givens[(o.r>>36)%uint64(len(givens))]
}

// txnID is the gateway's transaction id of the paying attempt.
func (o *order) txnID() string { return "Y" + strconv.Itoa(20_000_000_000+o.i) }

// amount of a line of service s: its fixed amount, else whole thousands
// of VND from 10,000 to 499,000.
func (w *world) amount(s int, bits uint64) int64 {
	if f := w.services[s].fixed; f > 0 {
		return f
	}
	return int64(10+bits%490) * 1000
}

// eventIDEncoding is the webhooks' event id alphabet (Crockford's base32 in
// lower case, as webhooks.newEventID makes them).
var eventIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// eventID is the id of webhook event k of order i, published at t.
func eventID(t time.Time, i, k int) string {
	u := uuid7(t, i, byte(8+k))
	return "msg_" + eventIDEncoding.EncodeToString(u[:])
}
