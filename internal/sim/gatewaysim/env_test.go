package gatewaysim

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestApplyEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(Config) bool
		ok    bool
	}{
		{"nothing set keeps the demo", map[string]string{}, func(c Config) bool {
			return c.VNPAY.TmnCode == DemoVNPAYTmnCode && c.ZaloPay.AppID == DemoZaloPayAppID
		}, true},
		{"credentials", map[string]string{"CIVICPAY_VNPAY_TMN_CODE": "TMN2", "CIVICPAY_MOMO_SECRET_KEY": "s",
			"CIVICPAY_ZALOPAY_APP_ID": "77", "CIVICPAY_VIETQR_ACCOUNT": "123"}, func(c Config) bool {
			return c.VNPAY.TmnCode == "TMN2" && c.MoMo.SecretKey == "s" && c.ZaloPay.AppID == 77 && c.Bank.Account == "123"
		}, true},
		{"fees", map[string]string{"GATEWAYSIM_MOMO_FEE_PERCENT": "2.25", "GATEWAYSIM_MOMO_FEE_FIXED": "500"}, func(c Config) bool {
			return c.MoMo.Fee.Percent.Equal(decimal.RequireFromString("2.25")) && c.MoMo.Fee.Fixed == 500
		}, true},
		{"bad app id", map[string]string{"CIVICPAY_ZALOPAY_APP_ID": "x"}, nil, false},
		{"bad fee", map[string]string{"GATEWAYSIM_VNPAY_FEE_PERCENT": "1,5"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DemoConfig("")
			err := ApplyEnv(&cfg, func(k string) string { return tt.env[k] })
			if (err == nil) != tt.ok {
				t.Fatalf("ApplyEnv: %v, want ok %v", err, tt.ok)
			}
			if tt.ok && !tt.check(cfg) {
				t.Errorf("config %+v", cfg)
			}
		})
	}
}

// TestDemoEnvRoundTrip: what DemoEnv prints for the service, ApplyEnv reads
// back into the same credentials.
func TestDemoEnvRoundTrip(t *testing.T) {
	t.Parallel()
	lines := DemoEnv("http://127.0.0.1:8090/", DemoConfig(""))
	env := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		env[k] = v
	}
	if env["CIVICPAY_MOMO_BASE_URL"] != "http://127.0.0.1:8090/momo" || env["CIVICPAY_RECON_STATEMENT_URL"] != "http://127.0.0.1:8090/bank/statements/camt053/{date}" {
		t.Errorf("base URLs in %q", lines)
	}
	var cfg Config
	if err := ApplyEnv(&cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	demo := DemoConfig("")
	if cfg.VNPAY.HashSecret != demo.VNPAY.HashSecret || cfg.MoMo != (MoMoConfig{PartnerCode: demo.MoMo.PartnerCode,
		AccessKey: demo.MoMo.AccessKey, SecretKey: demo.MoMo.SecretKey}) || cfg.ZaloPay.Key2 != demo.ZaloPay.Key2 ||
		cfg.Bank.BIN != demo.Bank.BIN {
		t.Errorf("read back %+v", cfg)
	}
}
