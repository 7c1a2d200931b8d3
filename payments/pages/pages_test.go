package pages

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
)

const nbsp = "\u00a0"

func TestPayPageLanguages(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "100000000000001", payments.StatusOpen)
	e := newEnv(t, allClosed, o)
	vi := []string{`<html lang="vi">`, "Thanh toán khoản phải nộp", "Chọn phương thức thanh toán", "200.000" + nbsp + "₫",
		"150.000" + nbsp + "₫", "Tổng cộng", "Tiếp tục thanh toán", "Thẻ ngân hàng (ATM, Visa, Mastercard)", "Ví điện tử", "Lệ phí"}
	en := []string{`<html lang="en">`, "Pay what you owe", "Choose how to pay", "200,000" + nbsp + "₫",
		"150,000" + nbsp + "₫", "Total", "Continue to payment", "Bank card (ATM, Visa, Mastercard)", "E-wallet", "Charge"}
	tests := []struct {
		name    string
		target  string
		headers []string
		want    []string
		cookie  string // a Set-Cookie the response must carry
	}{
		{name: "default is Vietnamese", target: "/pay/" + o.Reference, want: vi},
		{name: "lang=en", target: "/pay/" + o.Reference + "?lang=en", want: en, cookie: "civicpay_lang=en"},
		{name: "lang=vi beats Accept-Language", target: "/pay/" + o.Reference + "?lang=vi", headers: []string{"Accept-Language: en-US,en;q=0.9"}, want: vi, cookie: "civicpay_lang=vi"},
		{name: "Accept-Language English", target: "/pay/" + o.Reference, headers: []string{"Accept-Language: en-GB,en;q=0.8"}, want: en},
		{name: "Accept-Language Vietnamese first", target: "/pay/" + o.Reference, headers: []string{"Accept-Language: vi-VN,vi;q=0.9,en;q=0.5"}, want: vi},
		{name: "Accept-Language unsupported", target: "/pay/" + o.Reference, headers: []string{"Accept-Language: fr-FR"}, want: vi},
		{name: "Accept-Language garbage", target: "/pay/" + o.Reference, headers: []string{"Accept-Language: ;;;q=x,@@"}, want: vi},
		{name: "cookie from an earlier choice", target: "/pay/" + o.Reference, headers: []string{"Cookie: civicpay_lang=en"}, want: en},
		{name: "unknown lang ignored", target: "/pay/" + o.Reference + "?lang=fr", headers: []string{"Accept-Language: en"}, want: en},
		{name: "reference typed with spaces and lower case", target: "/pay/" + url.PathEscape(strings.ToLower(o.Reference[:4])+" "+o.Reference[4:]), want: vi},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.get(t, tc.target, tc.headers...)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200", r.status)
			}
			text := html.UnescapeString(r.body)
			mustContain(t, text, tc.want...)
			mustContain(t, text, testPayerMasked, "*********234", "Phòng Quản lý xuất nhập cảnh TP.HCM", "Lệ phí cấp hộ chiếu",
				"POSTAGE", "Cấp hộ chiếu phổ thông", "RF", "VNPAY", "MoMo", "ZaloPay", "VietQR")
			mustNotContain(t, r.body, testNationalID, "<script")
			mustNotContain(t, text, testPayer)
			for _, id := range []string{"m-card-vnpay", "m-internet_banking-vnpay", "m-qr-vnpay", "m-ewallet-momo", "m-ewallet-zalopay", "m-bank_transfer-vietqr"} {
				mustContain(t, r.body, `<label for="`+id+`">`, `id="`+id+`"`)
			}
			if n := strings.Count(r.body, `type="radio"`); n != 6 {
				t.Errorf("%d radio buttons, want 6", n)
			}
			mustContain(t, r.body, `<button type="submit"`, `<form method="post"`, `<fieldset`, `<legend>`)
			if tc.cookie != "" && !strings.Contains(r.header.Get("Set-Cookie"), tc.cookie) {
				t.Errorf("Set-Cookie %q, want %s", r.header.Get("Set-Cookie"), tc.cookie)
			}
		})
	}
}

func TestErrorPages(t *testing.T) {
	t.Parallel()
	unknown := refFor(t, "999999999999999")
	e := newEnv(t, allClosed, testOrder(t, "100000000000002", payments.StatusOpen))
	good := testOrder(t, "100000000000002", payments.StatusOpen).Reference
	mistyped := good[:len(good)-2] + good[len(good)-1:] + good[len(good)-2:len(good)-1] // last two digits swapped
	tests := []struct {
		name   string
		ref    string
		status int
		vi, en string
	}{
		{"malformed", "RF00-hello", http.StatusBadRequest, "Mã thanh toán không hợp lệ", "Payment reference not valid"},
		{"not RF", "123456789", http.StatusBadRequest, "Mã thanh toán không hợp lệ", "Payment reference not valid"},
		{"check digits wrong", mistyped, http.StatusBadRequest, "có thể một ký tự đã bị gõ nhầm", "a character may have been mistyped"},
		{"unknown", unknown, http.StatusNotFound, "Không có khoản thanh toán nào với mã này", "There is no payment with this reference"},
	}
	routes := []struct {
		method, path string
	}{
		{http.MethodGet, "/pay/%s"}, {http.MethodPost, "/pay/%s"}, {http.MethodGet, "/return/%s"},
		{http.MethodGet, "/receipts/%s"}, {http.MethodGet, "/receipts/%s/verify?code=AAAA-AAAA-AAAA-AAAA"},
		{http.MethodGet, "/receipts/%s/receipt.pdf"},
	}
	for _, tc := range tests {
		for _, rt := range routes {
			for _, lang := range []string{langVI, langEN} {
				t.Run(fmt.Sprintf("%s %s %s %s", tc.name, rt.method, rt.path, lang), func(t *testing.T) {
					t.Parallel()
					target := fmt.Sprintf(rt.path, url.PathEscape(tc.ref))
					target += map[bool]string{true: "&", false: "?"}[strings.Contains(target, "?")] + "lang=" + lang
					var r response
					if rt.method == http.MethodPost {
						r = e.post(t, target, url.Values{"method": {"card:vnpay"}})
					} else {
						r = e.get(t, target)
					}
					if r.status != tc.status {
						t.Fatalf("status %d, want %d", r.status, tc.status)
					}
					want := map[string]string{langVI: tc.vi, langEN: tc.en}[lang]
					mustContain(t, html.UnescapeString(r.body), want, `<html lang="`+lang+`">`, "<h1")
				})
			}
		}
	}
	if n := len(e.flow.startRequests()); n != 0 {
		t.Errorf("%d attempts started for bad references", n)
	}
}

func TestReceiptOnlyForPaid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   payments.Status
		paid     bool
		refunded string
	}{
		{payments.StatusOpen, false, ""},
		{payments.StatusCancelled, false, ""},
		{payments.StatusExpired, false, ""},
		{payments.StatusPaid, true, ""},
		{payments.StatusPartiallyRefunded, true, "50.000" + nbsp + "₫"},
		{payments.StatusRefunded, true, "50.000" + nbsp + "₫"},
	}
	for i, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("2000000000000%02d", i), tc.status)
			e := newEnv(t, allClosed, o)
			for _, path := range []string{"/receipts/" + o.Reference, "/receipts/" + o.Reference + "/verify"} {
				r := e.get(t, path)
				text := html.UnescapeString(r.body)
				if !tc.paid {
					if r.status != http.StatusNotFound {
						t.Errorf("%s: status %d, want 404", path, r.status)
					}
					mustContain(t, text, "Biên lai chỉ có sau khi khoản thanh toán được xác nhận")
					mustNotContain(t, text, "Mã xác thực")
					continue
				}
				if r.status != http.StatusOK {
					t.Errorf("%s: status %d, want 200", path, r.status)
				}
			}
			if !tc.paid {
				if _, ok := e.h.ReceiptCode(o); ok {
					t.Error("ReceiptCode gave a code for an unpaid order")
				}
				return
			}
			r := e.get(t, "/receipts/"+o.Reference)
			code, ok := e.h.ReceiptCode(o)
			if !ok {
				t.Fatal("no receipt code for a paid order")
			}
			text := html.UnescapeString(r.body)
			mustContain(t, text, "Biên lai thanh toán", "Mã xác thực", `id="verification-code">`+code+"<",
				"14:30 ngày 24/11/2026 (GMT+7)", "200.000"+nbsp+"₫", testPublicURL+"/receipts/"+o.Reference+"/verify")
			if tc.refunded != "" {
				mustContain(t, text, "Đã hoàn trả", tc.refunded)
			}
			en := html.UnescapeString(e.get(t, "/receipts/"+o.Reference+"?lang=en").body)
			mustContain(t, en, "Payment receipt", "Verification code", code, "24 Nov 2026, 14:30 (GMT+7)")
		})
	}
}

func TestReturnPageIsReadOnly(t *testing.T) {
	t.Parallel()
	// What a forged or replayed browser return carries: every gateway's "success".
	forged := "?vnp_ResponseCode=00&vnp_TransactionStatus=00&resultCode=0&status=1&vnp_SecureHash=bad"
	past := func(o payments.Order) payments.Order { o.ExpiresAt = time.Now().Add(-time.Minute); return o }
	pending := &Attempt{Choice: Choice{gateways.MethodCard, "vnpay"}, Status: gateways.StatusPending}
	tests := []struct {
		name    string
		order   func(payments.Order) payments.Order
		status  payments.Status
		attempt *Attempt
		state   string
		want    []string
	}{
		{"open, nothing started", nil, payments.StatusOpen, nil, "none", []string{"Chưa có giao dịch thanh toán nào"}},
		{"pending, forged success", nil, payments.StatusOpen, pending, "pending",
			[]string{"Đang chờ xác nhận — chúng tôi đang chờ cổng thanh toán xác nhận giao dịch.", `<meta http-equiv="refresh" content="5">`}},
		{"gateway said succeeded, order not yet paid", nil, payments.StatusOpen,
			&Attempt{Choice: Choice{gateways.MethodEwallet, "momo"}, Status: gateways.StatusSucceeded}, "pending", []string{"Đang chờ xác nhận"}},
		{"failed", nil, payments.StatusOpen, &Attempt{Choice: Choice{gateways.MethodEwallet, "momo"}, Status: gateways.StatusFailed},
			"failed", []string{"Giao dịch chưa thành công", "Thử lại"}},
		{"pending past expiry", past, payments.StatusOpen, pending, "pending", []string{"Đang chờ xác nhận"}},
		{"open past expiry, nothing pending", past, payments.StatusOpen, nil, "closed", []string{"đã hết hạn"}},
		{"paid", nil, payments.StatusPaid, pending, "paid", []string{"Đã thanh toán — xin cảm ơn.", "Xem biên lai"}},
		{"cancelled", nil, payments.StatusCancelled, nil, "closed", []string{"đã bị hủy"}},
		{"expired", nil, payments.StatusExpired, pending, "closed", []string{"đã hết hạn"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("3000000000000%02d", i), tc.status)
			if tc.order != nil {
				o = tc.order(o)
			}
			e := newEnv(t, allClosed, o)
			if tc.attempt != nil {
				e.flow.setLatest(o.Reference, *tc.attempt)
			}
			for _, target := range []string{"/return/" + o.Reference + forged, "/return/" + o.Reference} {
				r := e.get(t, target)
				if r.status != http.StatusOK {
					t.Fatalf("status %d", r.status)
				}
				mustContain(t, html.UnescapeString(r.body), append(tc.want, `data-state="`+tc.state+`"`)...)
				if refresh := strings.Contains(r.body, `http-equiv="refresh"`); refresh != (tc.state == "pending") {
					t.Errorf("refresh %v in state %s", refresh, tc.state)
				}
			}
			if n := len(e.flow.startRequests()); n != 0 {
				t.Errorf("the return page started %d attempts", n)
			}
			after := e.orders.get(o.Reference)
			if after.Status != o.Status || (after.PaidAt == nil) != (o.PaidAt == nil) {
				t.Errorf("order changed: %s → %s", o.Status, after.Status)
			}
			if a, found, _ := e.flow.Latest(context.Background(), o); found != (tc.attempt != nil) || (found && a != *tc.attempt) {
				t.Errorf("latest attempt changed: %+v", a)
			}
		})
	}
	t.Run("English pending", func(t *testing.T) {
		t.Parallel()
		o := testOrder(t, "300000000000099", payments.StatusOpen)
		e := newEnv(t, allClosed, o)
		e.flow.setLatest(o.Reference, *pending)
		mustContain(t, html.UnescapeString(e.get(t, "/return/"+o.Reference+"?lang=en").body),
			"Pending — we are waiting for the gateway's confirmation.", "every 5 seconds")
	})
}

func TestPayPageWarnsOfPendingPayment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		attempt *Attempt
		warned  bool
	}{
		{"nothing started", nil, false},
		{"pending", &Attempt{Choice: Choice{gateways.MethodEwallet, "momo"}, Status: gateways.StatusPending}, true},
		{"failed", &Attempt{Choice: Choice{gateways.MethodEwallet, "momo"}, Status: gateways.StatusFailed}, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("3100000000000%02d", i), payments.StatusOpen)
			e := newEnv(t, allClosed, o)
			if tc.attempt != nil {
				e.flow.setLatest(o.Reference, *tc.attempt)
			}
			r := e.get(t, "/pay/"+o.Reference+"?lang=en")
			if got := strings.Contains(r.body, `id="pending"`); got != tc.warned {
				t.Fatalf("pending notice %v, want %v", got, tc.warned)
			}
			if tc.warned {
				mustContain(t, html.UnescapeString(r.body), "If you have paid, do not pay again.", `href="/return/`+o.Reference+`?lang=en"`)
			}
			mustContain(t, r.body, `id="m-ewallet-momo"`) // the methods stay on offer
		})
	}
}

// techFailing is a gateway whose creates and status queries fail
// technically, to trip its breakers.
type techFailing struct {
	name    string
	methods []gateways.Method
}

func (g techFailing) Name() string               { return g.name }
func (g techFailing) Methods() []gateways.Method { return g.methods }
func (g techFailing) Create(context.Context, gateways.CreateRequest) (gateways.CreateResult, error) {
	return gateways.CreateResult{}, &gateways.TechnicalError{Op: g.name + ": create", Err: errors.New("503 Service Unavailable")}
}
func (g techFailing) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, gateways.ErrUnsupported
}
func (g techFailing) Reply(gateways.Ack) (int, string, []byte) {
	return http.StatusOK, "text/plain", nil
}
func (g techFailing) Query(context.Context, gateways.QueryRequest) (gateways.Result, error) {
	return gateways.Result{}, &gateways.TechnicalError{Op: g.name + ": query", Err: errors.New("503 Service Unavailable")}
}
func (g techFailing) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{}, gateways.ErrUnsupported
}

func TestOpenBreakerNotOffered(t *testing.T) {
	t.Parallel()
	// newRouter opens the create breakers of trip (failed creates) and the
	// query breakers of queriesFail (failed status queries).
	newRouter := func(t *testing.T, trip, queriesFail []string) *gateways.Router {
		b := config.Defaults("").BreakerSettings()
		b.ConsecutiveFailures, b.OpenTimeout = 2, time.Hour
		router, err := gateways.NewRouter(gateways.RouterConfig{Breaker: b},
			techFailing{"vnpay", []gateways.Method{gateways.MethodCard}},
			techFailing{"momo", []gateways.Method{gateways.MethodEwallet}},
			techFailing{"zalopay", []gateways.Method{gateways.MethodEwallet}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(router.Close)
		fail := func(names []string, call func(gateways.Gateway) error) {
			for _, name := range names {
				gw, err := router.Get(name)
				if err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if err := call(gw); !gateways.IsTechnical(err) {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}
		}
		fail(trip, func(gw gateways.Gateway) error {
			_, err := gw.Create(context.Background(), gateways.CreateRequest{AttemptRef: "x"})
			return err
		})
		fail(queriesFail, func(gw gateways.Gateway) error {
			_, err := gw.Query(context.Background(), gateways.QueryRequest{GatewayRef: "x"})
			return err
		})
		return router
	}
	tests := []struct {
		name          string
		trip          []string
		queriesFail   []string
		shown, hidden []string
		noneLeft      bool
	}{
		{name: "all closed", shown: []string{"m-card-vnpay", "m-ewallet-momo", "m-ewallet-zalopay"}},
		// Failing status queries say nothing about new payments: still offered.
		{name: "status queries failing", queriesFail: []string{"vnpay", "momo", "zalopay"}, shown: []string{"m-card-vnpay", "m-ewallet-momo", "m-ewallet-zalopay"}},
		{name: "zalopay open", trip: []string{"zalopay"}, shown: []string{"m-card-vnpay", "m-ewallet-momo"}, hidden: []string{"m-ewallet-zalopay"}},
		{name: "both wallets open", trip: []string{"momo", "zalopay"}, shown: []string{"m-card-vnpay"}, hidden: []string{"m-ewallet-momo", "m-ewallet-zalopay"}},
		{name: "all open", trip: []string{"vnpay", "momo", "zalopay"}, hidden: []string{"m-card-vnpay", "m-ewallet-momo", "m-ewallet-zalopay"}, noneLeft: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("4000000000000%02d", i), payments.StatusOpen)
			e := newEnv(t, newRouter(t, tc.trip, tc.queriesFail), o)
			r := e.get(t, "/pay/"+o.Reference)
			for _, id := range tc.shown {
				mustContain(t, r.body, `id="`+id+`"`)
			}
			for _, id := range tc.hidden {
				mustNotContain(t, r.body, `id="`+id+`"`)
				// Even a hand-made form cannot start an attempt at an open gateway.
				choice := strings.Replace(strings.TrimPrefix(id, "m-"), "-", ":", 1)
				p := e.post(t, "/pay/"+o.Reference, url.Values{"method": {choice}})
				if p.status != http.StatusServiceUnavailable {
					t.Errorf("POST %s: status %d, want 503", choice, p.status)
				}
				mustContain(t, html.UnescapeString(p.body), "Phương thức này tạm thời không khả dụng")
			}
			if got := strings.Contains(r.body, `id="no-methods"`); got != tc.noneLeft {
				t.Errorf("no-methods notice %v, want %v", got, tc.noneLeft)
			}
			if n := len(e.flow.startRequests()); n != 0 {
				t.Errorf("%d attempts started at open gateways", n)
			}
		})
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	qr := func(StartRequest) Started {
		return Started{QRPayload: "00020101021238570010A00000072701270006970436011300123456789010208QRIBFTTA53037045406200000"}
	}
	tests := []struct {
		name     string
		status   payments.Status
		form     url.Values
		startErr error
		answer   func(StartRequest) Started
		code     int
		location string // a prefix of the redirect, if any
		want     []string
		started  bool
	}{
		{name: "card redirects to the gateway", form: url.Values{"method": {"card:vnpay"}}, code: http.StatusSeeOther,
			location: "https://gateway.example/pay?txn=", started: true},
		{name: "VietQR shows a code", form: url.Values{"method": {"bank_transfer:vietqr"}}, answer: qr, code: http.StatusOK,
			want: []string{"<svg", `role="img"`, `aria-label="Mã QR chuyển khoản 200.000` + nbsp + `₫`, "Chuyển khoản bằng mã VietQR", "Tôi đã chuyển khoản"}, started: true},
		{name: "no choice", form: url.Values{}, code: http.StatusBadRequest, want: []string{"Vui lòng chọn một phương thức thanh toán."}},
		{name: "unknown method", form: url.Values{"method": {"cash:vnpay"}}, code: http.StatusBadRequest, want: []string{"Vui lòng chọn"}},
		{name: "method the gateway lacks", form: url.Values{"method": {"ewallet:vnpay"}}, code: http.StatusBadRequest, want: []string{"Vui lòng chọn"}},
		{name: "no colon", form: url.Values{"method": {"card"}}, code: http.StatusBadRequest, want: []string{"Vui lòng chọn"}},
		{name: "no healthy gateway", form: url.Values{"method": {"ewallet:momo"}}, startErr: fmt.Errorf("pick: %w", gateways.ErrNoGateway),
			code: http.StatusServiceUnavailable, want: []string{"tạm thời không khả dụng"}},
		{name: "breaker opened meanwhile", form: url.Values{"method": {"ewallet:momo"}}, startErr: fmt.Errorf("momo: %w", gateways.ErrOpen),
			code: http.StatusServiceUnavailable, want: []string{"tạm thời không khả dụng"}},
		{name: "order closed meanwhile", form: url.Values{"method": {"card:vnpay"}}, startErr: fmt.Errorf("attempt: %w", payments.ErrNotOpen),
			code: http.StatusConflict},
		{name: "gateway broke", form: url.Values{"method": {"card:vnpay"}}, startErr: &gateways.TechnicalError{Op: "momo: create", Err: errors.New("timeout")},
			code: http.StatusBadGateway, want: []string{"Chưa thể bắt đầu thanh toán"}},
		{name: "redirect that is not a web URL", form: url.Values{"method": {"card:vnpay"}},
			answer: func(StartRequest) Started { return Started{RedirectURL: "javascript:alert(1)"} },
			code:   http.StatusBadGateway, want: []string{"Chưa thể bắt đầu thanh toán"}, started: true},
		{name: "empty answer", form: url.Values{"method": {"card:vnpay"}}, answer: func(StartRequest) Started { return Started{} },
			code: http.StatusBadGateway, started: true},
		{name: "cancelled order", status: payments.StatusCancelled, form: url.Values{"method": {"card:vnpay"}}, code: http.StatusConflict,
			want: []string{"đã bị hủy"}},
		{name: "paid order", status: payments.StatusPaid, form: url.Values{"method": {"card:vnpay"}}, code: http.StatusConflict,
			want: []string{"Khoản này đã được thanh toán.", `id="receipt-link"`}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status := tc.status
			if status == "" {
				status = payments.StatusOpen
			}
			o := testOrder(t, fmt.Sprintf("5000000000000%02d", i), status)
			e := newEnv(t, allClosed, o)
			e.flow.startErr, e.flow.answer = tc.startErr, tc.answer
			r := e.post(t, "/pay/"+o.Reference+"?lang=vi", tc.form, "X-Forwarded-For: 203.0.113.9")
			if r.status != tc.code {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.code, r.body)
			}
			if loc := r.header.Get("Location"); !strings.HasPrefix(loc, tc.location) || (tc.location == "") != (loc == "") {
				t.Errorf("Location %q, want prefix %q", loc, tc.location)
			}
			mustContain(t, html.UnescapeString(r.body), tc.want...)
			mustNotContain(t, r.body, testNationalID)
			starts := e.flow.startRequests()
			if len(starts) != map[bool]int{true: 1, false: 0}[tc.started] {
				t.Fatalf("%d attempts started, want started=%v", len(starts), tc.started)
			}
			if tc.started {
				s := starts[0]
				choice, _ := parseChoice(tc.form.Get("method"))
				if s.Choice != choice || s.Locale != langVI || s.ClientIP == "" {
					t.Errorf("start request %+v", s)
				}
			}
		})
	}
	t.Run("English locale reaches the flow", func(t *testing.T) {
		t.Parallel()
		o := testOrder(t, "500000000000099", payments.StatusOpen)
		e := newEnv(t, allClosed, o)
		e.post(t, "/pay/"+o.Reference+"?lang=en", url.Values{"method": {"ewallet:zalopay"}})
		if s := e.flow.startRequests(); len(s) != 1 || s[0].Locale != langEN || s[0].Gateway != "zalopay" {
			t.Errorf("start requests %+v", s)
		}
	})
}

func TestNationalIDNeverShown(t *testing.T) {
	t.Parallel()
	for i, st := range []payments.Status{payments.StatusOpen, payments.StatusPaid, payments.StatusCancelled} {
		o := testOrder(t, fmt.Sprintf("6000000000000%02d", i), st)
		e := newEnv(t, allClosed, o)
		e.flow.answer = func(StartRequest) Started { return Started{QRPayload: "000201010212"} }
		code, _ := e.h.ReceiptCode(o)
		for _, lang := range []string{langVI, langEN} {
			q := "?lang=" + lang
			pages := []response{
				e.get(t, "/pay/"+o.Reference+q), e.get(t, "/return/"+o.Reference+q),
				e.get(t, "/receipts/"+o.Reference+q), e.get(t, "/receipts/"+o.Reference+"/verify"+q+"&code="+url.QueryEscape(code)),
				e.post(t, "/pay/"+o.Reference+q, url.Values{"method": {"bank_transfer:vietqr"}}),
			}
			for j, r := range pages {
				if strings.Contains(r.body, testNationalID) || strings.Contains(r.body, testNationalID[:9]) {
					t.Errorf("%s %s page %d shows the national ID", st, lang, j)
				}
				if r.status == http.StatusOK && j != 3 && !strings.Contains(r.body, "*********234") { // the verify page shows no payer
					t.Errorf("%s %s page %d: masked ID missing", st, lang, j)
				}
			}
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "700000000000001", payments.StatusPaid)
	e := newEnv(t, allClosed, o)
	code, _ := e.h.ReceiptCode(o)
	wrong := []byte(code)
	wrong[0] = map[bool]byte{true: 'A', false: 'B'}[wrong[0] != 'A']
	tests := []struct {
		name, code string
		status     int
		result     string
		want       string
	}{
		{"as printed", code, http.StatusOK, "ok", "Hợp lệ: biên lai khớp với khoản 200.000" + nbsp + "₫ đã thanh toán lúc 14:30 ngày 24/11/2026 (GMT+7)."},
		{"lower case, no dashes", strings.ToLower(strings.ReplaceAll(code, "-", "")), http.StatusOK, "ok", "Hợp lệ"},
		{"spaces", strings.ReplaceAll(code, "-", " "), http.StatusOK, "ok", "Hợp lệ"},
		{"one character wrong", string(wrong), http.StatusOK, "bad", "Không hợp lệ: mã xác thực không khớp"},
		{"too short", code[:10], http.StatusBadRequest, "malformed", "Mã xác thực gồm 16 chữ và số"},
		{"not base32", "UUUU-UUUU-UUUU-UUUU", http.StatusBadRequest, "malformed", "Mã xác thực gồm 16 chữ và số"},
		{"markup", `<b>"x"</b>`, http.StatusBadRequest, "malformed", `value="&lt;b&gt;&#34;x&#34;&lt;/b&gt;"`},
		{"no code yet", "", http.StatusOK, "", `<label for="code">Mã xác thực in trên biên lai</label>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.get(t, "/receipts/"+o.Reference+"/verify?code="+url.QueryEscape(tc.code))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			body := r.body
			if tc.name != "markup" {
				body = html.UnescapeString(body)
			}
			mustContain(t, body, tc.want)
			if got := strings.Contains(r.body, `data-result="`+tc.result+`"`); got != (tc.result != "") {
				t.Errorf("result %q not shown", tc.result)
			}
			mustNotContain(t, r.body, "<b>")
		})
	}
}

func TestHeadersAndStyle(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "800000000000001", payments.StatusPaid)
	e := newEnv(t, allClosed, o)
	for _, target := range []string{"/pay/" + o.Reference, "/receipts/" + o.Reference, "/return/RF00"} {
		r := e.get(t, target)
		for k, want := range map[string]string{
			"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		} {
			if got := r.header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", target, k, got, want)
			}
		}
		// The CSP allows exactly the inline stylesheet the page carries.
		m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("%s: no stylesheet", target)
		}
		sum := sha256.Sum256([]byte(m[1]))
		hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src "+hash) || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q does not allow the page's style %s", target, csp, hash)
		}
		mustNotContain(t, r.body, "<script", "<img", "<iframe")
	}
}

// TestMessagesComplete: every string exists in both languages, every key a
// template or the code builds exists, and Vietnamese keeps its diacritics.
func TestMessagesComplete(t *testing.T) {
	t.Parallel()
	for key, m := range messages {
		if m.vi == "" || m.en == "" {
			t.Errorf("%s: missing a language", key)
		}
		if strings.Count(m.vi, "%") != strings.Count(m.en, "%") {
			t.Errorf("%s: the languages take different arguments", key)
		}
	}
	used := map[string]bool{}
	for _, name := range append([]string{"layout", "parts"}, pageNames...) {
		b, err := files.ReadFile("templates/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\.T "([a-z0-9_.]+)"`).FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	for _, s := range []payments.Status{payments.StatusOpen, payments.StatusPaid, payments.StatusPartiallyRefunded,
		payments.StatusRefunded, payments.StatusCancelled, payments.StatusExpired} {
		used["status."+string(s)] = true
	}
	for _, k := range []catalogue.Kind{catalogue.KindFee, catalogue.KindCharge, catalogue.KindTax, catalogue.KindFine} {
		used["kind."+string(k)] = true
	}
	for _, m := range methodOrder {
		used["method."+string(m)] = true
	}
	for _, k := range []string{"e400.title", "e400.body", "e404.title", "e404.body", "e404.receipt", "e500.title", "e500.body",
		"err.choose", "err.unavailable", "err.start", "err.attempts", "proof.wrong", "proof.limited", "service.generic", "closed.paid", "closed.cancelled", "closed.expired", "method.via",
		"pay.title", "qr.title", "qr.label", "return.title", "receipt.title", "verify.title"} {
		used[k] = true
	}
	if len(used) < 60 {
		t.Errorf("only %d keys found in use: is the template scan broken?", len(used))
	}
	for key := range used {
		if _, ok := messages[key]; !ok {
			t.Errorf("message %q is used but not defined", key)
		}
	}
	for key := range messages {
		if !used[key] {
			t.Errorf("message %q is defined but never used", key)
		}
	}
	for _, key := range []string{"pay.heading", "return.pending", "receipt.code"} {
		if !strings.ContainsAny(messages[key].vi, "áàảãạăắằẳẵặâấầẩẫậđéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵ") {
			t.Errorf("%s: Vietnamese without diacritics: %q", key, messages[key].vi)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	deps := Deps{Orders: &fakeOrders{}, Attempts: &fakeFlow{}, Breakers: allClosed}
	good := Config{PublicURL: testPublicURL, ReceiptSecret: []byte(testSecret)}
	tests := []struct {
		name string
		deps Deps
		cfg  func(Config) Config
		ok   bool
	}{
		{"good", deps, func(c Config) Config { return c }, true},
		{"no orders", Deps{Attempts: deps.Attempts, Breakers: deps.Breakers}, func(c Config) Config { return c }, false},
		{"no breakers", Deps{Orders: deps.Orders, Attempts: deps.Attempts}, func(c Config) Config { return c }, false},
		{"relative public URL", deps, func(c Config) Config { c.PublicURL = "/pay"; return c }, false},
		{"short secret", deps, func(c Config) Config { c.ReceiptSecret = []byte("short"); return c }, false},
		{"short old secret", deps, func(c Config) Config { c.OldReceiptSecrets = [][]byte{[]byte("x")}; return c }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := New(tc.deps, tc.cfg(good))
			if (err == nil) != tc.ok || (h != nil) != tc.ok {
				t.Errorf("New: %v", err)
			}
		})
	}
}

func TestAmountsInOtherCurrencies(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "900000000000001", payments.StatusOpen)
	o.Currency, o.Total = "USD", decimal.RequireFromString("1234.5")
	o.Lines = o.Lines[:1]
	o.Lines[0].Amount = o.Total
	e := newEnv(t, allClosed, o)
	mustContain(t, e.get(t, "/pay/"+o.Reference).body, "1.234,50"+nbsp+"USD")
	mustContain(t, e.get(t, "/pay/"+o.Reference+"?lang=en").body, "1,234.50"+nbsp+"USD")
}

func TestClosedOrdersOfferNoMethods(t *testing.T) {
	t.Parallel()
	past := func(o payments.Order) payments.Order { o.ExpiresAt = time.Now().Add(-time.Hour); return o }
	tests := []struct {
		name    string
		status  payments.Status
		adjust  func(payments.Order) payments.Order
		vi, en  string
		receipt bool
	}{
		{"cancelled", payments.StatusCancelled, nil, "đã bị hủy lúc", "was cancelled at", false},
		{"expired", payments.StatusExpired, nil, "đã hết hạn lúc", "expired at", false},
		{"open past its expiry", payments.StatusOpen, past, "đã hết hạn lúc", "expired at", false},
		{"paid", payments.StatusPaid, nil, "Khoản này đã được thanh toán.", "This has already been paid.", true},
		{"refunded", payments.StatusRefunded, nil, "Khoản này đã được thanh toán.", "This has already been paid.", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("1100000000000%02d", i), tc.status)
			if tc.adjust != nil {
				o = tc.adjust(o)
			}
			e := newEnv(t, allClosed, o)
			for lang, want := range map[string]string{langVI: tc.vi, langEN: tc.en} {
				r := e.get(t, "/pay/"+o.Reference+"?lang="+lang)
				if r.status != http.StatusOK {
					t.Fatalf("status %d", r.status)
				}
				mustContain(t, html.UnescapeString(r.body), want, `id="closed"`)
				mustNotContain(t, r.body, `type="radio"`, "<form")
				if got := strings.Contains(r.body, `id="receipt-link"`); got != tc.receipt {
					t.Errorf("receipt link shown: %v, want %v", got, tc.receipt)
				}
			}
		})
	}
}

func TestOffered(t *testing.T) {
	t.Parallel()
	card, wallet := []gateways.Method{gateways.MethodCard}, []gateways.Method{gateways.MethodEwallet, gateways.MethodCard}
	tests := []struct {
		name  string
		stats []gateways.BreakerStat
		want  []Choice
	}{
		{"none", nil, nil},
		{"methods first, then gateways in the router's order",
			[]gateways.BreakerStat{{Name: "a", State: "closed", Methods: wallet}, {Name: "b", State: "closed", Methods: card}},
			[]Choice{{gateways.MethodCard, "a"}, {gateways.MethodCard, "b"}, {gateways.MethodEwallet, "a"}}},
		{"half-open is offered, open is not",
			[]gateways.BreakerStat{{Name: "a", State: "half-open", Methods: card}, {Name: "b", State: "open", Methods: card}},
			[]Choice{{gateways.MethodCard, "a"}}},
		{"a method with no label is not offered",
			[]gateways.BreakerStat{{Name: "a", State: "closed", Methods: []gateways.Method{"crypto"}}}, nil},
	}
	for _, tc := range tests {
		if got := offered(tc.stats); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Whether an order's time to pay is over is the configured clock's decision:
// an order due in an hour by the wall clock is closed on every page for a
// clock past its expiry, and no attempt starts.
func TestPagesDecideExpiryByTheirClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		clock  func(expires time.Time) clock.Clock
		closed bool
	}{
		{"wall clock", func(time.Time) clock.Clock { return nil }, false},
		{"a clock before the expiry", func(exp time.Time) clock.Clock { return clock.NewFake(exp.Add(-time.Minute)) }, false},
		{"a clock at the expiry", func(exp time.Time) clock.Clock { return clock.NewFake(exp) }, true},
		{"a clock a day past it", func(exp time.Time) clock.Clock { return clock.NewFake(exp.AddDate(0, 0, 1)) }, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := testOrder(t, fmt.Sprintf("4000000000000%02d", i), payments.StatusOpen)
			o.ExpiresAt = time.Now().Add(time.Hour)
			e := newEnvWith(t, Config{PublicURL: testPublicURL, Clock: tc.clock(o.ExpiresAt)}, allClosed, o)
			pay := html.UnescapeString(e.get(t, "/pay/"+o.Reference).body)
			ret := html.UnescapeString(e.get(t, "/return/"+o.Reference).body)
			start := e.post(t, "/pay/"+o.Reference, url.Values{"method": {"card:vnpay"}})
			if got := strings.Contains(pay, "đã hết hạn"); got != tc.closed {
				t.Errorf("pay page says expired: %v, want %v", got, tc.closed)
			}
			if got := strings.Contains(ret, `data-state="closed"`); got != tc.closed {
				t.Errorf("return page closed: %v, want %v", got, tc.closed)
			}
			if started := len(e.flow.startRequests()) > 0; started == tc.closed || (start.status == http.StatusConflict) != tc.closed {
				t.Errorf("start: status %d, attempts started %v; closed %v", start.status, started, tc.closed)
			}
		})
	}
}
