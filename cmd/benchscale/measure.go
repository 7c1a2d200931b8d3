package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/testkit/benchstaff"
	"github.com/civicpay/civicpay/ledger"
)

// reader asks for a page (path) and times it to the last byte; the answer
// must be a 200 containing want.
type reader interface {
	read(path, want string) (time.Duration, error)
}

// apiKey reads the API with an API key.
type apiKey struct {
	base, key string
	hc        *fasthttp.Client
}

func (k apiKey) read(path, want string) (time.Duration, error) {
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(k.base + path)
	req.Header.SetMethod(http.MethodGet)
	req.Header.Set("Authorization", "Bearer "+k.key)
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	if err := k.hc.DoTimeout(req, res, 10*time.Minute); err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	d := time.Since(start)
	if res.StatusCode() != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d: %.300s", path, res.StatusCode(), res.Body())
	}
	if !bytes.Contains(res.Body(), []byte(want)) {
		return 0, fmt.Errorf("GET %s: no %q in %.300s", path, want, res.Body())
	}
	return d, nil
}

// staff reads the console's pages as a signed-in staff user.
type staff struct{ *benchstaff.Staff }

func (s staff) read(path, want string) (time.Duration, error) {
	d, _, err := s.Page(path, want)
	return d, err
}

// scenario is a read asked for again and again: next returns the reader,
// the path of one request and a text the answer must contain.
type scenario struct {
	name, group string
	next        func() (reader, string, string)
}

// The groups of scenarios, each summed up by its worst p99 against the
// issue's target.
const (
	groupRevenue = "revenue_year"
	groupAsOf    = "asof_balance"
	groupSearch  = "order_search"
)

var targets = map[string]float64{groupRevenue: 100, groupAsOf: 20, groupSearch: 20}

// readers are who reads: API keys of treasury and of one agency, and staff
// users of both in the console.
type readers struct {
	treasury, agency           reader
	treasuryStaff, agencyStaff reader
	agencyIdx                  int
}

func scenarios(w *world, r readers) []scenario {
	year := url.Values{"from": {w.start.Format(time.RFC3339)}, "to": {w.end.Format(time.RFC3339)}}
	revenue := func(who reader, groupBy string) func() (reader, string, string) {
		q := url.Values{"group_by": {groupBy}}
		for k, v := range year {
			q[k] = v
		}
		return func() (reader, string, string) { return who, "/v1/revenue?" + q.Encode(), `"totals":[{` }
	}
	anyTime := func() time.Time {
		return w.start.Add(time.Duration(rand.Int64N(int64(w.end.Sub(w.start))))).Truncate(time.Second)
	}
	asOf := func(account func() string) func() (reader, string, string) {
		return func() (reader, string, string) {
			return r.treasury, "/v1/ledger/accounts/" + url.PathEscape(account()) + "/balance?" +
				url.Values{"as_of": {anyTime().Format(time.RFC3339)}}.Encode(), `"balance"`
		}
	}
	anyOrder := func() int { return rand.IntN(w.n) }
	// ofAgency picks an order whose first line is the agency's.
	ofAgency := func() int {
		for {
			i := anyOrder()
			if o := w.order(i); w.services[o.svc1].agency == r.agencyIdx {
				return i
			}
		}
	}
	byRef := func(who reader, pick func() int) func() (reader, string, string) {
		return func() (reader, string, string) {
			ref := reference15(pick())
			return who, "/v1/orders/by-reference/" + ref, ref
		}
	}
	byPhone := func(who reader, pick func() int) func() (reader, string, string) {
		return func() (reader, string, string) {
			p := w.phone(pick())
			return who, "/console/payments?" + url.Values{"phone": {p[:4] + " " + p[4:7] + " " + p[7:]}}.Encode(), p
		}
	}
	// month is a random 30 days of the year.
	month := func() (time.Time, time.Time) {
		from := w.start.AddDate(0, 0, rand.IntN(yearDays-30))
		return from, from.AddDate(0, 0, 30)
	}
	return []scenario{
		{"revenue_year_service_treasury", groupRevenue, revenue(r.treasury, "service")},
		{"revenue_year_service_agency", groupRevenue, revenue(r.agency, "service")},
		{"revenue_year_day_service_treasury", groupRevenue, revenue(r.treasury, "day,service")},
		{"revenue_year_day_service_agency", groupRevenue, revenue(r.agency, "day,service")},
		{"asof_balance_agency", groupAsOf, asOf(func() string {
			return ledger.AgencyCollected(w.agencies[rand.IntN(len(w.agencies))].code)
		})},
		{"asof_balance_gateway", groupAsOf, asOf(func() string {
			return ledger.GatewayClearing(gateways[rand.IntN(len(gateways))].name)
		})},
		{"order_search_reference", groupSearch, byRef(r.treasury, anyOrder)},
		{"order_search_reference_agency", groupSearch, byRef(r.agency, ofAgency)},
		{"order_search_phone_console", groupSearch, byPhone(r.treasuryStaff, anyOrder)},
		{"order_search_phone_console_agency", groupSearch, byPhone(r.agencyStaff, ofAgency)},
		{"order_search_status_date_agency", groupSearch, func() (reader, string, string) {
			from, to := month()
			return r.agency, "/v1/orders?" + url.Values{"status": {"paid"}, "created_from": {from.Format(time.RFC3339)},
				"created_to": {to.Format(time.RFC3339)}}.Encode(), `"data":[{"id":`
		}},
		{"order_search_status_date_console_agency", groupSearch, func() (reader, string, string) {
			from, to := month()
			return r.agencyStaff, "/console/payments?" + url.Values{"status": {"paid"},
				"from": {from.In(bizday.Zone).Format(time.DateOnly)}, "to": {to.In(bizday.Zone).Format(time.DateOnly)}}.Encode(), `id="orders"`
		}},
	}
}

// measure asks for sc from clients goroutines until d has passed and at
// least min requests were answered (the slow ones take seconds each); any
// failed request fails the measurement.
func measure(sc scenario, d time.Duration, min, clients int) ([]time.Duration, error) {
	var (
		mu    sync.Mutex
		all   []time.Duration
		first error
		count atomic.Int64
		wg    sync.WaitGroup
	)
	stop := time.Now().Add(d)
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) || count.Load() < int64(min) {
				who, path, want := sc.next()
				l, err := who.read(path, want)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				all = append(all, l)
				stopNow := first != nil
				mu.Unlock()
				count.Add(1)
				if stopNow {
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	slices.Sort(all)
	return all, nil
}
