package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	demomerchant "github.com/civicpay/civicpay/internal/app/demo"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
)

// TestMain lets a test run the real main (flags, exit status and all) in a
// child process: CIVICPAY_TEST_MAIN holds the command line.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("CIVICPAY_TEST_MAIN"); ok {
		os.Args = append([]string{"civicpay"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestServeRefusesUnsafeProduction runs `civicpay serve` as a process in
// production (the default) and expects a non-zero exit naming every setting
// to fix, before the database is even tried (it is unreachable here).
func TestServeRefusesUnsafeProduction(t *testing.T) {
	t.Parallel()
	base := []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none", "CIVICPAY_TEST_MAIN=serve"}
	tests := []struct {
		name string
		env  []string
		want []string
		not  []string
	}{
		{"nothing set", nil, []string{
			"CIVICPAY_RECEIPT_SECRET is not set", "CIVICPAY_PUBLIC_URL must be an https URL",
			"CIVICPAY_VNPAY_BASE_URL is not set", "CIVICPAY_VNPAY_HASH_SECRET is not set",
			"CIVICPAY_MOMO_BASE_URL is not set", "CIVICPAY_MOMO_ACCESS_KEY is not set", "CIVICPAY_MOMO_SECRET_KEY is not set",
			"CIVICPAY_ZALOPAY_BASE_URL is not set", "CIVICPAY_ZALOPAY_KEY1 is not set", "CIVICPAY_ZALOPAY_KEY2 is not set",
			"CIVICPAY_VIETQR_ACCOUNT is not set",
		}, nil},
		{"demo secrets and http, as the old defaults were", []string{
			"CIVICPAY_GATEWAYS=vnpay,momo", "CIVICPAY_PUBLIC_URL=https://pay.example.gov.vn",
			"CIVICPAY_RECEIPT_SECRET=" + strings.Repeat("r", 32),
			"CIVICPAY_VNPAY_BASE_URL=http://127.0.0.1:8090/vnpay", "CIVICPAY_VNPAY_HASH_SECRET=" + demomerchant.VNPAYHashSecret,
			"CIVICPAY_MOMO_BASE_URL=https://payment.momo.vn", "CIVICPAY_MOMO_ACCESS_KEY=" + demomerchant.MoMoAccessKey,
			"CIVICPAY_MOMO_SECRET_KEY=" + demomerchant.ZaloPayKey2, // a demo key under another gateway's name is as public
			"CIVICPAY_RECON_STATEMENT_URL=http://bank.example/camt053/{date}",
		}, []string{
			`CIVICPAY_VNPAY_BASE_URL must be an https URL (is "http://127.0.0.1:8090/vnpay")`,
			"CIVICPAY_VNPAY_HASH_SECRET is a demo value", "CIVICPAY_MOMO_ACCESS_KEY is a demo value",
			"CIVICPAY_MOMO_SECRET_KEY is a demo value", "CIVICPAY_RECON_STATEMENT_URL must be an https URL",
		}, []string{"CIVICPAY_RECEIPT_SECRET", "CIVICPAY_PUBLIC_URL", "CIVICPAY_MOMO_BASE_URL", "ZALOPAY", demomerchant.VNPAYHashSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(append([]string(nil), base...), tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("serve: %v, want a non-zero exit; stderr:\n%s", err, stderr.String())
			}
			msg := stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message does not say %q:\n%s", w, msg)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(msg, n) {
					t.Errorf("message names %q, which is fine (or a secret):\n%s", n, msg)
				}
			}
			if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Errorf("want one message, got:\n%s", msg)
			}
		})
	}
}

// TestCommandsBesideServeNeedNoGatewaySecrets: migrate, keys and ledger
// verify run in production with no gateway configured. It sets the
// environment, so it does not run in parallel.
func TestCommandsBesideServeNeedNoGatewaySecrets(t *testing.T) {
	_, url := pgtest.NewWithURL(t)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("CIVICPAY_ENV", "production")
	t.Setenv("CIVICPAY_LOG_LEVEL", "error")
	for _, args := range [][]string{{"migrate"}, {"keys", "list"}, {"ledger", "verify"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Errorf("civicpay %s: %v", strings.Join(args, " "), err)
		}
	}
}
