package gateways_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/shopspring/decimal"
	"github.com/sony/gobreaker/v2"
)

// fake is a gateway whose calls return err. The router's probe loop calls
// it from its own goroutine, hence the lock.
type fake struct {
	name    string
	methods []gateways.Method
	offline bool

	mu    sync.Mutex
	err   error // every call's answer
	calls int
}

func (f *fake) Name() string                             { return f.name }
func (f *fake) Methods() []gateways.Method               { return f.methods }
func (f *fake) CreatesOffline() bool                     { return f.offline }
func (f *fake) Reply(gateways.Ack) (int, string, []byte) { return http.StatusOK, "", nil }
func (f *fake) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrBadSignature
}

func (f *fake) call() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func (f *fake) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fake) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fake) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	return gateways.CreateResult{GatewayRef: f.name}, f.call()
}

func (f *fake) Query(context.Context, gateways.QueryRequest) (gateways.Result, error) {
	return gateways.Result{Status: gateways.StatusFailed}, f.call()
}

func (f *fake) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{}, f.call()
}

// prober is a fake that implements gateways.Prober: a probe answers with
// probeErr and is reported on probed.
type prober struct {
	*fake
	probeMu  sync.Mutex
	probeErr error
	probes   int
}

func (p *prober) Probe(context.Context) error {
	p.probeMu.Lock()
	defer p.probeMu.Unlock()
	p.probes++
	return p.probeErr
}

func (p *prober) setProbe(err error) {
	p.probeMu.Lock()
	p.probeErr = err
	p.probeMu.Unlock()
}

func (p *prober) probeCount() int {
	p.probeMu.Lock()
	defer p.probeMu.Unlock()
	return p.probes
}

var errDown = &gateways.TechnicalError{Op: "fake: call", Err: errors.New("http status 503")}

const ewallet = gateways.MethodEwallet

// fakeClock is a gateways.Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	changed chan struct{} // a nudge whenever timers change
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), changed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.nudge()
	return ch
}

func (c *fakeClock) nudge() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Advance moves the clock and fires the timers due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		t.ch <- c.now
		return true
	})
	c.nudge()
}

func (c *fakeClock) timerCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// waitFor blocks until cond holds, re-checking whenever a timer is set. The
// deadline only keeps a broken router from hanging the test run.
func (c *fakeClock) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	hang := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-c.changed:
		case <-time.After(time.Millisecond): // cond may also wait on the gateway's own counters
		case <-hang:
			t.Fatalf("still waiting for %s", what)
		}
	}
}

type transitions struct {
	mu   sync.Mutex
	seen []string
}

func (tr *transitions) record(name string, b gateways.Breaker, from, to gobreaker.State) {
	tr.mu.Lock()
	tr.seen = append(tr.seen, fmt.Sprintf("%s/%s:%s->%s", name, b, from, to))
	tr.mu.Unlock()
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.seen)
}

// breaker is s with the service's default (internal/app/config's) in each
// field s leaves zero where zero is refused; a FailureRatio of 0 stays off.
func breaker(s gateways.BreakerSettings) gateways.BreakerSettings {
	d := config.Defaults("").BreakerSettings()
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = d.ConsecutiveFailures
	}
	if s.MinRequests == 0 {
		s.MinRequests = d.MinRequests
	}
	if s.Window == 0 {
		s.Window = d.Window
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = d.OpenTimeout
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = d.HalfOpenRequests
	}
	if s.ProbeInterval == 0 {
		s.ProbeInterval = d.ProbeInterval
	}
	if s.ProbeTimeout == 0 {
		s.ProbeTimeout = d.ProbeTimeout
	}
	return s
}

// newRouter is a router of gws with cfg's breaker settings completed by breaker.
func newRouter(t *testing.T, cfg gateways.RouterConfig, gws ...gateways.Gateway) *gateways.Router {
	t.Helper()
	cfg.Breaker = breaker(cfg.Breaker)
	r, err := gateways.NewRouter(cfg, gws...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func stat(r *gateways.Router, name string) gateways.BreakerStat {
	for _, s := range r.Stats() {
		if s.Name == name {
			return s
		}
	}
	return gateways.BreakerStat{}
}

// createCounts is the create breaker's part of s.
func createCounts(s gateways.BreakerStat) gateways.BreakerCounts {
	return gateways.BreakerCounts{State: s.State, Requests: s.Requests, TotalSuccesses: s.TotalSuccesses,
		TotalFailures: s.TotalFailures, TotalExclusions: s.TotalExclusions,
		ConsecutiveSuccesses: s.ConsecutiveSuccesses, ConsecutiveFailures: s.ConsecutiveFailures}
}

// states is "create/query" of the gateway's two breakers.
func states(r *gateways.Router, name string) string {
	s := stat(r, name)
	return s.State + "/" + s.Query.State
}

func get(t *testing.T, r *gateways.Router, name string) gateways.Gateway {
	t.Helper()
	g, err := r.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func query(t *testing.T, r *gateways.Router, name string) error {
	t.Helper()
	_, err := get(t, r, name).Query(context.Background(), gateways.QueryRequest{GatewayRef: "AT1", CreatedAt: time.Now()})
	return err
}

func create(t *testing.T, r *gateways.Router, name string) error {
	t.Helper()
	_, err := get(t, r, name).Create(context.Background(), gateways.CreateRequest{AttemptRef: "AT1"})
	return err
}

func pick(t *testing.T, r *gateways.Router, m gateways.Method, preferred string) string {
	t.Helper()
	g, err := r.Pick(m, preferred)
	if err != nil {
		return "error: " + err.Error()
	}
	return g.Name()
}

func TestPick(t *testing.T) {
	t.Parallel()
	vnpay := &fake{name: "vnpay", methods: []gateways.Method{gateways.MethodCard, gateways.MethodQR}}
	mm := &fake{name: "momo", methods: []gateways.Method{ewallet}}
	zp := &fake{name: "zalopay", methods: []gateways.Method{ewallet, gateways.MethodCard}}
	r := newRouter(t, gateways.RouterConfig{Preferences: map[gateways.Method][]string{ewallet: {"zalopay", "momo"}}}, vnpay, mm, zp)
	tests := []struct {
		method    gateways.Method
		preferred string
		want      string
	}{
		{ewallet, "", "zalopay"},           // preference order
		{ewallet, "momo", "momo"},          // the citizen's choice first
		{ewallet, "vnpay", "zalopay"},      // a preference that does not support the method is ignored
		{ewallet, "nosuch", "zalopay"},     // so is an unknown one
		{gateways.MethodCard, "", "vnpay"}, // no preference list: registration order
		{gateways.MethodCard, "zalopay", "zalopay"},
	}
	for _, tt := range tests {
		if got := pick(t, r, tt.method, tt.preferred); got != tt.want {
			t.Errorf("Pick(%s, %q) = %s, want %s", tt.method, tt.preferred, got, tt.want)
		}
	}
	if _, err := r.Pick(gateways.MethodBankTransfer, ""); !errors.Is(err, gateways.ErrUnsupported) {
		t.Errorf("Pick(bank_transfer) error = %v, want ErrUnsupported", err)
	}
	if _, err := r.Get("nosuch"); !errors.Is(err, gateways.ErrUnknownGateway) {
		t.Errorf("Get(nosuch) error = %v, want ErrUnknownGateway", err)
	}
}

func TestNewRouterRefuses(t *testing.T) {
	t.Parallel()
	a := &fake{name: "a", methods: []gateways.Method{ewallet}}
	tests := []struct {
		name  string
		gws   []gateways.Gateway
		prefs map[gateways.Method][]string
	}{
		{"duplicate name", []gateways.Gateway{a, &fake{name: "a"}}, nil},
		{"unknown preference", []gateways.Gateway{a}, map[gateways.Method][]string{ewallet: {"b"}}},
		{"preference without the method", []gateways.Gateway{a}, map[gateways.Method][]string{gateways.MethodCard: {"a"}}},
	}
	for _, tt := range tests {
		if _, err := gateways.NewRouter(gateways.RouterConfig{Breaker: breaker(gateways.BreakerSettings{}), Preferences: tt.prefs}, tt.gws...); err == nil {
			t.Errorf("%s: NewRouter succeeded", tt.name)
		}
	}
}

// newWallets returns MoMo and ZaloPay adapters talking to servers that answer
// with status (and a MoMo query answer, a decline, for 200).
func newWallets(t *testing.T, momoStatus, zaloStatus int) (*momo.Adapter, *zalopay.Adapter) {
	t.Helper()
	serve := func(status int) string {
		return gwtest.Server(t, func(w http.ResponseWriter, r *http.Request) {
			if status != http.StatusOK {
				w.WriteHeader(status)
				return
			}
			// A MoMo answer, signed for the adapter below; ZaloPay's reads its amount.
			var q momo.QueryBody
			_ = json.NewDecoder(r.Body).Decode(&q)
			ans := momo.QueryResponse{PartnerCode: "P", RequestID: q.RequestID, OrderID: "AT1", Amount: 150000,
				ResultCode: 1006, Message: "Denied by user."}
			ans.Signature = momo.Signature("S", ans.SignatureFields("A")...)
			gwtest.WriteJSON(w, ans)
		}).URL
	}
	m, err := momo.New(momo.Config{BaseURL: serve(momoStatus), PartnerCode: "P", AccessKey: "A", SecretKey: "S", Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zalopay.New(zalopay.Config{BaseURL: serve(zaloStatus), AppID: 1, Key1: "k1", Key2: "k2", Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, z
}

func createWallet(t *testing.T, r *gateways.Router, name string) error {
	t.Helper()
	_, err := get(t, r, name).Create(context.Background(), gateways.CreateRequest{AttemptRef: "AT1", PaymentRef: "RF1",
		Amount: decimal.NewFromInt(150000), Currency: "VND", Method: ewallet, ReturnURL: "https://civicpay.example/r",
		CallbackURL: "https://civicpay.example/c", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(15 * time.Minute)})
	return err
}

// TestStormOpensBreakerAndFailsOver: real adapters against servers answering
// 503. Failed creates open MoMo's create breaker, and Pick fails over to
// ZaloPay; with both open, no e-wallet gateway is left.
func TestStormOpensBreakerAndFailsOver(t *testing.T) {
	t.Parallel()
	m, z := newWallets(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 3},
		Preferences: map[gateways.Method][]string{ewallet: {"momo", "zalopay"}}, Clock: newFakeClock()}, m, z)

	for i := range 3 {
		if err := createWallet(t, r, "momo"); !gateways.IsTechnical(err) {
			t.Fatalf("create %d: error = %v, want a technical error", i, err)
		}
	}
	err := createWallet(t, r, "momo")
	if !errors.Is(err, gobreaker.ErrOpenState) || !errors.Is(err, gateways.ErrOpen) || !gateways.IsUnavailable(err) || gateways.IsTechnical(err) {
		t.Fatalf("create with the breaker open: error = %v, want ErrOpenState", err)
	}
	if got := states(r, "momo"); got != "open/closed" {
		t.Errorf("momo breakers = %s, want open/closed", got)
	}
	if got := pick(t, r, ewallet, "momo"); got != "zalopay" {
		t.Errorf("Pick(ewallet, momo) = %s, want the fail-over to zalopay", got)
	}

	for range 3 {
		_ = createWallet(t, r, "zalopay")
	}
	if _, err := r.Pick(ewallet, ""); !errors.Is(err, gateways.ErrNoGateway) {
		t.Errorf("Pick with every e-wallet open: error = %v, want ErrNoGateway", err)
	}
}

// TestStatusQueryFailuresLeaveCreateBreaker: failing status queries (the
// jobs following pending attempts) open the query breaker only. The gateway
// is still picked and its creates still go out; its queries are refused
// until it answers again. Failing creates, likewise, leave queries alone.
func TestStatusQueryFailuresLeaveCreateBreaker(t *testing.T) {
	t.Parallel()
	f := &fake{name: "vnpay", methods: []gateways.Method{gateways.MethodCard}, err: errDown}
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2}, Clock: newFakeClock()}, f)
	for range 2 {
		if err := query(t, r, "vnpay"); !gateways.IsTechnical(err) {
			t.Fatalf("query: %v, want the technical failure", err)
		}
	}
	if got := states(r, "vnpay"); got != "closed/open" {
		t.Fatalf("after 2 failed queries: breakers %s, want closed/open", got)
	}
	if got := pick(t, r, gateways.MethodCard, ""); got != "vnpay" {
		t.Errorf("Pick(card) = %s, want vnpay: status queries say nothing of new payments", got)
	}
	f.set(nil)
	if err := create(t, r, "vnpay"); err != nil {
		t.Errorf("create with the query breaker open: %v", err)
	}
	calls := f.callCount()
	if err := query(t, r, "vnpay"); !errors.Is(err, gateways.ErrOpen) || f.callCount() != calls {
		t.Errorf("query with the query breaker open: %v (calls %d → %d), want refused without a call", err, calls, f.callCount())
	}

	g := &fake{name: "momo", methods: []gateways.Method{ewallet}, err: errDown}
	r = newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2}, Clock: newFakeClock()}, g)
	_, _ = create(t, r, "momo"), create(t, r, "momo")
	g.set(nil)
	if got, err := states(r, "momo"), query(t, r, "momo"); got != "open/closed" || err != nil {
		t.Errorf("after 2 failed creates: breakers %s, query %v; want open/closed and the query made", got, err)
	}
}

// TestDeclinesDoNotOpenBreaker: a declined payment is the gateway working.
// MoMo answering a status query with 1006 (denied by the user), five times,
// counts five successes.
func TestDeclinesDoNotOpenBreaker(t *testing.T) {
	t.Parallel()
	m, _ := newWallets(t, http.StatusOK, http.StatusOK)
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2}, Clock: newFakeClock()}, m)
	g := get(t, r, "momo")
	for i := range 5 {
		res, err := g.Query(context.Background(), gateways.QueryRequest{GatewayRef: "AT1"})
		if err != nil || res.Status != gateways.StatusFailed || res.Code != "1006" {
			t.Fatalf("query %d = %+v, %v; want a 1006 decline", i, res, err)
		}
	}
	want := gateways.BreakerCounts{State: "closed", Requests: 5, TotalSuccesses: 5, ConsecutiveSuccesses: 5}
	if s := stat(r, "momo"); s.Query != want || s.State != "closed" || s.Requests != 0 {
		t.Errorf("stats = %+v, want query %+v and an untouched create breaker", s, want)
	}
}

// TestOnlyTechnicalErrorsCount: in both breakers, only a TechnicalError is a
// failure. A refusal by the gateway (a declined or refused payment, a bad
// signature, an unreadable answer) is the gateway answering; the caller giving
// up or a request never sent counts for nothing.
func TestOnlyTechnicalErrorsCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		err                       error
		successes, fails, exclude uint32
	}{
		{"bad signature", fmt.Errorf("vnpay: querydr: %w", gateways.ErrBadSignature), 4, 0, 0},
		{"rejected (a declined create)", fmt.Errorf("zalopay: create: return_code 2: %w", gateways.ErrRejected), 4, 0, 0},
		{"malformed answer", fmt.Errorf("momo: query: %w", gateways.ErrMalformed), 4, 0, 0},
		{"caller cancelled", fmt.Errorf("momo: query: %w", context.Canceled), 0, 0, 4},
		{"invalid request", fmt.Errorf("momo: refund: %w", gateways.ErrInvalidRequest), 0, 0, 4},
		{"timeout", &gateways.TechnicalError{Op: "momo: query", Err: context.DeadlineExceeded}, 0, 4, 0},
	}
	for _, tt := range tests {
		for _, kind := range []gateways.Breaker{gateways.BreakerCreate, gateways.BreakerQuery} {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				t.Parallel()
				f := &fake{name: "f", methods: []gateways.Method{ewallet}, err: tt.err}
				r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 10}, Clock: newFakeClock()}, f)
				call := query
				if kind == gateways.BreakerCreate {
					call = create
				}
				for range 4 {
					if err := call(t, r, "f"); !errors.Is(err, tt.err) {
						t.Fatalf("error = %v, want %v passed through", err, tt.err)
					}
				}
				s := stat(r, "f")
				mine, other := s.Query, createCounts(s)
				if kind == gateways.BreakerCreate {
					mine, other = other, mine
				}
				if mine.State != "closed" || mine.TotalSuccesses != tt.successes || mine.TotalFailures != tt.fails || mine.TotalExclusions != tt.exclude {
					t.Errorf("%s breaker = %+v, want %d successes, %d failures, %d exclusions", kind, mine, tt.successes, tt.fails, tt.exclude)
				}
				if other.Requests != 0 {
					t.Errorf("the other breaker counted them: %+v", s)
				}
			})
		}
	}
}

func TestFailureRatio(t *testing.T) {
	t.Parallel()
	f := &fake{name: "f", methods: []gateways.Method{ewallet}}
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4},
		Clock: newFakeClock()}, f)
	for i, fail := range []bool{true, false, true, false} {
		f.set(nil)
		if fail {
			f.set(errDown)
		}
		_ = create(t, r, "f")
		if s := stat(r, "f"); s.State != "closed" {
			t.Fatalf("after call %d: %+v, want closed below the minimum sample or on a success", i, s)
		}
	}
	f.set(errDown)
	_ = create(t, r, "f") // 3 failures of 5
	if s := stat(r, "f"); s.State != "open" {
		t.Errorf("after 3 failures in 5: %+v, want open", s)
	}
}

// trip opens f's create breaker (ConsecutiveFailures 2) and leaves f succeeding.
func trip(t *testing.T, r *gateways.Router, f *fake) {
	t.Helper()
	f.set(errDown)
	_ = create(t, r, f.name)
	_ = create(t, r, f.name)
	f.set(nil)
	if s := stat(r, f.name); s.State != "open" {
		t.Fatalf("breaker %+v, want open", s)
	}
}

// TestOpenTimeoutOnTheClock: without a probe, an open breaker waits
// OpenTimeout on the router's clock, then lets one trial through half-open;
// a successful trial closes it, a failed one opens it again for another
// OpenTimeout.
func TestOpenTimeoutOnTheClock(t *testing.T) {
	t.Parallel()
	const openFor = 30 * time.Second
	clock := newFakeClock()
	primary := &fake{name: "primary", methods: []gateways.Method{ewallet}}
	backup := &fake{name: "backup", methods: []gateways.Method{ewallet}}
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor}, Clock: clock},
		primary, backup)

	trip(t, r, primary)
	if got := pick(t, r, ewallet, ""); got != "backup" {
		t.Fatalf("Pick while open = %s, want backup", got)
	}
	calls := primary.callCount()
	if err := create(t, r, "primary"); !errors.Is(err, gobreaker.ErrOpenState) || primary.callCount() != calls {
		t.Fatalf("open breaker let a call through: %v", err)
	}

	clock.Advance(openFor - time.Nanosecond)
	if s := stat(r, "primary"); s.State != "open" {
		t.Fatalf("a nanosecond before the open timeout: %+v, want open", s)
	}
	clock.Advance(time.Nanosecond)
	if s := stat(r, "primary"); s.State != "half-open" {
		t.Fatalf("at the open timeout: %+v, want half-open", s)
	}
	if got := pick(t, r, ewallet, ""); got != "primary" {
		t.Errorf("Pick while half-open = %s, want primary (trial)", got)
	}
	if err := create(t, r, "primary"); err != nil {
		t.Fatal(err)
	}
	if s := stat(r, "primary"); s.State != "closed" {
		t.Errorf("after a successful trial: %+v, want closed", s)
	}

	// A failed trial opens it again, for a whole OpenTimeout.
	trip(t, r, primary)
	clock.Advance(openFor)
	primary.set(errDown)
	_ = create(t, r, "primary")
	if s := stat(r, "primary"); s.State != "open" {
		t.Errorf("after a failed trial: %+v, want open", s)
	}
	clock.Advance(openFor - time.Nanosecond)
	if s := stat(r, "primary"); s.State != "open" {
		t.Errorf("before the second open timeout: %+v, want open", s)
	}
}

// TestProbeClosesBreaker: while a breaker is open, the gateway is probed
// every ProbeInterval; probes that fail change nothing, and the first probe
// the gateway answers closes both breakers at once — long before
// OpenTimeout. Then the probing stops.
func TestProbeClosesBreaker(t *testing.T) {
	t.Parallel()
	const every = 500 * time.Millisecond
	clock := newFakeClock()
	var tr transitions
	p := &prober{fake: &fake{name: "momo", methods: []gateways.Method{ewallet}}, probeErr: errDown}
	r := newRouter(t, gateways.RouterConfig{Clock: clock, OnStateChange: tr.record,
		Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour, ProbeInterval: every}}, p)

	trip(t, r, p.fake)
	p.set(errDown)
	_, _ = query(t, r, "momo"), query(t, r, "momo")
	if got := states(r, "momo"); got != "open/open" {
		t.Fatalf("breakers %s, want open/open", got)
	}
	clock.waitFor(t, "the probe loop to wait", func() bool { return clock.timerCount() == 1 })
	for i := 1; i <= 3; i++ { // the gateway is still down
		clock.Advance(every)
		clock.waitFor(t, fmt.Sprintf("probe %d to be done", i), func() bool { return p.probeCount() == i && clock.timerCount() == 1 })
		if got := states(r, "momo"); got != "open/open" {
			t.Fatalf("after failed probe %d: breakers %s, want open/open", i, got)
		}
	}
	p.setProbe(fmt.Errorf("momo: query: resultCode 13: %w", gateways.ErrRejected)) // an answer, if not a happy one
	p.set(nil)
	clock.Advance(every)
	clock.waitFor(t, "the answered probe to close the breakers", func() bool { return states(r, "momo") == "closed/closed" })
	if err := create(t, r, "momo"); err != nil {
		t.Errorf("create after the probe: %v", err)
	}
	want := []string{"momo/create:closed->open", "momo/query:closed->open", "momo/create:open->closed", "momo/query:open->closed"}
	if got := tr.list(); !slices.Equal(got, want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
	// One more tick finds nothing open and ends the loop.
	clock.waitFor(t, "the probe loop's next wait", func() bool { return clock.timerCount() == 1 })
	clock.Advance(every)
	clock.waitFor(t, "the probe loop to end", func() bool { return clock.timerCount() == 0 })
	if n := p.probeCount(); n != 4 {
		t.Errorf("%d probes, want 4: none once closed", n)
	}
}

// TestProbeTimeoutIsNoAnswer: a probe the caller gave up on (its own
// deadline) or that could not be sent is not an answer; and failed probes
// do not hold a breaker open past OpenTimeout.
func TestProbeTimeoutIsNoAnswer(t *testing.T) {
	t.Parallel()
	const every, openFor = time.Second, 5 * time.Second
	clock := newFakeClock()
	p := &prober{fake: &fake{name: "zalopay", methods: []gateways.Method{ewallet}}}
	r := newRouter(t, gateways.RouterConfig{Clock: clock,
		Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor, ProbeInterval: every}}, p)
	trip(t, r, p.fake)
	for i, err := range []error{context.DeadlineExceeded, fmt.Errorf("x: %w", gateways.ErrInvalidRequest), errDown, errDown} {
		p.setProbe(err)
		clock.waitFor(t, "the probe loop to wait", func() bool { return clock.timerCount() == 1 })
		clock.Advance(every)
		clock.waitFor(t, "the probe", func() bool { return p.probeCount() == i+1 })
		clock.waitFor(t, "the probe loop to wait", func() bool { return clock.timerCount() == 1 })
		if s := stat(r, "zalopay"); s.State != "open" {
			t.Fatalf("after a probe answering %v: %+v, want still open", err, s)
		}
	}
	clock.Advance(openFor - 4*every)
	if s := stat(r, "zalopay"); s.State != "half-open" {
		t.Errorf("at the open timeout, probes failing: %+v, want half-open", s)
	}
}

// TestOfflineCreate: a Create that makes no call (VNPAY, VietQR) is neither
// counted nor refused, even while the gateway's status queries fail.
func TestOfflineCreate(t *testing.T) {
	t.Parallel()
	f := &fake{name: "vnpay", methods: []gateways.Method{gateways.MethodQR}, offline: true}
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2}, Clock: newFakeClock()}, f)
	if err := create(t, r, "vnpay"); err != nil || stat(r, "vnpay").Requests != 0 {
		t.Fatalf("offline Create: %v, stats %+v; want success, not counted", err, stat(r, "vnpay"))
	}
	f.set(errDown)
	_, _ = query(t, r, "vnpay"), query(t, r, "vnpay")
	f.set(nil)
	if err := create(t, r, "vnpay"); err != nil || states(r, "vnpay") != "closed/open" || pick(t, r, gateways.MethodQR, "") != "vnpay" {
		t.Errorf("offline Create with the query breaker open: %v, breakers %s; want success, closed/open", err, states(r, "vnpay"))
	}
}

type refundQuerier struct{ *fake }

func (q refundQuerier) QueryRefund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{Status: gateways.StatusSucceeded}, nil
}

func TestQueryRefund(t *testing.T) {
	t.Parallel()
	plain := &fake{name: "plain", methods: []gateways.Method{ewallet}}
	rq := refundQuerier{&fake{name: "rq", methods: []gateways.Method{ewallet}}}
	r := newRouter(t, gateways.RouterConfig{Clock: newFakeClock()}, plain, rq)
	for name, want := range map[string]error{"plain": gateways.ErrUnsupported, "rq": nil} {
		_, err := get(t, r, name).(gateways.RefundQuerier).QueryRefund(context.Background(), gateways.RefundRequest{})
		if !errors.Is(err, want) {
			t.Errorf("%s: QueryRefund error = %v, want %v", name, err, want)
		}
	}
	if s := stat(r, "rq"); s.Query.TotalSuccesses != 1 || s.Requests != 0 {
		t.Errorf("QueryRefund did not run through the query breaker: %+v", s)
	}
	if _, err := get(t, r, "plain").Refund(context.Background(), gateways.RefundRequest{}); err != nil || stat(r, "plain").Query.TotalSuccesses != 1 {
		t.Errorf("Refund: %v, %+v; want it counted by the query breaker", err, stat(r, "plain"))
	}
}

func TestStatsOrderAndTransitions(t *testing.T) {
	t.Parallel()
	var tr transitions
	a := &fake{name: "a", methods: []gateways.Method{ewallet}}
	b := &fake{name: "b", methods: []gateways.Method{gateways.MethodQR}}
	r := newRouter(t, gateways.RouterConfig{Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2},
		OnStateChange: tr.record, Clock: newFakeClock()}, a, b)
	trip(t, r, a)
	var names []string
	for _, s := range r.Stats() {
		names = append(names, s.Name+"="+s.State+"/"+s.Query.State)
	}
	if want := []string{"a=open/closed", "b=closed/closed"}; !slices.Equal(names, want) || !slices.Equal(tr.list(), []string{"a/create:closed->open"}) {
		t.Errorf("stats %v, transitions %v", names, tr.list())
	}
}
