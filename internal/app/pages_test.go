package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestCitizenPaysThroughThePages walks the citizen's path on the real app and
// simulator: pay page, method chosen with a plain form post, the gateway's page,
// the return page (read-only), and the receipt once the gateway confirms.
func TestCitizenPaysThroughThePages(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	var o struct{ ID, Reference string }
	r := e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"Trần Thị Bình","national_id":"079203001234","email":"binh@example.vn"},"description":"Lệ phí"}`,
		"Idempotency-Key", "pages-1")
	r.JSON(t, &o)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		res, err := client.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	status, page := get("/pay/" + o.Reference + "?lang=en")
	if status != 200 || !strings.Contains(page, "MoMo") || strings.Contains(page, "079203001234") {
		t.Fatalf("pay page: %d, MoMo offered %v, national id hidden %v", status, strings.Contains(page, "MoMo"), !strings.Contains(page, "079203001234"))
	}
	if s, _ := get("/receipts/" + o.Reference); s != http.StatusNotFound {
		t.Fatalf("receipt of an unpaid order: %d, want 404", s)
	}

	res, err := client.PostForm(e.URL+"/pay/"+o.Reference, url.Values{"method": {"ewallet:momo"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	gatewayPage := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(gatewayPage, e.SimURL) {
		t.Fatalf("choosing MoMo: %d to %q, want 303 to the simulator", res.StatusCode, gatewayPage)
	}
	if _, page := get("/return/" + o.Reference + "?lang=en"); strings.Contains(strings.ToLower(page), "paid on") {
		t.Fatal("the return page claims payment before the gateway confirmed it")
	}

	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: gatewayPage, Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got struct{ Status string }
		e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil).JSON(t, &got)
		if got.Status == "paid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s 10s after the gateway's callback", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	status, receipt := get("/receipts/" + o.Reference + "?lang=en")
	if status != 200 || !strings.Contains(receipt, o.Reference[:4]) {
		t.Fatalf("receipt: %d", status)
	}
}
