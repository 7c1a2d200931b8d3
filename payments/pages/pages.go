// Package pages serves the citizen's hosted pages: pay an order (/pay/{reference}),
// see its true status after the gateway sends the browser back (/return/{reference}),
// and get a receipt with a verification code once it is paid
// (/receipts/{reference}, checked at /receipts/{reference}/verify), also as a
// PDF download (/receipts/{reference}/receipt.pdf, drawn by payments/receipt).
//
// The pages are server-rendered from html/template, in Vietnamese (the default)
// and English, and need no JavaScript: the method choice is a plain form, the
// return page refreshes itself with <meta http-equiv="refresh">. They never change
// an order's state themselves — the return page in particular only reads — and
// never show a full national ID number. The payer's name is masked and a
// sensitive service is not named until the visitor proves possession of the
// order (privacy.go; POST /pay/{reference}/reveal and
// /receipts/{reference}/reveal).
//
// The package owns no data: it reads orders through Orders, starts and reads
// payment attempts through Attempts (payments.Paying), and asks Breakers which
// gateways may be offered (a gateway whose circuit breaker is open is not).
package pages

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/reference"
)

// Orders finds an order by its payment reference, with no access check; an
// unknown reference is an error wrapping payments.ErrOrderNotFound.
// (*payments.Orders).Lookup implements it.
type Orders interface {
	Lookup(ctx context.Context, ref string) (payments.Order, error)
}

// Breakers reports each gateway's circuit breaker and methods.
// (*gateways.Router).Stats implements it.
type Breakers interface {
	Stats() []gateways.BreakerStat
}

// Catalogue names agencies and services. (*catalogue.Store) implements it.
type Catalogue interface {
	Agency(ctx context.Context, code string) (catalogue.Agency, error)
	ServicesByCode(ctx context.Context, codes []string) (map[string]catalogue.Service, error)
}

// Attempts is what the pages need from paying (payments.Paying).
type Attempts interface {
	// Start creates a payment attempt for o with the chosen method, preferring
	// the chosen gateway, and returns where the citizen pays: a redirect URL, or
	// a QR payload (VietQR). The browser comes back from the gateway to the
	// paying's own return route, which should redirect it to /return/{reference}.
	// An order that is no longer open is an error wrapping
	// payments.ErrNotOpen; no gateway available for the method is an error
	// wrapping gateways.ErrNoGateway, or a breaker's refusal
	// (gateways.IsUnavailable).
	Start(ctx context.Context, o payments.Order, r StartRequest) (Started, error)
	// Latest returns o's newest attempt, found=false when there is none. It
	// only reads: the return page calls it on every refresh.
	Latest(ctx context.Context, o payments.Order) (a Attempt, found bool, err error)
}

// Choice is one way of paying: a method at a gateway.
type Choice struct {
	Method  gateways.Method
	Gateway string // a gateway's Name()
}

// value is the choice as a form field value, "method:gateway".
func (c Choice) value() string { return string(c.Method) + ":" + c.Gateway }

// StartRequest is the citizen's choice, from the pay form.
type StartRequest struct {
	Choice
	ClientIP string
	Locale   string // "vi" or "en", for the gateway's page
}

// Started is where the citizen pays: exactly one of RedirectURL and QRPayload is set.
type Started struct {
	RedirectURL string // an absolute http(s) URL at the gateway
	QRPayload   string // an EMVCo QR payload (VietQR) the page draws as a QR code
}

// Attempt is what the return page shows of an order's newest payment attempt.
type Attempt struct {
	Choice
	// Status is as recorded from callbacks and status queries: pending,
	// succeeded or failed. An attempt paying gave up waiting for counts as
	// failed here (the citizen may try again).
	Status    gateways.Status
	CreatedAt time.Time
}

// Refunds tells when an order's money was given back.
type Refunds interface {
	// LastRefundAt returns when the newest refund of o that the gateway
	// confirmed was completed; found=false when there is none.
	LastRefundAt(ctx context.Context, o payments.Order) (at time.Time, found bool, err error)
}

// Deps are the services the pages read from. Orders, Attempts and Breakers are
// required; Catalogue is optional (without it, codes stand in for names and no
// service is known to be sensitive); Refunds is optional (without it, a
// refunded order's last update stands in for its refund's date); Payments is
// optional (without it, the PDF receipt does not name the gateway).
type Deps struct {
	Orders    Orders
	Attempts  Attempts
	Breakers  Breakers
	Catalogue Catalogue
	Refunds   Refunds
	Payments  Payments
}

// Config tunes the pages.
type Config struct {
	// PublicURL is the service's public base, e.g. "https://pay.example.gov.vn".
	// The verification address printed on receipts is built from it.
	PublicURL string
	// ReceiptSecret keys the receipts' verification codes (HMAC-SHA256), at
	// least 32 bytes. Changing it invalidates the codes of earlier receipts
	// unless the old secret moves to OldReceiptSecrets.
	ReceiptSecret []byte
	// OldReceiptSecrets still verify codes issued before a rotation.
	OldReceiptSecrets [][]byte
	// RefreshInterval is how often the return page reloads while a payment is
	// pending (default 5s, at least 1s).
	RefreshInterval time.Duration
	// Timeout bounds the calls one page makes to Orders, Paying and
	// the catalogue (default 30s: starting an attempt may try several gateways).
	Timeout time.Duration
	// Log receives unexpected errors (never national IDs or secrets); default slog.Default().
	Log *slog.Logger
	// Guards run before every page, in order: the rate limits per client IP
	// and per reference (ReferenceKey keys the latter).
	Guards []fiber.Handler
	// ProofAttempts failed proofs of possession of one order within ProofWindow
	// make the pages refuse every proof for it until the oldest is older than
	// ProofWindow (defaults 5 and 15 minutes). Counted in memory, per instance.
	ProofAttempts int
	ProofWindow   time.Duration
	// Clock decides whether an order's time to pay is over (nil: the wall
	// clock); the proof limiter's window is the wall clock's.
	Clock clock.Clock
}

// maxProofRefs bounds the references the proof limiter remembers at once.
const maxProofRefs = 100_000

// MinSecretLen is the shortest ReceiptSecret New accepts.
const MinSecretLen = 32

// Handler serves the citizen pages.
type Handler struct {
	deps    Deps
	cfg     Config
	codes   *codeSigner
	proofs  *proofLimiter
	secure  bool // PublicURL is https: cookies get the Secure flag
	refresh int  // seconds
	// pdfSlots bounds the PDF receipts drawn at once (one per CPU); a
	// request waits for a slot until its Timeout.
	pdfSlots chan struct{}
}

// New returns the pages handler.
func New(deps Deps, cfg Config) (*Handler, error) {
	if deps.Orders == nil || deps.Attempts == nil || deps.Breakers == nil {
		return nil, errors.New("pages: Orders, Attempts and Breakers are required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("pages: PublicURL must be an absolute http(s) URL")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	codes, err := newCodeSigner(cfg.ReceiptSecret, cfg.OldReceiptSecrets...)
	if err != nil {
		return nil, err
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.ProofAttempts <= 0 {
		cfg.ProofAttempts = 5
	}
	if cfg.ProofWindow <= 0 {
		cfg.ProofWindow = 15 * time.Minute
	}
	return &Handler{
		deps: deps, cfg: cfg, codes: codes, secure: u.Scheme == "https",
		proofs:   newProofLimiter(cfg.ProofAttempts, cfg.ProofWindow, maxProofRefs),
		refresh:  max(1, int(cfg.RefreshInterval.Round(time.Second)/time.Second)),
		pdfSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}, nil
}

// Routes mounts the pages on r, at the root and with no API key.
func (h *Handler) Routes(r fiber.Router) {
	guarded := func(page fiber.Handler) []fiber.Handler {
		return append(append([]fiber.Handler(nil), h.cfg.Guards...), page)
	}
	r.Get("/pay/:ref", guarded(h.pay)...)
	r.Post("/pay/:ref", guarded(h.start)...)
	r.Post("/pay/:ref/reveal", guarded(h.revealPay)...)
	r.Get("/return/:ref", guarded(h.returnPage)...)
	r.Get("/receipts/:ref", guarded(h.receipt)...)
	r.Post("/receipts/:ref/reveal", guarded(h.revealReceipt)...)
	r.Get("/receipts/:ref/verify", guarded(h.verify)...)
	r.Get("/receipts/:ref/receipt.pdf", guarded(h.receiptPDF)...)
}

// ReferenceKey is the page's payment reference, normalised ("RF18 1234…"
// and "rf181234…" are one), or "" when the path holds none: a key for
// limiting requests per reference.
func ReferenceKey(c *fiber.Ctx) string {
	raw, err := url.PathUnescape(c.Params("ref"))
	if err != nil {
		return ""
	}
	ref, err := reference.Parse(raw)
	if err != nil {
		return ""
	}
	return ref
}
