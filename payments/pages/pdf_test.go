package pages

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/testkit/pdftest"
	"github.com/civicpay/civicpay/payments"
)

// fixedPayments says every order was paid by one card payment at VNPAY, or
// fails with err.
type fixedPayments struct{ err error }

const testGatewayTxn = "14523877"

func (f fixedPayments) PaidBy(context.Context, payments.Order) (Payment, bool, error) {
	if f.err != nil {
		return Payment{}, false, f.err
	}
	return Payment{Choice: Choice{Method: gateways.MethodCard, Gateway: "vnpay"}, GatewayRef: testGatewayTxn}, true, nil
}

func withPayments(p Payments) func(*Deps) { return func(d *Deps) { d.Payments = p } }

// pdfText is the text of a PDF response, which must be one.
func pdfText(t testing.TB, r response) string {
	t.Helper()
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("status %d, Content-Type %q, want 200 application/pdf; body %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	text, err := pdftest.Text([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestReceiptPDF(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "910000000000001", payments.StatusPaid)
	e := newEnvDeps(t, withPayments(fixedPayments{}), Config{PublicURL: testPublicURL}, allClosed, o)
	code, _ := e.h.ReceiptCode(o)
	tests := []struct {
		lang, file string
		wants      []string
	}{
		{langVI, "bien-lai-" + o.Reference + ".pdf", []string{
			"Biên lai thanh toán", "Người nộp", testPayerMasked, "*********234", "Cấp hộ chiếu phổ thông",
			"Phòng Quản lý xuất nhập cảnh TP.HCM; Bưu điện Việt Nam", "Lệ phí cấp hộ chiếu", "Bưu điện Việt Nam",
			"150.000" + nbsp + "₫", "50.000" + nbsp + "₫", "200.000" + nbsp + "₫", "Đã thanh toán",
			"14:30 ngày 24/11/2026 (GMT+7)", "VNPAY · Thẻ ngân hàng (ATM, Visa, Mastercard)", testGatewayTxn,
			code, testPublicURL + "/receipts/" + o.Reference + "/verify",
		}},
		{langEN, "receipt-" + o.Reference + ".pdf", []string{
			"Payment receipt", "Payer", testPayerMasked, "200,000" + nbsp + "₫", "24 Nov 2026, 14:30 (GMT+7)",
			"VNPAY · Bank card (ATM, Visa, Mastercard)", "Gateway reference", testGatewayTxn, code,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			r := e.get(t, "/receipts/"+o.Reference+"/receipt.pdf?lang="+tc.lang)
			text := pdfText(t, r)
			for h, want := range map[string]string{
				"Content-Disposition":    `attachment; filename="` + tc.file + `"`,
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			for _, want := range tc.wants {
				if !strings.Contains(text, want) {
					t.Errorf("the PDF lacks %q", want)
				}
			}
			// No more personal data than the page: the name masked, the
			// national ID masked, in the text and anywhere in the file.
			for _, gone := range []string{testPayer, "Nguyễn", testNationalID, testNationalID[:9]} {
				if strings.Contains(text, gone) {
					t.Errorf("the PDF shows %q", gone)
				}
			}
			if t.Failed() {
				t.Logf("text:\n%s", text)
			}
		})
	}
}

// TestReceiptPDFSensitive: a sensitive service is not named on the PDF, even
// for a payer who could prove possession (the PDF never asks).
func TestReceiptPDFSensitive(t *testing.T) {
	t.Parallel()
	o := sensitiveOrder(t, "910000000000002", payments.StatusPaid, "0903 123 456", "")
	e := newEnv(t, allClosed, o)
	text := pdfText(t, e.get(t, "/receipts/"+o.Reference+"/receipt.pdf"))
	if !strings.Contains(text, "Dịch vụ công") || !strings.Contains(text, testJusticeAgency) || !strings.Contains(text, testPayerMasked) {
		t.Errorf("the PDF lacks the generic label, the agency or the masked name:\n%s", text)
	}
	for _, gone := range []string{testSensitiveService, testSensitiveDesc, "STP-LLTP", testPayer, "Cổng thanh toán"} {
		if strings.Contains(text, gone) {
			t.Errorf("the PDF of a sensitive order shows %q", gone)
		}
	}
	rc, ok := e.h.PDFReceipt(context.Background(), o, "vi")
	if !ok || rc.Payer != testPayerMasked || rc.Description != "" || rc.Lines[0].Service != "Dịch vụ công" || rc.Lines[0].Kind != "" {
		t.Errorf("PDFReceipt = %+v, %v: want the masked, generic receipt", rc, ok)
	}
}

// TestReceiptPDFRefusedLikeThePage: an order without a receipt, an unknown
// or a malformed reference get from the PDF route exactly the receipt page's
// answer (an HTML error page), and a receipt's PDF counts against the same
// per-reference limit as its page.
func TestReceiptPDFRefusedLikeThePage(t *testing.T) {
	t.Parallel()
	var orders []payments.Order
	for i, st := range []payments.Status{payments.StatusOpen, payments.StatusCancelled, payments.StatusExpired} {
		orders = append(orders, testOrder(t, fmt.Sprintf("91000000000010%d", i), st))
	}
	e := newEnv(t, allClosed, orders...)
	refs := []string{"RF00-hello", refFor(t, "919999999999999")}
	for _, o := range orders {
		refs = append(refs, o.Reference)
	}
	for _, ref := range refs {
		for _, lang := range []string{langVI, langEN} {
			page := e.get(t, "/receipts/"+ref+"?lang="+lang)
			pdf := e.get(t, "/receipts/"+ref+"/receipt.pdf?lang="+lang)
			if page.status == http.StatusOK || pdf.status != page.status || pdf.header.Get("Content-Type") != page.header.Get("Content-Type") {
				t.Errorf("%s %s: PDF %d %q, page %d %q: want the page's refusal", ref, lang,
					pdf.status, pdf.header.Get("Content-Type"), page.status, page.header.Get("Content-Type"))
			}
			// The pages differ only by their own path (the language switch).
			if got := strings.ReplaceAll(pdf.body, "/receipt.pdf", ""); got != page.body {
				t.Errorf("%s %s: the PDF route's error page differs from the receipt page's", ref, lang)
			}
		}
	}

	paid := testOrder(t, "910000000000201", payments.StatusPaid)
	var mu sync.Mutex
	seen := map[string]int{}
	perRef := func(c *fiber.Ctx) error { // a limit of 2 per reference, as the app's guard counts
		mu.Lock()
		seen[ReferenceKey(c)]++
		n := seen[ReferenceKey(c)]
		mu.Unlock()
		if n > 2 {
			return c.SendStatus(http.StatusTooManyRequests)
		}
		return c.Next()
	}
	limited := newEnvWith(t, Config{PublicURL: testPublicURL, Guards: []fiber.Handler{perRef}}, allClosed, paid)
	for i, path := range []string{"/receipts/%s", "/receipts/%s/receipt.pdf", "/receipts/%s/receipt.pdf", "/receipts/%s"} {
		r := limited.get(t, fmt.Sprintf(path, paid.Reference))
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 2]; r.status != want {
			t.Errorf("request %d (%s): %d, want %d", i, path, r.status, want)
		}
	}
}

func TestReceiptPDFRefunds(t *testing.T) {
	t.Parallel()
	partial := testOrder(t, "910000000000301", payments.StatusPartiallyRefunded)
	full := testOrder(t, "910000000000302", payments.StatusRefunded)
	e := newEnvDeps(t, withPayments(fixedPayments{}), Config{PublicURL: testPublicURL}, allClosed, partial, full)
	text := pdfText(t, e.get(t, "/receipts/"+partial.Reference+"/receipt.pdf"))
	if !strings.Contains(text, "Đã hoàn trả") || !strings.Contains(text, "50.000"+nbsp+"₫") || strings.Contains(text, "hoàn trả toàn bộ") {
		t.Errorf("partly refunded: want the refund and no void notice:\n%s", text)
	}
	text = pdfText(t, e.get(t, "/receipts/"+full.Reference+"/receipt.pdf?lang=en"))
	if !strings.Contains(text, "refunded in full") || !strings.Contains(text, "Paid, refunded") {
		t.Errorf("refunded: want the void notice:\n%s", text)
	}
}

// TestReceiptPDFWithoutGateway: when the payment cannot be told, the receipt
// is still given, without the gateway.
func TestReceiptPDFWithoutGateway(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "910000000000401", payments.StatusPaid)
	e := newEnvDeps(t, withPayments(fixedPayments{err: errors.New("database down")}), Config{PublicURL: testPublicURL}, allClosed, o)
	text := pdfText(t, e.get(t, "/receipts/"+o.Reference+"/receipt.pdf"))
	if strings.Contains(text, "Cổng thanh toán") || !strings.Contains(text, "Mã xác thực") {
		t.Errorf("want a receipt without the gateway:\n%s", text)
	}
}

func TestReceiptPageLinksPDF(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "910000000000501", payments.StatusPaid)
	e := newEnv(t, allClosed, o)
	for lang, label := range map[string]string{langVI: "Tải biên lai PDF", langEN: "Download PDF receipt"} {
		body := html.UnescapeString(e.get(t, "/receipts/"+o.Reference+"?lang="+lang).body)
		mustContain(t, body, `href="/receipts/`+o.Reference+`/receipt.pdf?lang=`+lang+`" id="pdf-link" download>`+label+`</a>`)
	}
	if _, ok := e.h.PDFReceipt(context.Background(), testOrder(t, "910000000000502", payments.StatusOpen), "vi"); ok {
		t.Error("PDFReceipt gave a receipt for an unpaid order")
	}
}

// TestReceiptPDFBounded: PDFs are drawn a few at a time; a request that gets
// no turn before its timeout is a 503 with Retry-After, and every finished
// render gives its turn back.
func TestReceiptPDFBounded(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "910000000000601", payments.StatusPaid)
	e := newEnv(t, allClosed, o)
	for i := range cap(e.h.pdfSlots) + 2 {
		if r := e.get(t, "/receipts/"+o.Reference+"/receipt.pdf"); r.status != http.StatusOK {
			t.Fatalf("request %d: %d, want 200 (turns given back)", i, r.status)
		}
	}

	busy := newEnvWith(t, Config{PublicURL: testPublicURL, Timeout: time.Millisecond}, allClosed, o)
	for range cap(busy.h.pdfSlots) {
		busy.h.pdfSlots <- struct{}{} // every turn taken
	}
	r := busy.get(t, "/receipts/"+o.Reference+"/receipt.pdf")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.header.Get("Content-Type") == "application/pdf" {
		t.Errorf("no turn: %d, Retry-After %q, %q: want a 503 page with Retry-After", r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"))
	}
	if page := busy.get(t, "/receipts/"+o.Reference); page.status != http.StatusOK {
		t.Errorf("the receipt page waits for no PDF turn: %d", page.status)
	}
}
