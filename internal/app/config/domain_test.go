package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// The defaults, mapped onto each domain package, pass its Check, and carry
// the values of the struct tags (the only place they are written).
func TestDefaultsMapOntoTheDomains(t *testing.T) {
	t.Parallel()
	c := Defaults("postgres://x@127.0.0.1/db")
	if err := c.checkDomains(); err != nil {
		t.Fatalf("the defaults fail a domain's check: %v", err)
	}
	w := c.WebhooksConfig()
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	if len(w.RetrySchedule) != len(want) {
		t.Fatalf("retry schedule %v, want %v (eight attempts)", w.RetrySchedule, want)
	}
	for i := range want {
		if w.RetrySchedule[i] != want[i] {
			t.Fatalf("retry schedule %v, want %v", w.RetrySchedule, want)
		}
	}
	if w.Timeout != 5*time.Second || w.DisableAfter != 120*time.Hour || w.MaxEndpointsPerKey != 10 || w.AllowLoopback {
		t.Fatalf("webhooks %+v", w)
	}
	p := c.PayingConfig()
	if p.AttemptTTL != 15*time.Minute || p.CallTimeout != 15*time.Second || p.RefundMaxTries != 12 || p.MaxOpenAttempts != 5 ||
		p.PublicURL != "http://127.0.0.1:8080" {
		t.Fatalf("paying %+v", p)
	}
	if b := c.BreakerSettings(); b.ConsecutiveFailures != 5 || b.FailureRatio != 0.5 || b.ProbeInterval != 500*time.Millisecond {
		t.Fatalf("breakers %+v", b)
	}
	if o := c.OrdersConfig(); o.DefaultExpiry != 24*time.Hour || o.MaxExpiry != 720*time.Hour {
		t.Fatalf("orders %+v", o)
	}
	if m := c.ManualRules(); !m.ApprovalAmount.Equal(decimal.NewFromInt(10_000_000)) || m.MaxBackdate != 168*time.Hour {
		t.Fatalf("manual rules %+v", m)
	}
	if l := c.ServerLimits(); l.ReadTimeout != 10*time.Second || l.ProxyHeader != "X-Real-IP" || l.PerKey != 6000 {
		t.Fatalf("server limits %+v", l)
	}
	r, err := c.ReconConfig()
	if err != nil {
		t.Fatal(err)
	}
	if r.Cutoff != 6*time.Hour || r.SettlementDays != 3 || r.Tol.Window != 15*time.Minute || r.WorkMem != "128MB" ||
		!r.Fees["vnpay"].Fixed.Equal(decimal.NewFromInt(1650)) || len(r.Gateways) != 3 ||
		r.SettlementURL != "http://127.0.0.1:8090/admin/settlements/{gateway}/{date}" {
		t.Fatalf("reconciliation %+v", r)
	}
	prod := c
	prod.Env, prod.Recon.StatementURL = EnvProduction, "https://bank.example/{date}"
	if r, _ := prod.ReconConfig(); r.FetchAuthenticated {
		t.Fatal("an https statement fetch with neither token nor certificate counts as authenticated")
	}
	prod.Recon.StatementToken = "t"
	if r, _ := prod.ReconConfig(); !r.FetchAuthenticated {
		t.Fatal("an https statement fetch with a token does not count as authenticated")
	}
}

// CIVICPAY_RECON_TOLERANT names the sources loaded under the tolerant rule;
// blanks between commas are not sources.
func TestReconTolerantSources(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  []string
	}{{"", nil}, {"bank", []string{"bank"}}, {" bank , momo ,", []string{"bank", "momo"}}} {
		c := Defaults("postgres://x@127.0.0.1/db")
		c.Recon.Tolerant = strings.Split(tt.value, ",")
		r, err := c.ReconConfig()
		if err != nil || !slices.Equal(r.Tolerant, tt.want) {
			t.Errorf("%q: %v, %v; want %v", tt.value, r.Tolerant, err, tt.want)
		}
		for _, src := range []string{"bank", "momo", "vnpay"} {
			if r.TolerantFor(src) != slices.Contains(tt.want, src) {
				t.Errorf("%q: TolerantFor(%s) = %t", tt.value, src, r.TolerantFor(src))
			}
		}
	}
}

// A variable set to a value a domain package would refuse (and panic on) is
// an error at Load naming its variables, not a panic at start.
func TestLoadRefusesWhatTheDomainsWould(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	t.Setenv("CIVICPAY_ENV", "development")
	for _, tt := range []struct{ name, value, want string }{
		{"CIVICPAY_WEBHOOKS_TIMEOUT", "0s", "CIVICPAY_WEBHOOKS_*: webhooks: Timeout must be positive"},
		{"CIVICPAY_WEBHOOKS_RETRY_SCHEDULE", "5s,0s", "RetrySchedule has a wait that is not positive"},
		{"CIVICPAY_ATTEMPT_TTL", "0s", "AttemptTTL must be positive"},
		{"CIVICPAY_GATEWAY_CALL_TIMEOUT", "0s", "CallTimeout must be positive"},
		{"CIVICPAY_BREAKER_PROBE_INTERVAL", "0s", "CIVICPAY_BREAKER_*: gateways: breaker: ProbeInterval must be positive"},
		{"CIVICPAY_BREAKER_FAILURE_RATIO", "1.5", "FailureRatio must be within 0 and 1"},
		{"CIVICPAY_READ_TIMEOUT", "0s", "ReadTimeout must be positive"},
		{"CIVICPAY_MAX_BODY_BYTES", "0", "CIVICPAY_MAX_BODY_BYTES must be positive"},
		{"CIVICPAY_ORDER_DEFAULT_EXPIRY", "0s", "CIVICPAY_ORDER_*: payments: DefaultExpiry and MaxExpiry must be positive"},
		{"CIVICPAY_RECON_QUERY_CONCURRENCY", "0", "QueryConcurrency must be positive"},
		{"CIVICPAY_RECON_WORK_MEM", "1GB; DROP TABLE x", "WorkMem"},
		{"CIVICPAY_RECON_CUTOFF", "25:00", "CIVICPAY_RECON_CUTOFF"},
		{"CIVICPAY_RECON_FEE_TOLERANCE", "-1", "CIVICPAY_RECON_FEE_TOLERANCE"},
		{"CIVICPAY_RECON_TOLERANT", "bank,paypal", `tolerant source "paypal" is not one of vnpay, momo, zalopay, bank`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s=%s: Load = %v, want an error with %q", tt.name, tt.value, err, tt.want)
			}
		})
	}
}
