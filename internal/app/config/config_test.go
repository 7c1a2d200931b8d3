package config

import (
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/demo"
)

func TestDemoPayingIsTheDefaultsAtAnotherURL(t *testing.T) {
	t.Parallel()
	p := DemoPaying("http://127.0.0.1:9999/")
	if p.VNPAYBaseURL != "http://127.0.0.1:9999/vnpay" || p.MoMoBaseURL != "http://127.0.0.1:9999/momo" ||
		p.ZaloPayBaseURL != "http://127.0.0.1:9999/zalopay" {
		t.Fatalf("base URLs %q %q %q", p.VNPAYBaseURL, p.MoMoBaseURL, p.ZaloPayBaseURL)
	}
	if len(p.Gateways) != 4 || p.VNPAYTmnCode != "CIVICPAY" || p.ZaloPayAppID != 2554 || p.AttemptTTL != 15*time.Minute ||
		p.BreakerConsecutiveFailures != 5 || p.Workers != 20 || p.MoMoSecretKey != demo.MoMoSecretKey || p.VietQRAccount != demo.BankAccount {
		t.Fatalf("defaults not applied: %+v", p)
	}
}

func TestDefaultsAreDevelopment(t *testing.T) {
	t.Parallel()
	c := Defaults("postgres://x@127.0.0.1/db")
	if !c.Development() || c.DatabaseURL != "postgres://x@127.0.0.1/db" || c.Paying.VNPAYHashSecret != demo.VNPAYHashSecret ||
		c.Recon.StatementURL != "http://127.0.0.1:8090/bank/statements/camt053/{date}" || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("development defaults do not validate: %v", err)
	}
}

func TestLoadReadsPaying(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	t.Setenv("CIVICPAY_ENV", "development")
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

// TestLoadModes: production (the default) has no demo value at all;
// development fills each one left unset, but keeps one set (even to empty,
// which turns a statement fetch off); any other mode is an error.
func TestLoadModes(t *testing.T) {
	t.Setenv("CIVICPAY_ENV", "") // unset is production, whatever the shell running the tests exports
	t.Setenv("DATABASE_URL", "postgres://x@127.0.0.1/db")
	t.Setenv("CIVICPAY_RECEIPT_SECRETS_OLD", strings.Repeat("a", 32)+","+strings.Repeat("b", 40))

	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	p := c.Paying
	if c.Env != EnvProduction || c.Development() || p.VNPAYHashSecret != "" || p.MoMoAccessKey != "" || p.MoMoSecretKey != "" ||
		p.ZaloPayKey1 != "" || p.ZaloPayKey2 != "" || p.VNPAYBaseURL != "" || p.VietQRAccount != "" ||
		c.Recon.SettlementURL != "" || c.Recon.StatementURL != "" {
		t.Fatalf("production loaded demo values: %+v", c)
	}
	if len(c.OldReceiptSecrets) != 2 || len(c.OldReceiptSecrets[1]) != 40 {
		t.Fatalf("old receipt secrets %d", len(c.OldReceiptSecrets))
	}

	t.Setenv("CIVICPAY_ENV", "development")
	t.Setenv("CIVICPAY_RECON_STATEMENT_URL", "")
	t.Setenv("CIVICPAY_ZALOPAY_KEY1", "my-own-sandbox-key")
	if c, err = Load(); err != nil {
		t.Fatal(err)
	}
	p = c.Paying
	if !c.Development() || p.VNPAYHashSecret != demo.VNPAYHashSecret || p.ZaloPayKey1 != "my-own-sandbox-key" ||
		p.ZaloPayKey2 != demo.ZaloPayKey2 || c.Recon.StatementURL != "" ||
		c.Recon.SettlementURL != "http://127.0.0.1:8090/admin/settlements/{gateway}/{date}" {
		t.Fatalf("development config %+v", c)
	}

	t.Setenv("CIVICPAY_ENV", "staging")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "CIVICPAY_ENV") {
		t.Fatalf("CIVICPAY_ENV=staging: %v", err)
	}
}

// production is a configuration that serves in production: every gateway on
// https with credentials of its own.
func production() Config {
	return Config{
		Env: EnvProduction, PublicURL: "https://pay.example.gov.vn", ReceiptSecret: strings.Repeat("s", 32),
		DataKeys: "k1:live-key-material", LookupKey: "live-lookup-key",
		Paying: Paying{
			Gateways:     []string{"vnpay", "momo", "zalopay", "vietqr"},
			VNPAYBaseURL: "https://pay.vnpay.vn", VNPAYHashSecret: "vnpay-live-secret",
			MoMoBaseURL: "https://payment.momo.vn", MoMoAccessKey: "live-access", MoMoSecretKey: "live-secret",
			ZaloPayBaseURL: "https://openapi.zalopay.vn", ZaloPayKey1: "live-key1", ZaloPayKey2: "live-key2",
			VietQRAccount: "0071000999888",
		},
		Recon: Recon{SettlementURL: "https://sftp-gw.example.gov.vn/{gateway}/{date}", StatementURL: ""},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Config)
		want   []string // each named in the error; none: valid
	}{
		{"production, complete", func(*Config) {}, nil},
		{"empty Env is production", func(c *Config) { c.Env = ""; c.ReceiptSecret = "" }, []string{"CIVICPAY_RECEIPT_SECRET is not set"}},
		{"no data keys", func(c *Config) { c.DataKeys, c.LookupKey = "", " " },
			[]string{"CIVICPAY_DATA_KEYS is not set", "CIVICPAY_LOOKUP_KEY is not set"}},
		{"every secret missing", func(c *Config) {
			p := &c.Paying
			p.VNPAYHashSecret, p.MoMoAccessKey, p.MoMoSecretKey, p.ZaloPayKey1, p.ZaloPayKey2, c.ReceiptSecret = "", "", "", "", "", ""
		}, []string{"CIVICPAY_VNPAY_HASH_SECRET is not set", "CIVICPAY_MOMO_ACCESS_KEY is not set", "CIVICPAY_MOMO_SECRET_KEY is not set",
			"CIVICPAY_ZALOPAY_KEY1 is not set", "CIVICPAY_ZALOPAY_KEY2 is not set", "CIVICPAY_RECEIPT_SECRET is not set"}},
		{"a disabled gateway needs nothing", func(c *Config) {
			c.Paying.Gateways = []string{"vnpay"}
			c.Paying.MoMoSecretKey, c.Paying.ZaloPayBaseURL, c.Paying.VietQRAccount = "", "http://x", ""
		}, nil},
		{"demo secrets", func(c *Config) {
			c.Paying.VNPAYHashSecret, c.Paying.ZaloPayKey2 = demo.VNPAYHashSecret, demo.ZaloPayKey2
			c.Paying.MoMoSecretKey = demo.ZaloPayKey1 // published, whichever gateway it was for
		}, []string{"CIVICPAY_VNPAY_HASH_SECRET is a demo value", "CIVICPAY_ZALOPAY_KEY2 is a demo value",
			"CIVICPAY_MOMO_SECRET_KEY is a demo value"}},
		{"demo VietQR account", func(c *Config) { c.Paying.VietQRAccount = demo.BankAccount }, []string{"CIVICPAY_VIETQR_ACCOUNT is the demo account"}},
		{"http gateway URLs", func(c *Config) {
			c.Paying.VNPAYBaseURL, c.Paying.MoMoBaseURL, c.Paying.ZaloPayBaseURL = "http://127.0.0.1:8090/vnpay", "payment.momo.vn", "https://"
		}, []string{"CIVICPAY_VNPAY_BASE_URL must be an https URL", "CIVICPAY_MOMO_BASE_URL must be an https URL",
			"CIVICPAY_ZALOPAY_BASE_URL must be an https URL"}},
		{"http statement and settlement URLs", func(c *Config) {
			c.Recon.SettlementURL, c.Recon.StatementURL = "http://127.0.0.1:8090/admin/settlements/{gateway}/{date}", "ftp://bank/{date}"
		}, []string{"CIVICPAY_RECON_SETTLEMENT_URL must be an https URL", "CIVICPAY_RECON_STATEMENT_URL must be an https URL"}},
		{"http public URL", func(c *Config) { c.PublicURL = "http://pay.example.gov.vn" }, []string{"CIVICPAY_PUBLIC_URL must be an https URL"}},
		{"short receipt secret", func(c *Config) { c.ReceiptSecret = strings.Repeat("s", 31) }, []string{"CIVICPAY_RECEIPT_SECRET is shorter than 32 bytes"}},
		{"short old receipt secret", func(c *Config) { c.OldReceiptSecrets = []string{strings.Repeat("o", 32), "short"} },
			[]string{"CIVICPAY_RECEIPT_SECRETS_OLD: secret 2 is shorter"}},
		{"unknown mode", func(c *Config) { c.Env = "staging" }, []string{`CIVICPAY_ENV is "staging"`}},
		{"development allows demo, http and no receipt secret", func(c *Config) {
			d := Defaults("postgres://x@127.0.0.1/db")
			c.Env, c.Paying, c.Recon, c.PublicURL, c.ReceiptSecret = EnvDevelopment, d.Paying, d.Recon, "http://127.0.0.1:8080", ""
		}, nil},
		{"development still checks old receipt secrets", func(c *Config) { c.Env = EnvDevelopment; c.OldReceiptSecrets = []string{"x"} },
			[]string{"CIVICPAY_RECEIPT_SECRETS_OLD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := production()
			tt.change(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q: %v", w, err)
				}
			}
			for _, s := range []string{demo.VNPAYHashSecret, demo.ZaloPayKey1, demo.ZaloPayKey2, "vnpay-live-secret", "live-secret", strings.Repeat("s", 31)} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
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
		l.AuthFailCacheTTL != 5*time.Second || l.RequestTimeout != time.Minute {
		t.Fatalf("limits %+v", l)
	}
	if u := l.Unlimited(); u.RatePerKey != 0 || u.MaxConnsPerIP != 0 || u.MaxOpenAttempts != 5 || u.ReadTimeout != l.ReadTimeout ||
		u.RequestTimeout != l.RequestTimeout {
		t.Fatalf("unlimited %+v", u)
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
