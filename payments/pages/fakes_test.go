package pages

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/reference"
)

// Test data. The national ID must never appear in a page; its last three
// digits may (masked).
const (
	testNationalID  = "079203001234"
	testPayer       = "Nguyễn Thị Hoa"
	testPayerMasked = "Ng*** T** Hoa"
	testSecret      = "0123456789abcdef0123456789abcdef-test-secret"
)

var testPaidAt = time.Date(2026, 11, 24, 7, 30, 15, 123456000, time.UTC) // 14:30 in Hanoi

// refFor makes a valid reference from a body of digits.
func refFor(t testing.TB, body string) string {
	t.Helper()
	ref, err := reference.FromBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// testOrder is a two-line order (200.000 ₫) in the given status, expiring in a day.
func testOrder(t testing.TB, body string, status payments.Status) payments.Order {
	t.Helper()
	now := time.Now().UTC()
	o := payments.Order{
		ID: uuid.New(), Reference: refFor(t, body), AgencyCode: "AG-HCM", Status: status, Currency: "VND",
		Total: decimal.RequireFromString("200000"),
		Lines: []payments.Line{
			{No: 1, ServiceCode: "PASSPORT", AgencyCode: "AG-HCM", Kind: "fee", Amount: decimal.RequireFromString("150000")},
			{No: 2, ServiceCode: "POSTAGE", AgencyCode: "AG-POST", Kind: "charge", Amount: decimal.RequireFromString("50000")},
		},
		Payer:       payments.Payer{Name: testPayer, NationalID: testNationalID},
		Description: "Cấp hộ chiếu phổ thông",
		ExpiresAt:   now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now,
	}
	switch status {
	case payments.StatusPaid, payments.StatusPartiallyRefunded, payments.StatusRefunded:
		paid := testPaidAt
		o.PaidAt, o.AmountPaid = &paid, o.Total
		if status != payments.StatusPaid {
			o.AmountRefunded = decimal.RequireFromString("50000")
		}
	case payments.StatusCancelled, payments.StatusExpired:
		closed := now.Add(-time.Hour)
		o.ClosedAt = &closed
	}
	return o
}

// fakeOrders is an in-memory Orders.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[string]payments.Order
}

func (f *fakeOrders) put(o payments.Order) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orders[o.Reference] = o
}

func (f *fakeOrders) get(ref string) payments.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.orders[ref]
}

func (f *fakeOrders) Lookup(_ context.Context, ref string) (payments.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[ref]
	if !ok {
		return payments.Order{}, fmt.Errorf("order %s: %w", ref, payments.ErrOrderNotFound)
	}
	return o, nil
}

// fakeFlow is an in-memory Attempts. Start records the request and makes a
// pending attempt (its only write); Latest only reads.
type fakeFlow struct {
	mu       sync.Mutex
	starts   []StartRequest
	latest   map[string]Attempt
	startErr error
	answer   func(StartRequest) Started
}

func (f *fakeFlow) Start(_ context.Context, o payments.Order, r StartRequest) (Started, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return Started{}, f.startErr
	}
	f.starts = append(f.starts, r)
	f.latest[o.Reference] = Attempt{Choice: r.Choice, Status: gateways.StatusPending, CreatedAt: time.Now()}
	if f.answer != nil {
		return f.answer(r), nil
	}
	return Started{RedirectURL: "https://gateway.example/pay?txn=" + uuid.NewString()}, nil
}

func (f *fakeFlow) Latest(_ context.Context, o payments.Order) (Attempt, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.latest[o.Reference]
	return a, ok, nil
}

func (f *fakeFlow) setLatest(ref string, a Attempt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latest[ref] = a
}

func (f *fakeFlow) startRequests() []StartRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StartRequest(nil), f.starts...)
}

// staticBreakers reports fixed breaker states.
type staticBreakers []gateways.BreakerStat

func (s staticBreakers) Stats() []gateways.BreakerStat { return s }

// allClosed: the four gateways with their usual methods, all healthy.
var allClosed = staticBreakers{
	{Name: "vnpay", State: "closed", Methods: []gateways.Method{gateways.MethodCard, gateways.MethodInternetBanking, gateways.MethodQR}},
	{Name: "momo", State: "closed", Methods: []gateways.Method{gateways.MethodEwallet}},
	{Name: "zalopay", State: "closed", Methods: []gateways.Method{gateways.MethodEwallet}},
	{Name: "vietqr", State: "closed", Methods: []gateways.Method{gateways.MethodBankTransfer}},
}

// fakeCatalogue names the test agencies and services.
type fakeCatalogue struct{}

func (fakeCatalogue) Agency(_ context.Context, code string) (catalogue.Agency, error) {
	names := map[string]string{"AG-HCM": "Phòng Quản lý xuất nhập cảnh TP.HCM", "AG-POST": "Bưu điện Việt Nam", "STP-HCM": testJusticeAgency}
	if n, ok := names[code]; ok {
		return catalogue.Agency{Code: code, Name: n}, nil
	}
	return catalogue.Agency{}, catalogue.ErrAgencyNotFound
}

func (fakeCatalogue) ServicesByCode(_ context.Context, codes []string) (map[string]catalogue.Service, error) {
	out := map[string]catalogue.Service{}
	for _, c := range codes {
		switch c {
		case "PASSPORT":
			out[c] = catalogue.Service{Code: c, Name: "Lệ phí cấp hộ chiếu"}
		case "STP-LLTP":
			out[c] = catalogue.Service{Code: c, Name: testSensitiveService, Sensitive: true}
		}
	}
	return out, nil
}

// env is a Handler on fakes, served by a Fiber app.
type env struct {
	h      *Handler
	app    *fiber.App
	orders *fakeOrders
	flow   *fakeFlow
}

const testPublicURL = "https://pay.example.gov.vn"

func newEnv(t testing.TB, breakers Breakers, orders ...payments.Order) *env {
	t.Helper()
	return newEnvWith(t, Config{PublicURL: testPublicURL}, breakers, orders...)
}

// newEnvWith is newEnv with cfg (the receipt secret and a quiet log are added).
func newEnvWith(t testing.TB, cfg Config, breakers Breakers, orders ...payments.Order) *env {
	t.Helper()
	return newEnvDeps(t, nil, cfg, breakers, orders...)
}

// newEnvDeps is newEnvWith with the deps changed by adjust (when not nil).
func newEnvDeps(t testing.TB, adjust func(*Deps), cfg Config, breakers Breakers, orders ...payments.Order) *env {
	t.Helper()
	e := &env{
		orders: &fakeOrders{orders: map[string]payments.Order{}},
		flow:   &fakeFlow{latest: map[string]Attempt{}},
	}
	for _, o := range orders {
		e.orders.put(o)
	}
	cfg.ReceiptSecret, cfg.Log = []byte(testSecret), slog.New(slog.NewTextHandler(io.Discard, nil))
	deps := Deps{Orders: e.orders, Attempts: e.flow, Breakers: breakers, Catalogue: fakeCatalogue{}}
	if adjust != nil {
		adjust(&deps)
	}
	h, err := New(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.app = fiber.New(fiber.Config{DisableStartupMessage: true})
	h.Routes(e.app)
	return e
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// get requests target with optional headers given as "Name: value".
func (e *env) get(t testing.TB, target string, headers ...string) response {
	t.Helper()
	return e.do(t, httptest.NewRequest(http.MethodGet, target, nil), headers)
}

// post submits a form to target.
func (e *env) post(t testing.TB, target string, form url.Values, headers ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(t, req, headers)
}

func (e *env) do(t testing.TB, req *http.Request, headers []string) response {
	t.Helper()
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// mustContain fails for each want missing from body.
func mustContain(t testing.TB, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

// mustNotContain fails for each unwanted string found in body.
func mustNotContain(t testing.TB, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page contains %q", w)
		}
	}
}

// A sensitive service, for the privacy tests: its name, its code and the
// order's description must not appear on a public page before a proof.
const (
	testSensitiveService = "Cấp Phiếu lý lịch tư pháp"
	testSensitiveDesc    = "Phiếu lý lịch tư pháp số 2"
	testJusticeAgency    = "Sở Tư pháp TP. Hồ Chí Minh"
)

// sensitiveOrder is testOrder with a criminal-record certificate line (a
// sensitive service) before the postage line, and the given payer contact.
func sensitiveOrder(t testing.TB, body string, status payments.Status, phone, email string) payments.Order {
	t.Helper()
	o := testOrder(t, body, status)
	o.AgencyCode = "STP-HCM"
	o.Lines[0] = payments.Line{No: 1, ServiceCode: "STP-LLTP", AgencyCode: "STP-HCM", Kind: "fee", Amount: decimal.RequireFromString("150000")}
	o.Description = testSensitiveDesc
	o.Payer.Phone, o.Payer.Email = phone, email
	return o
}

// failingCatalogue knows no names: the catalogue is down.
type failingCatalogue struct{}

func (failingCatalogue) Agency(context.Context, string) (catalogue.Agency, error) {
	return catalogue.Agency{}, fmt.Errorf("catalogue: connection refused")
}

func (failingCatalogue) ServicesByCode(context.Context, []string) (map[string]catalogue.Service, error) {
	return nil, fmt.Errorf("catalogue: connection refused")
}

// fixedRefunds answers every order's last refund date with at.
type fixedRefunds struct{ at time.Time }

func (f fixedRefunds) LastRefundAt(context.Context, payments.Order) (time.Time, bool, error) {
	return f.at, true, nil
}
