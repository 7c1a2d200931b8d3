package gatewaysim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/civicpay/civicpay/gateways/vietqr"
	"github.com/civicpay/civicpay/internal/app/demo"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/shopspring/decimal"
)

// vnd is the currency of every amount the simulated gateways carry.
var dong = money.MustLookup(money.VND)

// Gateway names, as the gateways package spells them.
const (
	VNPAY   = "vnpay"
	MoMo    = "momo"
	ZaloPay = "zalopay"
)

// gatewayNames lists the simulated gateways in a fixed order.
var gatewayNames = []string{VNPAY, MoMo, ZaloPay}

func knownGateway(name string) bool {
	for _, g := range gatewayNames {
		if g == name {
			return true
		}
	}
	return false
}

// CallbackPath is where DemoConfig sends a gateway's callbacks, below the
// service's public URL: /callbacks/vnpay, /callbacks/momo, /callbacks/zalopay.
func CallbackPath(gateway string) string { return "/callbacks/" + gateway }

// Config configures a Sim. Start from DemoConfig and change what differs.
type Config struct {
	// PublicURL is the simulator's base URL as browsers and the service see
	// it; payUrl and order_url are built on it. Empty: each request's Host.
	PublicURL string
	VNPAY     VNPAYConfig
	MoMo      MoMoConfig
	ZaloPay   ZaloPayConfig
	Bank      BankConfig
	Callbacks CallbackConfig
	// DataDir, when set, holds the state: a snapshot (gatewaysim.json) and
	// the log of every change since (gatewaysim.NNNNNNNN.wal), each change
	// synced before it is answered. New loads both; Save and Close compact.
	DataDir string
	// Now is the clock (default time.Now); tests pin it to fix business days.
	Now func() time.Time
	// Logger receives one line per completed payment and per failed
	// callback (default: discarded). Secrets are never logged.
	Logger *slog.Logger
}

// Fee is what a gateway keeps of each successful payment: Percent of the
// amount, rounded to whole VND by money's rule (half away from zero), plus
// Fixed VND, but never more than the amount. Refunds carry no fee and give
// none back.
type Fee struct {
	Percent decimal.Decimal
	Fixed   int64
}

// Of is the fee on a payment of amount VND.
func (f Fee) Of(amount int64) int64 {
	pct := dong.Round(decimal.NewFromInt(amount).Mul(f.Percent).Shift(-2))
	return min(pct.IntPart()+f.Fixed, amount)
}

func (f Fee) validate() error {
	if f.Percent.IsNegative() || f.Percent.GreaterThanOrEqual(decimal.NewFromInt(100)) || f.Fixed < 0 {
		return fmt.Errorf("fee %s%% + %d VND: want 0 <= percent < 100 and fixed >= 0", f.Percent, f.Fixed)
	}
	return nil
}

// VNPAYConfig is the merchant terminal the simulator plays VNPAY for.
type VNPAYConfig struct {
	TmnCode    string
	HashSecret string
	// IPNURL is where IPNs are sent. VNPAY's payment URL carries none: the
	// merchant registers it with VNPAY, so it is configuration here too.
	IPNURL string
	Fee    Fee
}

// MoMoConfig is the MoMo partner the simulator plays MoMo for.
type MoMoConfig struct {
	PartnerCode string
	AccessKey   string
	SecretKey   string
	// OrderExpiry is how long a created order can be paid (default 100
	// minutes; unconfirmed, MoMo's documentation does not fix it).
	OrderExpiry time.Duration
	Fee         Fee
}

// ZaloPayConfig is the ZaloPay app the simulator plays ZaloPay for.
type ZaloPayConfig struct {
	AppID int64
	Key1  string // verifies the merchant's requests
	Key2  string // signs callbacks
	// CallbackURL is used for orders created without callback_url (ZaloPay
	// keeps one per app). Empty: such orders get no callback.
	CallbackURL string
	Fee         Fee
}

// BankConfig is the treasury account the gateways settle into and citizens
// transfer to (VietQR).
type BankConfig struct {
	BIN            string // NAPAS BIN of the account's bank, as in the VietQR code
	Account        string // account number
	OpeningBalance int64  // VND on the account before the first simulated day
	// SettlementLagDays: a gateway pays day D's net into the account on day
	// D+lag (0: the same day). DemoConfig uses 1.
	SettlementLagDays int
}

// CallbackConfig governs outgoing callbacks (IPNs).
type CallbackConfig struct {
	// Timeout is each attempt's own deadline (default 5s).
	Timeout time.Duration
	// Attempts bounds the tries of one callback copy (default 4: the first
	// and three retries, as ZaloPay does).
	Attempts int
	// Backoff is the wait before the first retry, doubled for each next one
	// and capped at 30s (default 1s).
	Backoff time.Duration
	// Concurrency bounds the callbacks in flight at once (default 256).
	Concurrency int
	// Client sends them (default: a client with a pooled transport).
	Client *http.Client
}

// Demo credentials: the repository's one list is internal/app/demo, which
// development mode configures the service with (see the package
// documentation for the environment variables).
const (
	DemoVNPAYTmnCode     = demo.VNPAYTmnCode
	DemoVNPAYHashSecret  = demo.VNPAYHashSecret
	DemoMoMoPartnerCode  = demo.MoMoPartnerCode
	DemoMoMoAccessKey    = demo.MoMoAccessKey
	DemoMoMoSecretKey    = demo.MoMoSecretKey
	DemoZaloPayAppID     = demo.ZaloPayAppID
	DemoZaloPayKey1      = demo.ZaloPayKey1
	DemoZaloPayKey2      = demo.ZaloPayKey2
	DemoBankBIN          = demo.BankBIN
	DemoBankAccount      = demo.BankAccount
	DemoOpeningBalance   = 1_000_000_000
	DemoSettlementLagDay = 1
)

// DemoConfig is the documented demo configuration. callbackBase is the
// service's public URL: VNPAY IPNs go to callbackBase+CallbackPath("vnpay"),
// and ZaloPay orders without a callback_url to callbackBase+CallbackPath("zalopay").
// An empty callbackBase leaves both unset.
func DemoConfig(callbackBase string) Config {
	cfg := Config{
		VNPAY: VNPAYConfig{TmnCode: DemoVNPAYTmnCode, HashSecret: DemoVNPAYHashSecret,
			Fee: Fee{Percent: decimal.RequireFromString("1.1"), Fixed: 1_650}},
		MoMo: MoMoConfig{PartnerCode: DemoMoMoPartnerCode, AccessKey: DemoMoMoAccessKey, SecretKey: DemoMoMoSecretKey,
			Fee: Fee{Percent: decimal.RequireFromString("1.5")}},
		ZaloPay: ZaloPayConfig{AppID: DemoZaloPayAppID, Key1: DemoZaloPayKey1, Key2: DemoZaloPayKey2,
			Fee: Fee{Percent: decimal.RequireFromString("1")}},
		Bank: BankConfig{BIN: DemoBankBIN, Account: DemoBankAccount, OpeningBalance: DemoOpeningBalance,
			SettlementLagDays: DemoSettlementLagDay},
	}
	if base := strings.TrimRight(callbackBase, "/"); base != "" {
		cfg.VNPAY.IPNURL = base + CallbackPath(VNPAY)
		cfg.ZaloPay.CallbackURL = base + CallbackPath(ZaloPay)
	}
	return cfg
}

// withDefaults fills zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MoMo.OrderExpiry <= 0 {
		c.MoMo.OrderExpiry = 100 * time.Minute
	}
	cb := &c.Callbacks
	if cb.Timeout <= 0 {
		cb.Timeout = 5 * time.Second
	}
	if cb.Attempts <= 0 {
		cb.Attempts = 4
	}
	cb.Attempts = min(cb.Attempts, maxCallbackAttempts)
	if cb.Backoff <= 0 {
		cb.Backoff = time.Second
	}
	if cb.Concurrency <= 0 {
		cb.Concurrency = 256
	}
	if cb.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = cb.Concurrency, cb.Concurrency
		cb.Client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a gateway does not follow a callback URL's redirects
		}}
	}
	return c, c.validate()
}

// maxCallbackAttempts bounds Config.Callbacks.Attempts.
const maxCallbackAttempts = 20

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.VNPAY.TmnCode != "" && c.VNPAY.HashSecret != "", "VNPAY: TmnCode and HashSecret are required")
	check(c.MoMo.PartnerCode != "" && c.MoMo.AccessKey != "" && c.MoMo.SecretKey != "",
		"MoMo: PartnerCode, AccessKey and SecretKey are required")
	check(c.ZaloPay.AppID > 0 && c.ZaloPay.Key1 != "" && c.ZaloPay.Key2 != "", "ZaloPay: AppID, Key1 and Key2 are required")
	check(c.Bank.SettlementLagDays >= 0 && c.Bank.SettlementLagDays <= 30, "Bank: SettlementLagDays %d outside 0..30", c.Bank.SettlementLagDays)
	check(c.Bank.OpeningBalance >= 0, "Bank: OpeningBalance %d is negative", c.Bank.OpeningBalance)
	if _, err := vietqr.Build(vietqr.Payload{BankBIN: c.Bank.BIN, Account: c.Bank.Account}); err != nil {
		errs = append(errs, fmt.Errorf("Bank: %w", err))
	}
	for name, f := range map[string]Fee{VNPAY: c.VNPAY.Fee, MoMo: c.MoMo.Fee, ZaloPay: c.ZaloPay.Fee} {
		if err := f.validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	for name, u := range map[string]string{"PublicURL": c.PublicURL, "VNPAY.IPNURL": c.VNPAY.IPNURL,
		"ZaloPay.CallbackURL": c.ZaloPay.CallbackURL} {
		if u != "" && !absoluteURL(u) {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute http(s) URL", name, u))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gatewaysim: config: %w", err)
	}
	return nil
}

// absoluteURL reports whether s is an absolute http or https URL.
func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// fee is the configured fee of gateway.
func (c Config) fee(gateway string) Fee {
	switch gateway {
	case VNPAY:
		return c.VNPAY.Fee
	case MoMo:
		return c.MoMo.Fee
	default:
		return c.ZaloPay.Fee
	}
}
