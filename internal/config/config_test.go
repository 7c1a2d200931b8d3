package config

import (
	"testing"
	"time"
)

func TestDemoPayingIsTheDefaultsAtAnotherURL(t *testing.T) {
	t.Parallel()
	p := DemoPaying("http://127.0.0.1:9999/")
	if p.VNPAYBaseURL != "http://127.0.0.1:9999/vnpay" || p.MoMoBaseURL != "http://127.0.0.1:9999/momo" ||
		p.ZaloPayBaseURL != "http://127.0.0.1:9999/zalopay" {
		t.Fatalf("base URLs %q %q %q", p.VNPAYBaseURL, p.MoMoBaseURL, p.ZaloPayBaseURL)
	}
	if len(p.Gateways) != 4 || p.VNPAYTmnCode != "CIVICPAY" || p.ZaloPayAppID != 2554 || p.AttemptTTL != 15*time.Minute ||
		p.BreakerConsecutiveFailures != 5 || p.Workers != 20 {
		t.Fatalf("defaults not applied: %+v", p)
	}
}

func TestLoadReadsPaying(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	t.Setenv("CIVICPAY_GATEWAYS", "vnpay,vietqr")
	t.Setenv("CIVICPAY_STATUS_POLL_DELAY", "30s")
	t.Setenv("CIVICPAY_BREAKER_FAILURE_RATIO", "0.25")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	p := c.Paying
	if len(p.Gateways) != 2 || p.Gateways[1] != "vietqr" || p.StatusPollDelay != 30*time.Second ||
		p.BreakerFailureRatio != 0.25 || p.MoMoBaseURL != "http://127.0.0.1:8090/momo" {
		t.Fatalf("paying config %+v", p)
	}
}

func TestLoadReadsLimits(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	t.Setenv("CIVICPAY_TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1")
	t.Setenv("CIVICPAY_RATE_LIMIT_PER_IP", "0")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.RatePerKey != 6000 || l.RatePerIP != 0 || l.MaxOpenAttempts != 5 || len(l.TrustedProxies) != 2 ||
		l.ProxyHeader != "X-Real-IP" || l.ReadTimeout != 10*time.Second || l.UploadReadTimeout != 30*time.Minute ||
		l.AuthFailCacheTTL != 5*time.Second {
		t.Fatalf("limits %+v", l)
	}
	if u := l.Unlimited(); u.RatePerKey != 0 || u.MaxConnsPerIP != 0 || u.MaxOpenAttempts != 5 || u.ReadTimeout != l.ReadTimeout {
		t.Fatalf("unlimited %+v", u)
	}
}
