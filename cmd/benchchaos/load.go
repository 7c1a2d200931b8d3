package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The simulated gateways with an API, and how the load pays through them:
// a card at VNPAY, an e-wallet at MoMo or at ZaloPay, in turn.
var gateways = []string{"vnpay", "momo", "zalopay"}

type route struct{ method, gateway string }

var routes = []route{{"card", "vnpay"}, {"ewallet", "momo"}, {"ewallet", "zalopay"}}

// payment is what one client knows of one payment it tried: an order
// created with an Idempotency-Key, the attempts it was given, the one it
// paid at the gateway, and when it saw the order paid.
type payment struct {
	key string
	// createNetErr: a create got no answer (and was retried with the same key).
	createNetErr bool
	// orderIDs are the ids 2xx answers gave for the key (more than one is a finding).
	orderIDs []string
	gateway  string // the gateway of the attempt paid
	ref      string // its gateway_ref
	// attemptAt is when the request that started the paid attempt was sent.
	attemptAt time.Time
	// payCalled: the client asked the gateway to pay ref; simStatus is the
	// gateway's answer (or, after the run, its status query).
	payCalled bool
	simStatus string
	doneAt    time.Time // when the client saw the order paid
	gaveUp    string    // why it stopped before paying, if it did
}

func (p *payment) orderID() string {
	if len(p.orderIDs) == 0 {
		return ""
	}
	return p.orderIDs[0]
}

// load is ~N clients paying back to back during one scenario.
type load struct {
	name    string
	runID   string
	api     *api
	sim     *sim
	watch   *paidWatch
	workers int

	stop    atomic.Bool
	giveUp  atomic.Int64 // unix nanos after which retries stop (set at stop)
	seq     atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	pays    []*payment
	started time.Time

	// faultEnd is set when the scenario's fault is over; recovery is the
	// first payment started after it to complete (and per gateway).
	faultEnd  atomic.Int64
	recMu     sync.Mutex
	recovered map[string]time.Time // gateway -> its first completion after faultEnd; "any" for the first of all
}

func (l *load) keyPrefix() string { return "chaos-" + l.runID + "-" + l.name + "-" }

func (l *load) start() {
	l.started = time.Now()
	for range l.workers {
		l.wg.Go(func() {
			ctx := context.Background()
			for !l.stop.Load() {
				n := l.seq.Add(1)
				l.pay(ctx, l.newPayment(strconv.FormatInt(n, 10)), routes[n%int64(len(routes))], orderBody(n))
			}
		})
	}
}

func (l *load) newPayment(suffix string) *payment {
	p := &payment{key: l.keyPrefix() + suffix}
	l.mu.Lock()
	l.pays = append(l.pays, p)
	l.mu.Unlock()
	return p
}

// halt stops new payments; those under way retry until giveUpAfter from
// now, then the call waits for the workers.
func (l *load) halt(giveUpAfter time.Duration) {
	l.giveUp.Store(time.Now().Add(giveUpAfter).UnixNano())
	l.stop.Store(true)
	l.wg.Wait()
}

func (l *load) retrying() bool {
	g := l.giveUp.Load()
	return g == 0 || time.Now().UnixNano() < g
}

func orderBody(n int64) string {
	return `{"lines":[{"service":"STP-LLTP","agency":"STP-HCM","amount":200000},{"service":"CSGT-TAMGIU","agency":"CSGT-HN","amount":` +
		strconv.FormatInt(10000+n%1000*100, 10) + `}],"payer":{"name":"Nguyễn Văn An","email":"an@example.vn"},"description":"Lệ phí"}`
}

// backoff waits before retry number i (0-based): 100 ms, then 250 ms.
func backoff(i int) {
	if i == 0 {
		time.Sleep(100 * time.Millisecond)
		return
	}
	time.Sleep(250 * time.Millisecond)
}

// retryable says whether a client should try again after this answer: any
// 5xx, 409 (a request with the same key in progress) and 429.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusConflict || status == http.StatusTooManyRequests
}

// pay makes one payment: create the order (retried with the same key on
// no answer, 5xx, 409 and 429), start an attempt (retried likewise; a lost
// answer leaves an attempt the client never pays), pay it at the simulated
// gateway, and wait up to 10 s to see the order paid.
func (l *load) pay(ctx context.Context, p *payment, r route, body string) {
	var id string
	for i := 0; ; i++ {
		status, out, err := l.api.post(ctx, routeCreate, "/v1/orders", p.key, body)
		if err != nil {
			p.createNetErr = true
		} else if status == http.StatusCreated || status == http.StatusOK {
			var o struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(out, &o); err != nil || o.ID == "" {
				p.gaveUp = fmt.Sprintf("create answered %d without an id: %.200s", status, out)
				return
			}
			p.orderIDs = append(p.orderIDs, o.ID)
			id = o.ID
			break
		} else if !retryable(status) {
			p.gaveUp = fmt.Sprintf("create answered %d: %.200s", status, out)
			return
		}
		if !l.retrying() {
			p.gaveUp = "create: gave up retrying"
			return
		}
		backoff(i)
	}
	l.payOrder(ctx, p, id, r)
}

// payOrder starts an attempt on order id, pays it at the gateway and waits
// for the order to be paid.
func (l *load) payOrder(ctx context.Context, p *payment, id string, r route) {
	var a struct {
		Gateway     string `json:"gateway"`
		GatewayRef  string `json:"gateway_ref"`
		RedirectURL string `json:"redirect_url"`
	}
	for i := 0; ; i++ {
		at := time.Now()
		status, out, err := l.api.post(ctx, routeAttempt, "/v1/orders/"+id+"/attempts", "",
			fmt.Sprintf(`{"method":%q,"gateway":%q}`, r.method, r.gateway))
		if err == nil && status == http.StatusCreated {
			if err := json.Unmarshal(out, &a); err != nil || a.GatewayRef == "" {
				p.gaveUp = fmt.Sprintf("attempt answered 201 without a gateway_ref: %.200s", out)
				return
			}
			p.attemptAt = at
			break
		}
		if err == nil && !retryable(status) {
			p.gaveUp = fmt.Sprintf("attempt answered %d: %.200s", status, out)
			return
		}
		if !l.retrying() {
			p.gaveUp = "attempt: gave up retrying"
			return
		}
		backoff(i)
	}
	p.gateway, p.ref, p.payCalled = a.Gateway, a.GatewayRef, true
	for i := 0; ; i++ {
		var res struct {
			Transaction struct {
				Status string `json:"status"`
			} `json:"transaction"`
		}
		status, err := l.sim.call(ctx, http.MethodPost, "/admin/pay",
			map[string]string{"gateway": a.Gateway, "pay_url": a.RedirectURL, "outcome": "success"}, &res)
		if err == nil {
			p.simStatus = res.Transaction.Status
			break
		}
		if status != 0 { // the simulator refused (already paid, window closed): its status query will tell
			break
		}
		if !l.retrying() {
			break
		}
		backoff(i)
	}
	if at, ok := l.watch.wait(id, 10*time.Second); ok {
		p.doneAt = at
		l.completed(p)
	}
}

// completed notes recovery: the first payment started after the fault's
// end to complete, overall and per gateway.
func (l *load) completed(p *payment) {
	end := l.faultEnd.Load()
	if end == 0 || p.attemptAt.UnixNano() < end {
		return
	}
	l.recMu.Lock()
	defer l.recMu.Unlock()
	if l.recovered == nil {
		l.recovered = map[string]time.Time{}
	}
	for _, k := range []string{"any", p.gateway} {
		if t, ok := l.recovered[k]; !ok || p.doneAt.Before(t) {
			l.recovered[k] = p.doneAt
		}
	}
}

// recovery returns from the fault's end to the first completed payment
// started after it, and to the slowest gateway's first; -1 when none
// completed.
func (l *load) recovery() (first, allGateways time.Duration, perGateway map[string]time.Duration) {
	end := time.Unix(0, l.faultEnd.Load())
	l.recMu.Lock()
	defer l.recMu.Unlock()
	at := func(k string) time.Duration {
		t, ok := l.recovered[k]
		if !ok {
			return -1
		}
		return t.Sub(end)
	}
	first, perGateway = at("any"), map[string]time.Duration{}
	for _, g := range gateways {
		d := at(g)
		perGateway[g] = d
		if d < 0 || allGateways < 0 {
			allGateways = -1
		} else {
			allGateways = max(allGateways, d)
		}
	}
	return first, allGateways, perGateway
}

// recoveredAll reports whether every gateway has completed a payment
// started after the fault's end.
func (l *load) recoveredAll() bool {
	_, all, _ := l.recovery()
	return all >= 0
}

func (l *load) payments() []*payment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*payment(nil), l.pays...)
}

// paidWatch sees orders become paid: one query every 50 ms for all the
// orders clients wait on, on the harness's own connections.
type paidWatch struct {
	pool    *pgxpool.Pool
	mu      sync.Mutex
	waiting map[string][]chan time.Time
	stop    chan struct{}
}

func newPaidWatch(pool *pgxpool.Pool) *paidWatch {
	w := &paidWatch{pool: pool, waiting: map[string][]chan time.Time{}, stop: make(chan struct{})}
	go w.loop()
	return w
}

func (w *paidWatch) close() { close(w.stop) }

// wait returns when the order is seen paid (and when), or false after d.
func (w *paidWatch) wait(id string, d time.Duration) (time.Time, bool) {
	ch := make(chan time.Time, 1)
	w.mu.Lock()
	w.waiting[id] = append(w.waiting[id], ch)
	w.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case at := <-ch:
		return at, true
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	chans := slices.DeleteFunc(w.waiting[id], func(c chan time.Time) bool { return c == ch })
	if len(chans) == 0 {
		delete(w.waiting, id)
	} else {
		w.waiting[id] = chans
	}
	select { // seen paid while giving up
	case at := <-ch:
		return at, true
	default:
		return time.Time{}, false
	}
}

func (w *paidWatch) loop() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.waiting))
		for id := range w.waiting {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rows, err := w.pool.Query(ctx, `SELECT id::text FROM orders WHERE id = ANY($1::uuid[])
			AND status IN ('paid', 'partially_refunded', 'refunded')`, ids)
		var paid []string
		if err == nil {
			for rows.Next() {
				var id string
				if rows.Scan(&id) == nil {
					paid = append(paid, id)
				}
			}
			rows.Close()
		}
		cancel()
		now := time.Now()
		w.mu.Lock()
		for _, id := range paid {
			for _, ch := range w.waiting[id] {
				ch <- now
			}
			delete(w.waiting, id)
		}
		w.mu.Unlock()
	}
}
