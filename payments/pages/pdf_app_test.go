package pages_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/sim/gatewaysim"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/internal/testkit/pdftest"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// TestPDFReceiptThroughTheApp pays an order through the real app and the
// gateway simulator, then downloads its PDF receipt: refused like the receipt
// page before the payment, a PDF naming the gateway after it, with the
// payer's name masked as the page masks it.
func TestPDFReceiptThroughTheApp(t *testing.T) {
	t.Parallel()
	e := apptest.NewWithSim(t)
	ctx := audit.System(context.Background(), "pdf receipt test")
	cat := catalogue.NewStore(e.Pool)
	if _, err := cat.UpsertAgency(ctx, catalogue.Agency{Code: "AG-A", Name: "Sở Tư pháp Thành phố Hồ Chí Minh", TreasuryAccount: "TA-A"}); err != nil {
		t.Fatal(err)
	}
	fee := decimal.NewFromInt(200000)
	if _, err := cat.UpsertService(ctx, catalogue.Service{Code: "A-FEE", AgencyCode: "AG-A", Name: "Lệ phí cấp phiếu lý lịch tư pháp",
		Kind: catalogue.KindFee, FixedAmount: &fee, Active: true}); err != nil {
		t.Fatal(err)
	}
	var o struct{ ID, Reference string }
	e.Do(t, "POST", "/v1/orders", e.Portal, `{"lines":[{"service":"A-FEE","agency":"AG-A","amount":200000}],
		"payer":{"name":"Nguyễn Thị Ánh","national_id":"079203001234","phone":"0903123456"},"description":"Phiếu số 1"}`,
		"Idempotency-Key", "pdf-receipt-1").JSON(t, &o)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		res, err := client.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, b
	}

	page, _ := get("/receipts/" + o.Reference)
	pdf, _ := get("/receipts/" + o.Reference + "/receipt.pdf")
	if page.StatusCode != http.StatusNotFound || pdf.StatusCode != page.StatusCode || pdf.Header.Get("Content-Type") != page.Header.Get("Content-Type") {
		t.Fatalf("unpaid: PDF %d %q, page %d %q: want the page's 404", pdf.StatusCode, pdf.Header.Get("Content-Type"),
			page.StatusCode, page.Header.Get("Content-Type"))
	}

	res, err := client.PostForm(e.URL+"/pay/"+o.Reference, url.Values{"method": {"ewallet:momo"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := e.Sim.Pay(gatewaysim.PayRequest{Gateway: "momo", PayURL: res.Header.Get("Location"), Outcome: gatewaysim.PaySuccess}); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Sim.WaitCallbacks(wait); err != nil {
		t.Fatal(err)
	}
	var got struct{ Status string }
	e.Do(t, "GET", "/v1/orders/"+o.ID, e.Portal, nil).JSON(t, &got)
	if got.Status != "paid" {
		t.Fatalf("order %s after the gateway's callback, want paid", got.Status)
	}

	pdf, body := get("/receipts/" + o.Reference + "/receipt.pdf")
	if pdf.StatusCode != http.StatusOK || pdf.Header.Get("Content-Type") != "application/pdf" ||
		pdf.Header.Get("Cache-Control") != "no-store" ||
		pdf.Header.Get("Content-Disposition") != `attachment; filename="bien-lai-`+o.Reference+`.pdf"` {
		t.Fatalf("paid: %d, headers %v", pdf.StatusCode, pdf.Header)
	}
	text, err := pdftest.Text(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Ng*** T** Ánh", "Sở Tư pháp Thành phố Hồ Chí Minh", "Lệ phí cấp phiếu lý lịch tư pháp",
		"200.000\u00a0₫", "MoMo · Ví điện tử", "Mã giao dịch của cổng", "*********234", "(GMT+7)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	for _, gone := range []string{"Nguyễn Thị Ánh", "Nguyễn", "079203001234", "0903123456"} {
		if strings.Contains(text, gone) || strings.Contains(string(body), gone) {
			t.Errorf("the PDF shows %q", gone)
		}
	}
	if t.Failed() {
		t.Logf("text:\n%s", text)
	}
	_, html := get("/receipts/" + o.Reference)
	if !strings.Contains(string(html), `/receipts/`+o.Reference+`/receipt.pdf?lang=vi`) {
		t.Error("the receipt page does not link its PDF")
	}
}
