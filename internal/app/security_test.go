package app_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/payments/pages"
)

// TestMetricsOnlyOnTheirOwnListener: /metrics is not served on the public
// port; the metrics listener serves it (and nothing else).
func TestMetricsOnlyOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	if r := e.Do(t, "GET", "/metrics", "", nil); r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "civicpay_http") {
		t.Fatalf("GET /metrics on the public port = %d: %.300s", r.Status, r.Body)
	}
	r := e.Metrics(t)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "civicpay_http_requests_total") {
		t.Fatalf("GET /metrics on the metrics port = %d: %.300s", r.Status, r.Body)
	}
	res, err := http.Get(e.MetricsURL + "/v1/orders")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("the metrics port serves the API: %d", res.StatusCode)
	}
}

// TestHSTSWhenPublicURLIsHTTPS: Strict-Transport-Security on every response
// (citizen pages, probes, errors) when the public URL is https, never on http.
func TestHSTSWhenPublicURLIsHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		publicURL string
		want      string
	}{
		{"https", "https://pay.example.gov.vn", "max-age=31536000; includeSubDomains"},
		{"http", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := apptest.New(t, func(c *config.Config) { c.PublicURL = tt.publicURL })
			for _, path := range []string{"/healthz", "/pay/RF0000000000000", "/receipts/RF0000000000000", "/v1/orders"} {
				r := e.Do(t, "GET", path, "", nil)
				if got := r.Header.Get("Strict-Transport-Security"); got != tt.want {
					t.Errorf("GET %s (%d): Strict-Transport-Security %q, want %q", path, r.Status, got, tt.want)
				}
			}
		})
	}
}

// TestReceiptSecretRotation: CIVICPAY_RECEIPT_SECRETS_OLD reaches the pages,
// so a receipt issued under the previous secret still verifies after a
// rotation, and does not without it.
func TestReceiptSecretRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := strings.Repeat("o", 32), strings.Repeat("n", 32)
	e := apptest.NewWithSim(t, func(c *config.Config) { c.ReceiptSecret = oldSecret })
	var o struct{ ID, Reference string }
	e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"Trần Thị Bình","national_id":"079203001234","email":"binh@example.vn"},"description":"Lệ phí"}`,
		"Idempotency-Key", "rotation-1").JSON(t, &o)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(e.URL+"/pay/"+o.Reference, url.Values{"method": {"ewallet:momo"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing MoMo for %q: %d", o.Reference, res.StatusCode)
	}
	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: res.Header.Get("Location"), Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var got struct{ Status string }
		e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil).JSON(t, &got)
		if got.Status == "paid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s", got.Status)
		}
	}
	receipt := e.Do(t, "GET", "/receipts/"+o.Reference+"?lang=en", "", nil)
	code := regexp.MustCompile(`[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`).Find(receipt.Body)
	if receipt.Status != 200 || code == nil {
		t.Fatalf("receipt %d without a code", receipt.Status)
	}

	verify := func(env *apptest.Env) string {
		t.Helper()
		res, err := http.Get(env.URL + "/receipts/" + o.Reference + "/verify?lang=en&code=" + string(code))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		m := regexp.MustCompile(`data-result="(\w+)"`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("verify page %d without a result", res.StatusCode)
		}
		return string(m[1])
	}
	rotated := e.Another(t, func(c *config.Config) { c.ReceiptSecret, c.OldReceiptSecrets = newSecret, []string{oldSecret} })
	forgotten := e.Another(t, func(c *config.Config) { c.ReceiptSecret, c.OldReceiptSecrets = newSecret, nil })
	if got := verify(rotated); got != "ok" {
		t.Errorf("after rotation with the old secret kept: %s, want ok", got)
	}
	if got := verify(forgotten); got != "bad" {
		t.Errorf("after rotation without the old secret: %s, want bad", got)
	}
}

// TestAppRefusesUnsafeProductionConfig: the composition root itself will not
// build a production app on demo settings, whatever command calls it.
func TestAppRefusesUnsafeProductionConfig(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	cfg := e.App.Config
	cfg.Env = config.EnvProduction
	cfg.Paying = config.DemoPaying("http://127.0.0.1:8090")
	_, err := appNew(t, cfg, e)
	if err == nil || !strings.Contains(err.Error(), "CIVICPAY_VNPAY_HASH_SECRET is a demo value") ||
		!strings.Contains(err.Error(), "CIVICPAY_RECEIPT_SECRET is not set") {
		t.Fatalf("app.New in production on demo settings: %v", err)
	}
}

// An app that fails to build once its order writers have started stops them
// (TestMain fails the package if a writer is left running).
func TestAppFailingLateStopsItsWriters(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	cfg := e.App.Config
	cfg.Paying.Preferences = "no such method=vnpay" // refused by wirePaying, after wireOrders
	if _, err := appNew(t, cfg, e); err == nil || !strings.Contains(err.Error(), "CIVICPAY_GATEWAY_PREFERENCES") {
		t.Fatalf("app.New with bad gateway preferences: %v", err)
	}
}

func TestReceiptSecretMinimumIsThePagesOne(t *testing.T) {
	t.Parallel()
	if config.MinReceiptSecretLen != pages.MinSecretLen {
		t.Fatalf("config.MinReceiptSecretLen %d, pages.MinSecretLen %d", config.MinReceiptSecretLen, pages.MinSecretLen)
	}
}
