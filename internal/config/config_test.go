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

func TestLoadReadsManualEntryRules(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.ManualEntryApprovalAmount.String() != "10000000" || c.ManualEntryMaxBackdate != 7*24*time.Hour {
		t.Fatalf("defaults %s %s", c.ManualEntryApprovalAmount, c.ManualEntryMaxBackdate)
	}
	t.Setenv("CIVICPAY_MANUAL_ENTRY_APPROVAL_AMOUNT", "2500000.5")
	t.Setenv("CIVICPAY_MANUAL_ENTRY_MAX_BACKDATE", "48h")
	if c, err = Load(); err != nil {
		t.Fatal(err)
	}
	if c.ManualEntryApprovalAmount.String() != "2500000.5" || c.ManualEntryMaxBackdate != 48*time.Hour {
		t.Fatalf("read %s %s", c.ManualEntryApprovalAmount, c.ManualEntryMaxBackdate)
	}
}
