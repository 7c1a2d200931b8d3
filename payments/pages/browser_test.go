package pages

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/testkit/browser"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/reference"
)

// screenshotPath is where the browser test leaves a picture of the pay page.
const screenshotPath = "/tmp/civicpay-pay.png"

// fakeGateway is the gateway's side for the browser test: a page with a link
// back to the order's return page (where the flow's return route sends the
// browser), carrying a forged "success".
func fakeGateway(c *fiber.Ctx) error {
	ref := c.Query("ref")
	if !reference.Valid(ref) {
		return fiber.ErrBadRequest
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(`<!doctype html><html lang="en"><title>Fake gateway</title><h1 id="fakegw">Fake MoMo</h1>` +
		`<noscript><p id="js-off">JavaScript is off</p></noscript>` +
		`<a id="back" href="/return/` + ref + `?resultCode=0&amp;message=Success">Back to the merchant</a></html>`)
}

// TestBrowserPayFlow drives headless Chromium, with JavaScript switched off,
// through a payment: the pay page (labels, methods, an open gateway left out),
// the form submitted to the (fake) gateway, back to the return page showing
// "pending" whatever the gateway's query string says, the page refreshing
// itself once the order is paid, the receipt and its verification code, and
// the code checked on the verify page.
func TestBrowserPayFlow(t *testing.T) {
	t.Parallel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	open := testOrder(t, "990000000000001", payments.StatusOpen)
	open.Payer.Phone = "0901234567"
	breakers := staticBreakers{allClosed[0], allClosed[1], {Name: "zalopay", State: "open", Methods: allClosed[2].Methods}, allClosed[3]}
	e := newEnvWith(t, Config{PublicURL: base, RefreshInterval: time.Second}, breakers, open)
	e.flow.answer = func(StartRequest) Started {
		return Started{RedirectURL: base + "/fakegw/pay?ref=" + open.Reference}
	}
	e.app.Get("/fakegw/pay", fakeGateway)
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.ShutdownWithTimeout(5 * time.Second) })

	b := browser.New(t, 90*time.Second) // generous: the machine may be busy
	step, read := b.Step, b.Read

	// The pay page: the methods of healthy gateways, each radio button named by
	// its label. Chromium asks for English; ?lang=vi chooses Vietnamese, and a
	// cookie keeps it for the pages after the gateway, whose URLs carry no lang.
	step("open the pay page", browser.NoScript(),
		chromedp.Navigate(base+"/pay/"+open.Reference+"?lang=vi"),
		chromedp.WaitVisible(chromedp.CSS("#pay-form")),
		browser.Shot(t, screenshotPath),
		checkAccessibleNames(t),
	)
	if label := read("MoMo's label", chromedp.Text(chromedp.CSS(`label[for="m-ewallet-momo"]`))); !strings.Contains(label, "Ví điện tử") || !strings.Contains(label, "MoMo") {
		t.Errorf("MoMo's label reads %q", label)
	}
	step("ZaloPay, whose breaker is open, is not offered", chromedp.WaitNotPresent(chromedp.CSS("#m-ewallet-zalopay")))

	// Choose MoMo and submit: a plain form post, then the gateway.
	step("pay with MoMo",
		chromedp.Click(chromedp.CSS(`label[for="m-ewallet-momo"]`)),
		chromedp.Click(chromedp.CSS(`#pay-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#fakegw")),
		chromedp.WaitVisible(chromedp.CSS("#js-off")), // the tab really runs without script
	)
	if s := e.flow.startRequests(); len(s) != 1 || s[0].Choice != (Choice{gateways.MethodEwallet, "momo"}) || s[0].Locale != langVI {
		t.Fatalf("attempts started: %+v", s)
	}
	if at := read("gateway URL", chromedp.Location()); at != base+"/fakegw/pay?ref="+open.Reference {
		t.Errorf("browser is at %s, not the gateway", at)
	}

	// Back from the gateway with a "success" in the query string: still pending.
	step("return from the gateway",
		chromedp.Click(chromedp.CSS("#back")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="pending"]`)),
	)
	if at := read("return URL", chromedp.Location()); !strings.HasPrefix(at, base+"/return/"+open.Reference+"?") {
		t.Errorf("return page at %s", at)
	}
	if status := read("status", chromedp.Text(chromedp.CSS("#status"))); !strings.Contains(status, "Đang chờ xác nhận") {
		t.Errorf("return page says %q, want pending", status)
	}
	if got := e.orders.get(open.Reference); got.Status != payments.StatusOpen || got.PaidAt != nil {
		t.Fatalf("the browser's return changed the order: %s", got.Status)
	}

	// The gateway confirms (here: the fake marks the order paid); the page,
	// refreshing itself without script, shows it and links the receipt.
	paid := open
	paidAt := time.Now().UTC().Truncate(time.Microsecond)
	paid.Status, paid.PaidAt, paid.AmountPaid = payments.StatusPaid, &paidAt, paid.Total
	e.orders.put(paid)
	e.flow.setLatest(paid.Reference, Attempt{Choice: Choice{gateways.MethodEwallet, "momo"}, Status: gateways.StatusSucceeded})
	step("see it paid and open the receipt",
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="paid"]`)),
		chromedp.Click(chromedp.CSS("#receipt-link")),
		chromedp.WaitVisible(chromedp.CSS("#verification-code")),
	)
	want, _ := e.h.ReceiptCode(paid)
	if code := read("code", chromedp.Text(chromedp.CSS("#verification-code"))); strings.TrimSpace(code) != want {
		t.Fatalf("receipt shows code %q, want %q", code, want)
	}

	// The receipt offers itself as a PDF download, in the page's language.
	actx, cancel := context.WithTimeout(b.Context(), 15*time.Second)
	attrs, err := chromedp.Run(actx, chromedp.Attributes(chromedp.CSS("#pdf-link")))
	cancel()
	if err != nil {
		t.Fatalf("PDF link: %v", err)
	}
	if _, download := attrs["download"]; attrs["href"] != "/receipts/"+paid.Reference+"/receipt.pdf?lang=vi" || !download {
		t.Errorf("PDF link %v, want a download of /receipts/%s/receipt.pdf?lang=vi", attrs, paid.Reference)
	}
	if res, err := http.Get(base + attrs["href"]); err != nil {
		t.Errorf("download the PDF: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
			t.Errorf("PDF link answers %d %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	}

	// The receipt masks the payer's name; the last four digits of the phone,
	// typed in the proof form (a plain post), show it in full.
	if page := read("receipt", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(page, testPayerMasked) || strings.Contains(page, testPayer) {
		t.Errorf("receipt does not mask the name: %q", page)
	}
	step("prove possession",
		chromedp.SendKeys(chromedp.CSS("#proof-input"), "4567"),
		chromedp.Click(chromedp.CSS(`#proof-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#revealed")),
	)
	if page := read("revealed receipt", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(page, testPayer) {
		t.Errorf("the proof did not show the name: %q", page)
	}

	// Whoever holds the receipt checks the code on the verify page, typed in
	// lower case and submitted with the Enter key.
	step("verify the code",
		chromedp.Click(chromedp.CSS("#verify-link")),
		chromedp.WaitVisible(chromedp.CSS("#code")),
		chromedp.SendKeys(chromedp.CSS("#code"), strings.ToLower(want)+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`#result[data-result="ok"]`)),
	)
	if result := read("result", chromedp.Text(chromedp.CSS("#result"))); !strings.Contains(result, "Hợp lệ") {
		t.Errorf("verify page says %q", result)
	}
}

// checkAccessibleNames reads the page's accessibility tree: one level-1
// heading, every radio button named (by its <label for>), and the submit
// button a button named for what it does.
func checkAccessibleNames(t *testing.T) chromedp.Action[chromedp.Void] {
	var nodes []browser.Node
	read := browser.Tree(&nodes)
	return chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		if _, err := read(ctx, tgt); err != nil {
			return err
		}
		var radios, h1 int
		var buttons []string
		for _, n := range nodes {
			switch n.Role {
			case "radio":
				radios++
				if n.Name == "" {
					t.Error("a radio button has no accessible name")
				}
			case "button":
				buttons = append(buttons, n.Name)
				if n.Name == "" {
					t.Error("a button has no accessible name")
				}
			case "heading":
				if n.Level == 1 {
					h1++
				}
			}
		}
		if radios != 5 { // vnpay ×3, momo, vietqr; zalopay's breaker is open
			t.Errorf("%d radio buttons in the accessibility tree, want 5", radios)
		}
		if h1 != 1 {
			t.Errorf("%d level-1 headings, want 1", h1)
		}
		if !slices.ContainsFunc(buttons, func(b string) bool { return strings.HasPrefix(b, "Tiếp tục thanh toán") }) {
			t.Errorf("no submit button named Tiếp tục thanh toán: %q", buttons)
		}
		return nil
	})
}
