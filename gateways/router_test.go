package gateways_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/gwtest"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/sony/gobreaker/v2"
)

// fake is a gateway whose calls return err. Tests call it from one goroutine.
type fake struct {
	name    string
	methods []gateways.Method
	err     error
	offline bool
	calls   int
}

func (f *fake) Name() string                             { return f.name }
func (f *fake) Methods() []gateways.Method               { return f.methods }
func (f *fake) CreatesOffline() bool                     { return f.offline }
func (f *fake) Reply(gateways.Ack) (int, string, []byte) { return http.StatusOK, "", nil }
func (f *fake) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrBadSignature
}

func (f *fake) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	f.calls++
	return gateways.CreateResult{GatewayRef: f.name}, f.err
}

func (f *fake) Query(context.Context, gateways.QueryRequest) (gateways.Result, error) {
	f.calls++
	return gateways.Result{Status: gateways.StatusFailed}, f.err
}

func (f *fake) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	f.calls++
	return gateways.RefundResult{}, f.err
}

var errDown = &gateways.TechnicalError{Op: "fake: query", Err: errors.New("http status 503")}

const ewallet = gateways.MethodEwallet

func breakerOf(r *gateways.Router, name string) gateways.BreakerStat {
	for _, s := range r.Stats() {
		if s.Name == name {
			return s
		}
	}
	return gateways.BreakerStat{}
}

func newRouter(t *testing.T, s gateways.BreakerSettings, prefs map[gateways.Method][]string, gws ...gateways.Gateway) *gateways.Router {
	t.Helper()
	r, err := gateways.NewRouter(gateways.RouterConfig{Breaker: s, Preferences: prefs}, gws...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func query(t *testing.T, r *gateways.Router, name string) error {
	t.Helper()
	g, err := r.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Query(context.Background(), gateways.QueryRequest{GatewayRef: "AT1"})
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
	r := newRouter(t, gateways.BreakerSettings{}, map[gateways.Method][]string{ewallet: {"zalopay", "momo"}}, vnpay, mm, zp)
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
		if _, err := gateways.NewRouter(gateways.RouterConfig{Preferences: tt.prefs}, tt.gws...); err == nil {
			t.Errorf("%s: NewRouter succeeded", tt.name)
		}
	}
}

// newWallets returns MoMo and ZaloPay adapters talking to servers that answer
// with status (and a MoMo answer for 200).
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

func TestStormOpensBreakerAndFailsOver(t *testing.T) {
	t.Parallel()
	m, z := newWallets(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 3}, map[gateways.Method][]string{ewallet: {"momo", "zalopay"}}, m, z)

	for i := range 3 {
		if err := query(t, r, "momo"); !gateways.IsTechnical(err) {
			t.Fatalf("query %d: error = %v, want a technical error", i, err)
		}
	}
	err := query(t, r, "momo")
	if !errors.Is(err, gobreaker.ErrOpenState) || !errors.Is(err, gateways.ErrOpen) || !gateways.IsUnavailable(err) || gateways.IsTechnical(err) {
		t.Fatalf("query with the breaker open: error = %v, want ErrOpenState", err)
	}
	if s := breakerOf(r, "momo"); s.State != "open" {
		t.Errorf("momo breaker = %+v, want open", s)
	}
	if got := pick(t, r, ewallet, "momo"); got != "zalopay" {
		t.Errorf("Pick(ewallet, momo) = %s, want the fail-over to zalopay", got)
	}

	for range 3 {
		_ = query(t, r, "zalopay")
	}
	if _, err := r.Pick(ewallet, ""); !errors.Is(err, gateways.ErrNoGateway) {
		t.Errorf("Pick with every e-wallet open: error = %v, want ErrNoGateway", err)
	}
}

func TestDeclinesDoNotOpenBreaker(t *testing.T) {
	t.Parallel()
	m, _ := newWallets(t, http.StatusOK, http.StatusOK)
	r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 2}, nil, m)
	g, _ := r.Get("momo")
	for i := range 5 {
		res, err := g.Query(context.Background(), gateways.QueryRequest{GatewayRef: "AT1"})
		if err != nil || res.Status != gateways.StatusFailed || res.Code != "1006" {
			t.Fatalf("query %d = %+v, %v; want a 1006 decline", i, res, err)
		}
	}
	want := gateways.BreakerStat{Name: "momo", State: "closed", Methods: []gateways.Method{ewallet}, Requests: 5, TotalSuccesses: 5, ConsecutiveSuccesses: 5}
	if s := breakerOf(r, "momo"); fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("stats = %+v, want %+v", s, want)
	}
}

func TestOnlyTechnicalErrorsCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		err                       error
		successes, fails, exclude uint32
	}{
		{"bad signature", fmt.Errorf("vnpay: querydr: %w", gateways.ErrBadSignature), 4, 0, 0},
		{"rejected", fmt.Errorf("momo: query: %w", gateways.ErrRejected), 4, 0, 0},
		{"malformed answer", fmt.Errorf("momo: query: %w", gateways.ErrMalformed), 4, 0, 0},
		{"caller cancelled", fmt.Errorf("momo: query: %w", context.Canceled), 0, 0, 4},
		{"invalid request", fmt.Errorf("momo: refund: %w", gateways.ErrInvalidRequest), 0, 0, 4},
		{"timeout", &gateways.TechnicalError{Op: "momo: query", Err: context.DeadlineExceeded}, 0, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fake{name: "f", methods: []gateways.Method{ewallet}, err: tt.err}
			r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 10}, nil, f)
			for range 4 {
				if err := query(t, r, "f"); !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v passed through", err, tt.err)
				}
			}
			s := breakerOf(r, "f")
			if s.State != "closed" || s.TotalSuccesses != tt.successes || s.TotalFailures != tt.fails || s.TotalExclusions != tt.exclude {
				t.Errorf("stats = %+v, want %d successes, %d failures, %d exclusions", s, tt.successes, tt.fails, tt.exclude)
			}
		})
	}
}

func TestFailureRatio(t *testing.T) {
	t.Parallel()
	f := &fake{name: "f", methods: []gateways.Method{ewallet}}
	r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 4}, nil, f)
	for i, fail := range []bool{true, false, true, false} {
		f.err = nil
		if fail {
			f.err = errDown
		}
		_ = query(t, r, "f")
		if s := breakerOf(r, "f"); s.State != "closed" {
			t.Fatalf("after call %d: %+v, want closed below the minimum sample or on a success", i, s)
		}
	}
	f.err = errDown
	_ = query(t, r, "f") // 3 failures of 5
	if s := breakerOf(r, "f"); s.State != "open" {
		t.Errorf("after 3 failures in 5: %+v, want open", s)
	}
}

// trip opens f's breaker (ConsecutiveFailures 2) and leaves f succeeding.
func trip(t *testing.T, r *gateways.Router, f *fake) {
	t.Helper()
	f.err = errDown
	_ = query(t, r, f.name)
	_ = query(t, r, f.name)
	f.err = nil
	if s := breakerOf(r, f.name); s.State != "open" {
		t.Fatalf("breaker %+v, want open", s)
	}
}

func TestHalfOpenThenClosed(t *testing.T) {
	t.Parallel()
	const openFor = 40 * time.Millisecond
	primary := &fake{name: "primary", methods: []gateways.Method{ewallet}}
	backup := &fake{name: "backup", methods: []gateways.Method{ewallet}}
	r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor}, nil, primary, backup)

	trip(t, r, primary)
	if got := pick(t, r, ewallet, ""); got != "backup" {
		t.Fatalf("Pick while open = %s, want backup", got)
	}
	calls := primary.calls
	if err := query(t, r, "primary"); !errors.Is(err, gobreaker.ErrOpenState) || primary.calls != calls {
		t.Fatalf("open breaker let a call through: %v", err)
	}

	time.Sleep(openFor + 10*time.Millisecond)
	if s := breakerOf(r, "primary"); s.State != "half-open" {
		t.Fatalf("after the open timeout: %+v, want half-open", s)
	}
	if got := pick(t, r, ewallet, ""); got != "primary" {
		t.Errorf("Pick while half-open = %s, want primary (probe)", got)
	}
	if err := query(t, r, "primary"); err != nil {
		t.Fatal(err)
	}
	if s := breakerOf(r, "primary"); s.State != "closed" {
		t.Errorf("after a successful probe: %+v, want closed", s)
	}

	// A failed probe opens it again.
	trip(t, r, primary)
	time.Sleep(openFor + 10*time.Millisecond)
	primary.err = errDown
	_ = query(t, r, "primary")
	if s := breakerOf(r, "primary"); s.State != "open" {
		t.Errorf("after a failed probe: %+v, want open", s)
	}
}

func TestOfflineCreate(t *testing.T) {
	t.Parallel()
	const openFor = 40 * time.Millisecond
	f := &fake{name: "vnpay", methods: []gateways.Method{gateways.MethodQR}, offline: true}
	r := newRouter(t, gateways.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor}, nil, f)
	g, _ := r.Get("vnpay")
	create := func() error {
		_, err := g.Create(context.Background(), gateways.CreateRequest{})
		return err
	}
	if err := create(); err != nil || breakerOf(r, "vnpay").Requests != 0 {
		t.Fatalf("offline Create: %v, stats %+v; want success, not counted", err, breakerOf(r, "vnpay"))
	}
	trip(t, r, f)
	if err := create(); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("offline Create while open: %v, want ErrOpenState", err)
	}
	time.Sleep(openFor + 10*time.Millisecond)
	if err := create(); err != nil || breakerOf(r, "vnpay").State != "half-open" {
		t.Errorf("offline Create while half-open: %v, %+v; want success, still half-open", err, breakerOf(r, "vnpay"))
	}
}

type refundQuerier struct{ fake }

func (q *refundQuerier) QueryRefund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{Status: gateways.StatusSucceeded}, nil
}

func TestQueryRefund(t *testing.T) {
	t.Parallel()
	plain := &fake{name: "plain", methods: []gateways.Method{ewallet}}
	rq := &refundQuerier{fake{name: "rq", methods: []gateways.Method{ewallet}}}
	r := newRouter(t, gateways.BreakerSettings{}, nil, plain, rq)
	for name, want := range map[string]error{"plain": gateways.ErrUnsupported, "rq": nil} {
		g, _ := r.Get(name)
		_, err := g.(gateways.RefundQuerier).QueryRefund(context.Background(), gateways.RefundRequest{})
		if !errors.Is(err, want) {
			t.Errorf("%s: QueryRefund error = %v, want %v", name, err, want)
		}
	}
	if s := breakerOf(r, "rq"); s.TotalSuccesses != 1 {
		t.Errorf("QueryRefund did not run through the breaker: %+v", s)
	}
}

func TestStatsOrderAndTransitions(t *testing.T) {
	t.Parallel()
	var seen []string
	a := &fake{name: "a", methods: []gateways.Method{ewallet}}
	b := &fake{name: "b", methods: []gateways.Method{gateways.MethodQR}}
	r, err := gateways.NewRouter(gateways.RouterConfig{
		Breaker: gateways.BreakerSettings{ConsecutiveFailures: 2},
		OnStateChange: func(name string, from, to gobreaker.State) {
			seen = append(seen, fmt.Sprintf("%s:%s->%s", name, from, to))
		},
	}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	trip(t, r, a)
	var names []string
	for _, s := range r.Stats() {
		names = append(names, s.Name+"="+s.State)
	}
	if !slices.Equal(names, []string{"a=open", "b=closed"}) || !slices.Equal(seen, []string{"a:closed->open"}) {
		t.Errorf("stats %v, transitions %v", names, seen)
	}
}
