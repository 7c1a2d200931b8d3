package payments_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestPublicPagesPrivacyEndToEnd, on the real app, database and simulator: an
// admin marks a service sensitive through the catalogue API; the citizen pages
// of an order for it show the payer's name masked and not the service, until
// the last four digits of the payer's phone are given; and once the order is
// refunded in full, its receipt verifies as refunded, with amount and date.
// On main the catalogue refused the field and the pages showed everything, and
// a refunded receipt verified as valid.
func TestPublicPagesPrivacyEndToEnd(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	r := e.Do(t, "PUT", "/v1/services/A-LLTP", e.Admin,
		`{"agency_code":"AG-A","name":"Cấp Phiếu lý lịch tư pháp","kind":"fee","fixed_amount":200000,"sensitive":true}`)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"sensitive":true`) {
		t.Fatalf("PUT sensitive service = %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "GET", "/v1/services?agency=AG-A", e.AgencyA, nil); !strings.Contains(string(r.Body), `"sensitive":true`) ||
		!strings.Contains(string(r.Body), `"sensitive":false`) {
		t.Fatalf("services do not carry the flag: %s", r.Body)
	}
	r = create(t, e, e.Portal, "privacy-1", `{"lines":[{"service":"A-LLTP","agency":"AG-A","amount":200000}],
		"payer":{"name":"Nguyễn Văn An","phone":"0901234567"},"description":"Phiếu lý lịch tư pháp"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	var o orderJSON
	r.JSON(t, &o)

	page := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var res *http.Response
		var err error
		if method == http.MethodPost {
			res, err = http.PostForm(e.URL+path, form)
		} else {
			res, err = http.Get(e.URL + path)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, html.UnescapeString(string(b))
	}
	hidden := func(what, body string) {
		t.Helper()
		for _, s := range []string{"Nguyễn Văn An", "lý lịch", "A-LLTP"} {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q", what, s)
			}
		}
		if !strings.Contains(body, "Ng*** V** An") {
			t.Errorf("%s lacks the masked name", what)
		}
	}
	status, body := page("GET", "/pay/"+o.Reference, nil)
	if status != http.StatusOK {
		t.Fatalf("pay page %d", status)
	}
	hidden("pay page", body)
	if status, body := page("POST", "/pay/"+o.Reference+"/reveal", url.Values{"proof": {"1234"}}); status != http.StatusForbidden {
		t.Errorf("wrong proof: %d", status)
	} else {
		hidden("pay page after a wrong proof", body)
	}
	status, body = page("POST", "/pay/"+o.Reference+"/reveal", url.Values{"proof": {"4567"}})
	if status != http.StatusOK || !strings.Contains(body, "Nguyễn Văn An") || !strings.Contains(body, "Cấp Phiếu lý lịch tư pháp") {
		t.Fatalf("right proof: %d, full detail not shown", status)
	}

	a := startAttempt(t, e, o.ID, "ewallet", "momo")
	pay(t, e, a, gatewaysim.PaySuccess)
	waitStatus(t, e, o.ID, "paid")
	_, receipt := page("GET", "/receipts/"+o.Reference+"?lang=en", nil)
	hidden("receipt", receipt)
	m := regexp.MustCompile(`id="verification-code">([0-9A-Z-]+)<`).FindStringSubmatch(receipt)
	if m == nil {
		t.Fatal("no verification code on the receipt")
	}
	if r := e.Do(t, "POST", "/v1/orders/"+o.ID+"/refunds", e.Treasury,
		`{"amount":200000,"expected_refundable":200000,"reason":"hồ sơ bị từ chối"}`); r.Status != http.StatusAccepted {
		t.Fatalf("refund = %d %s", r.Status, r.Body)
	}
	waitStatus(t, e, o.ID, "refunded")
	_, verify := page("GET", "/receipts/"+o.Reference+"/verify?lang=en&code="+m[1], nil)
	if !strings.Contains(verify, `data-result="refunded"`) || !strings.Contains(verify, "was refunded, 200,000\u00a0₫ on ") ||
		!strings.Contains(verify, "no longer proof of payment") || strings.Contains(verify, "Valid:") {
		t.Fatalf("verify page of a refunded order:\n%s", verify)
	}
}
