package app

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/sony/gobreaker/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/momo"
	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/civicpay/civicpay/gateways/vnpay"
	"github.com/civicpay/civicpay/gateways/zalopay"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/payments"
)

// wirePaying adds the gateways behind their router and the paying flow on
// orders: its jobs, the follow sweep, paying's API, the gateways' callbacks
// and their metrics.
func wirePaying(f *foundation, w *wiring, orders *payments.Orders) (*gateways.Router, *payments.Paying, error) {
	cfg := f.cfg.Paying
	gws, err := buildGateways(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("app: gateways: %w", err)
	}
	prefs, err := parsePreferences(cfg.Preferences)
	if err != nil {
		return nil, nil, fmt.Errorf("app: CIVICPAY_GATEWAY_PREFERENCES: %w", err)
	}
	m := newGatewayMetrics()
	router, err := gateways.NewRouter(gateways.RouterConfig{
		Breaker:       f.cfg.BreakerSettings(),
		Preferences:   prefs,
		OnStateChange: m.transition,
	}, gws...)
	if err != nil {
		return nil, nil, fmt.Errorf("app: %w", err)
	}
	m.stats = router.Stats
	if err := f.metrics.Registry.Register(m); err != nil {
		router.Close()
		return nil, nil, fmt.Errorf("app: gateway metrics: %w", err)
	}
	pcfg := f.cfg.PayingConfig()
	pcfg.OnCallback = m.callback
	flow := payments.NewPaying(orders, router, pcfg)
	flow.SetJobs(w.jobs.insert) // at once: NewPaying does not take it
	river.AddWorker(w.workers(), &payments.AttemptStatusWorker{Flow: flow})
	river.AddWorker(w.workers(), &payments.RefundWorker{Flow: flow})
	river.AddWorker(w.workers(), &payments.AttemptFollowWorker{Flow: flow}) // jobs an earlier version left
	// The sweep that gives pending attempts their status job runs on every
	// instance, not as a River periodic job: those wait for River's leader,
	// which a crash leaves unelected for some 15-20 s (RunFollower).
	w.background = append(w.background, flow.RunFollower)
	w.queues[payments.Queue] = river.QueueConfig{MaxWorkers: max(cfg.Workers, 1)}
	w.api = append(w.api, payments.NewPayHandler(orders, flow))
	w.public = append(w.public, payments.NewCallbackHandler(orders, flow, f.cfg.PublicURL))
	return router, flow, nil
}

// buildGateways makes the enabled adapters, in the configured order, sharing
// one HTTP client; each adapter puts its own deadline on every call.
func buildGateways(cfg config.Paying) ([]gateways.Gateway, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 256
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a gateway API never legitimately redirects
	}}
	var out []gateways.Gateway
	for _, name := range cfg.Gateways {
		var (
			gw  gateways.Gateway
			err error
		)
		switch name = strings.TrimSpace(name); name {
		case "", "none":
			continue
		case "vnpay":
			gw, err = vnpay.New(vnpay.Config{BaseURL: cfg.VNPAYBaseURL, TmnCode: cfg.VNPAYTmnCode,
				HashSecret: cfg.VNPAYHashSecret, Timeout: cfg.GatewayTimeout}, client)
		case "momo":
			gw, err = momo.New(momo.Config{BaseURL: cfg.MoMoBaseURL, PartnerCode: cfg.MoMoPartnerCode,
				AccessKey: cfg.MoMoAccessKey, SecretKey: cfg.MoMoSecretKey, Timeout: cfg.GatewayTimeout}, client)
		case "zalopay":
			gw, err = zalopay.New(zalopay.Config{BaseURL: cfg.ZaloPayBaseURL, AppID: cfg.ZaloPayAppID,
				Key1: cfg.ZaloPayKey1, Key2: cfg.ZaloPayKey2, Timeout: cfg.GatewayTimeout}, client)
		case "vietqr":
			gw, err = vietqr.New(vietqr.Config{BankBIN: cfg.VietQRBankBIN, Account: cfg.VietQRAccount})
		default:
			return nil, fmt.Errorf("CIVICPAY_GATEWAYS: unknown gateway %q (vnpay, momo, zalopay, vietqr)", name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, gw)
	}
	return out, nil
}

// parsePreferences reads "ewallet=zalopay,momo;card=vnpay".
func parsePreferences(s string) (map[gateways.Method][]string, error) {
	out := map[gateways.Method][]string{}
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		method, names, ok := strings.Cut(part, "=")
		m := gateways.Method(strings.TrimSpace(method))
		if !ok || !m.Valid() {
			return nil, fmt.Errorf("%q: want method=gateway,gateway with a method among card, internet_banking, qr, ewallet, bank_transfer", part)
		}
		for _, n := range strings.Split(names, ",") {
			if n = strings.TrimSpace(n); n != "" {
				out[m] = append(out[m], n)
			}
		}
	}
	return out, nil
}

// gatewayMetrics exports the breakers (read from the router at scrape time)
// and counts breaker transitions and callbacks.
type gatewayMetrics struct {
	stats       func() []gateways.BreakerStat
	state       *prometheus.Desc
	counts      *prometheus.Desc
	transitions *prometheus.CounterVec
	callbacks   *prometheus.CounterVec
}

func newGatewayMetrics() *gatewayMetrics {
	return &gatewayMetrics{
		state: prometheus.NewDesc("civicpay_gateway_breaker_state",
			"Circuit breaker state per gateway and breaker (create: new payments; query: status queries and refunds): 0 closed, 1 half-open, 2 open.",
			[]string{"gateway", "breaker"}, nil),
		counts: prometheus.NewDesc("civicpay_gateway_breaker_calls",
			"Calls counted by the breaker in its current window or half-open period, by result.", []string{"gateway", "breaker", "result"}, nil),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicpay_gateway_breaker_transitions_total", Help: "Circuit breaker state changes per gateway, breaker and new state.",
		}, []string{"gateway", "breaker", "to"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "civicpay_gateway_callbacks_total", Help: "Gateway callbacks by gateway and how they were answered.",
		}, []string{"gateway", "ack"}),
	}
}

var breakerStates = []string{"closed", "half-open", "open"}

// Describe implements prometheus.Collector.
func (m *gatewayMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.state
	ch <- m.counts
	m.transitions.Describe(ch)
	m.callbacks.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *gatewayMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, st := range m.stats() {
		create := gateways.BreakerCounts{State: st.State, TotalSuccesses: st.TotalSuccesses, TotalFailures: st.TotalFailures,
			TotalExclusions: st.TotalExclusions}
		for breaker, c := range map[gateways.Breaker]gateways.BreakerCounts{gateways.BreakerCreate: create, gateways.BreakerQuery: st.Query} {
			ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, float64(slices.Index(breakerStates, c.State)), st.Name, string(breaker))
			for result, n := range map[string]uint32{"success": c.TotalSuccesses, "failure": c.TotalFailures, "excluded": c.TotalExclusions} {
				ch <- prometheus.MustNewConstMetric(m.counts, prometheus.GaugeValue, float64(n), st.Name, string(breaker), result)
			}
		}
	}
	m.transitions.Collect(ch)
	m.callbacks.Collect(ch)
}

func (m *gatewayMetrics) transition(gateway string, breaker gateways.Breaker, _, to gobreaker.State) {
	m.transitions.WithLabelValues(gateway, string(breaker), to.String()).Inc()
}

func (m *gatewayMetrics) callback(gateway string, ack gateways.Ack) {
	m.callbacks.WithLabelValues(gateway, ack.String()).Inc()
}
