// Package config reads civicpay's configuration from the environment. Every
// variable is listed in the README's configuration table.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/app/demo"
	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
	"github.com/civicpay/civicpay/webhooks"
)

// The values of CIVICPAY_ENV.
const (
	// EnvProduction is the default: `serve` refuses to start on demo
	// credentials, plain-http gateway or statement URLs, or without a receipt
	// secret (Validate).
	EnvProduction = "production"
	// EnvDevelopment is for `make run` and tests: unset gateway settings take
	// gatewaysim's demo merchant on http://127.0.0.1:8090, http is allowed,
	// and an unset receipt secret is random per process.
	EnvDevelopment = "development"
)

// MinReceiptSecretLen is the shortest receipt secret accepted (the citizen
// pages' own minimum, pages.MinSecretLen).
const MinReceiptSecretLen = 32

// Config is the whole service configuration.
type Config struct {
	// Env is production (the default) or development (see EnvDevelopment).
	Env string `env:"CIVICPAY_ENV" envDefault:"production"`
	// DatabaseURL is the PostgreSQL connection URL (`make run`/`make test` set it).
	DatabaseURL string `env:"DATABASE_URL,required"`
	// Addr is the address the HTTP server listens on.
	Addr string `env:"CIVICPAY_ADDR" envDefault:"127.0.0.1:8080"`
	// PublicURL is how citizens and gateways reach the service: pay URLs, return and callback URLs.
	PublicURL string `env:"CIVICPAY_PUBLIC_URL" envDefault:"http://127.0.0.1:8080"`
	// LogLevel is debug, info, warn or error (JSON logs on stderr).
	LogLevel string `env:"CIVICPAY_LOG_LEVEL" envDefault:"info"`
	// DBMaxConns bounds the pool shared by HTTP handlers and River workers.
	DBMaxConns int32 `env:"CIVICPAY_DB_MAX_CONNS" envDefault:"32"`
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes int `env:"CIVICPAY_MAX_BODY_BYTES" envDefault:"1048576"`
	// ShutdownGrace is how long SIGTERM waits for in-flight requests (the HTTP
	// server stops accepting at once); requests still running then are cut,
	// and logged.
	ShutdownGrace time.Duration `env:"CIVICPAY_SHUTDOWN_GRACE" envDefault:"20s"`
	// JobsStopTimeout is how long SIGTERM then waits for running River jobs to
	// finish (no new job starts); the contexts of those still running are then
	// cancelled, and they are logged (each job runs again later: all are
	// idempotent).
	JobsStopTimeout time.Duration `env:"CIVICPAY_JOBS_STOP_TIMEOUT" envDefault:"20s"`
	// ReceiptSecret keys the verification codes printed on citizens' receipts
	// (at least 32 bytes). Required in production; unset in development: a
	// random one per process, with a warning.
	ReceiptSecret string `env:"CIVICPAY_RECEIPT_SECRET"`
	// OldReceiptSecrets (comma-separated, each at least 32 bytes) still verify
	// the codes of receipts issued before ReceiptSecret was rotated.
	OldReceiptSecrets []string `env:"CIVICPAY_RECEIPT_SECRETS_OLD" envSeparator:","`
	// MetricsAddr is the separate address /metrics (Prometheus) is served on,
	// never the public one; "off" serves none.
	MetricsAddr string `env:"CIVICPAY_METRICS_ADDR" envDefault:"127.0.0.1:9090"`
	// DataKeys are the AES-256 keys that encrypt national IDs and webhook
	// signing secrets in the database: comma-separated kid:base64 (32 bytes
	// each). Keep old keys listed until `civicpay keys rotate-data-key` has
	// re-encrypted their rows. Unset: refused in production; in development a
	// published demo key, with a warning.
	DataKeys string `env:"CIVICPAY_DATA_KEYS"`
	// DataKeyID is the kid of CIVICPAY_DATA_KEYS that encrypts new values (may
	// be empty when there is one key).
	DataKeyID string `env:"CIVICPAY_DATA_KEY_ID"`
	// LookupKey (base64, at least 32 bytes) keys the HMAC of national IDs kept
	// for equality lookups. It does not rotate with the data keys.
	LookupKey string `env:"CIVICPAY_LOOKUP_KEY"`
	// AuthCacheTTL is how long a verified API key is cached in process (a revoked key stops within it).
	AuthCacheTTL time.Duration `env:"CIVICPAY_AUTH_CACHE_TTL" envDefault:"5s"`
	// KeyDefaultTTL is how long a new API key lives when its creator gives no
	// expiry (POST /v1/keys, `civicpay keys create`); 0 means no expiry.
	KeyDefaultTTL time.Duration `env:"CIVICPAY_KEY_DEFAULT_TTL" envDefault:"8760h"`

	// OrderDefaultExpiry applies when an order names no expires_at.
	OrderDefaultExpiry time.Duration `env:"CIVICPAY_ORDER_DEFAULT_EXPIRY" envDefault:"24h"`
	// OrderMaxExpiry is the furthest expires_at an order may ask for.
	OrderMaxExpiry time.Duration `env:"CIVICPAY_ORDER_MAX_EXPIRY" envDefault:"720h"`
	// ExpiryInterval is how often the River job expires overdue open orders.
	ExpiryInterval time.Duration `env:"CIVICPAY_EXPIRY_INTERVAL" envDefault:"1m"`

	// RiverWorkers is the default queue's worker count.
	RiverWorkers int `env:"CIVICPAY_RIVER_WORKERS" envDefault:"50"`
	// RiverRescueAfter is how long a running job may go silent (its process
	// killed) before River runs it again elsewhere. Every job is idempotent.
	RiverRescueAfter time.Duration `env:"CIVICPAY_RIVER_RESCUE_AFTER" envDefault:"5m"`

	// Webhooks: CIVICPAY_WEBHOOKS_ALLOW_LOOPBACK, _ALLOWED_HOSTS, _TIMEOUT, _RETRY_SCHEDULE, … (see webhooks.Config).
	Webhooks webhooks.Config `envPrefix:"CIVICPAY_"`

	Paying Paying

	Recon Recon

	// ManualEntryApprovalAmount: a manual ledger entry or reversal whose debits
	// exceed it (in VND; any other currency always) waits for a second treasury
	// key's approval, as does one touching an agency account. 0 means the default.
	ManualEntryApprovalAmount decimal.Decimal `env:"CIVICPAY_MANUAL_ENTRY_APPROVAL_AMOUNT" envDefault:"10000000"`
	// ManualEntryMaxBackdate is how far in the past a manual ledger entry may
	// take effect (never on or before the last closed business day). 0 means the default.
	ManualEntryMaxBackdate time.Duration `env:"CIVICPAY_MANUAL_ENTRY_MAX_BACKDATE" envDefault:"168h"`

	Limits Limits

	// Console: the staff console at /console (see Console).
	Console Console

	// Clock is not read from the environment: it is the time every business
	// decision is made at (expiries, the business day, closing a day,
	// webhook grace periods), handed by internal/app to each service. nil:
	// the wall clock. Tests set a clock.Fake to move to another day without
	// waiting for it (as River's Config.Test.Time does for River).
	Clock clock.Clock `env:"-"`
}

// Console configures the staff console (package console): its sessions,
// set-password links and sign-in throttling.
type Console struct {
	// IdleTimeout ends a staff session not used for this long.
	IdleTimeout time.Duration `env:"CIVICPAY_CONSOLE_IDLE_TIMEOUT" envDefault:"30m"`
	// AbsoluteTimeout ends any staff session this long after sign-in.
	AbsoluteTimeout time.Duration `env:"CIVICPAY_CONSOLE_ABSOLUTE_TIMEOUT" envDefault:"12h"`
	// SetupLinkTTL is how long a `civicpay users create` set-password link works.
	SetupLinkTTL time.Duration `env:"CIVICPAY_CONSOLE_SETUP_LINK_TTL" envDefault:"72h"`
	// LoginPerIP and LoginPerAccount bound failed sign-in requests (password
	// or code) per minute per client IP and per email, in each process.
	LoginPerIP      int `env:"CIVICPAY_CONSOLE_LOGIN_PER_IP" envDefault:"20"`
	LoginPerAccount int `env:"CIVICPAY_CONSOLE_LOGIN_PER_ACCOUNT" envDefault:"10"`
	// LockoutAfter consecutive failed sign-ins (counted in the database, so
	// every instance agrees) lock the account for Lockout.
	LockoutAfter int           `env:"CIVICPAY_CONSOLE_LOCKOUT_AFTER" envDefault:"10"`
	Lockout      time.Duration `env:"CIVICPAY_CONSOLE_LOCKOUT" envDefault:"15m"`
}

// Limits are the abuse controls (README "Security"). A rate limit of 0 turns
// that limit off; rates are per minute and per process.
type Limits struct {
	// RatePerKey bounds each API key's requests (after authentication).
	RatePerKey int `env:"CIVICPAY_RATE_LIMIT_PER_KEY" envDefault:"6000"`
	// RatePerIP bounds each client IP's requests (before authentication):
	// every request outside /v1, and the failed ones (status >= 400) under
	// /v1, whose successful requests count against their key instead.
	// Gateway callbacks (signature-checked) and the probes are not counted.
	RatePerIP int `env:"CIVICPAY_RATE_LIMIT_PER_IP" envDefault:"1200"`
	// PagesPerIP and PagesPerRef bound the citizen pages (/pay, /return,
	// /receipts) per client IP and per payment reference.
	PagesPerIP  int `env:"CIVICPAY_RATE_LIMIT_PAGES_PER_IP" envDefault:"300"`
	PagesPerRef int `env:"CIVICPAY_RATE_LIMIT_PAGES_PER_REF" envDefault:"60"`
	// MaxOpenAttempts is how many pending, unexpired payment attempts one
	// order may have; starting one more is a 429 with no call to a gateway.
	MaxOpenAttempts int `env:"CIVICPAY_MAX_OPEN_ATTEMPTS" envDefault:"5"`
	// MaxConnsPerIP caps concurrent TCP connections per peer address
	// (trusted proxies are exempt); 0 is no cap.
	MaxConnsPerIP int `env:"CIVICPAY_MAX_CONNS_PER_IP" envDefault:"256"`
	// TrustedProxies are the reverse proxies' addresses or CIDRs whose
	// ProxyHeader names the client. Empty: the client is the TCP peer and no
	// header is believed.
	TrustedProxies []string `env:"CIVICPAY_TRUSTED_PROXIES" envSeparator:","`
	// ProxyHeader carries the client's address from a trusted proxy, which
	// must overwrite it (nginx: proxy_set_header X-Real-IP $remote_addr).
	ProxyHeader string `env:"CIVICPAY_PROXY_HEADER" envDefault:"X-Real-IP"`
	// ReadTimeout bounds reading a request's headers and body (and a new
	// connection's first request); IdleTimeout a keep-alive connection's wait
	// for its next request. UploadReadTimeout replaces ReadTimeout for the
	// body of a statement upload.
	ReadTimeout       time.Duration `env:"CIVICPAY_READ_TIMEOUT" envDefault:"10s"`
	IdleTimeout       time.Duration `env:"CIVICPAY_IDLE_TIMEOUT" envDefault:"30s"`
	UploadReadTimeout time.Duration `env:"CIVICPAY_UPLOAD_READ_TIMEOUT" envDefault:"30m"`
	// RequestTimeout is the deadline of each request's work (its database
	// queries, its wait for a group-commit batch); a statement upload has
	// UploadReadTimeout more.
	RequestTimeout time.Duration `env:"CIVICPAY_REQUEST_TIMEOUT" envDefault:"60s"`
	// AuthFailCacheTTL is how long a well-formed but unknown or revoked API
	// key is remembered as failed (no database query when it comes again).
	AuthFailCacheTTL time.Duration `env:"CIVICPAY_AUTH_FAIL_CACHE_TTL" envDefault:"5s"`
}

// Unlimited turns off the rate limits and the connection cap: for
// benchmarks, which drive thousands of requests a second from one address
// with one key. The timeouts and the open-attempt cap (a rule per order,
// whose cost the benchmarks should measure) stay.
func (l Limits) Unlimited() Limits {
	l.RatePerKey, l.RatePerIP, l.PagesPerIP, l.PagesPerRef, l.MaxConnsPerIP = 0, 0, 0, 0, 0
	return l
}

// Recon configures reconciliation (package reconciliation). In {gateway} and
// {date} (YYYY-MM-DD) the fetch URLs are replaced; an empty URL (the default
// in production) turns that fetch off, and files then come by upload or
// `civicpay reconcile import`. Development mode points both at gatewaysim on
// http://127.0.0.1:8090, as `make run` starts it.
type Recon struct {
	// Cutoff is the time of day, GMT+7, of the daily run over the previous
	// business day; "off" schedules none.
	Cutoff        string `env:"CIVICPAY_RECON_CUTOFF" envDefault:"06:00"`
	SettlementURL string `env:"CIVICPAY_RECON_SETTLEMENT_URL"`
	StatementURL  string `env:"CIVICPAY_RECON_STATEMENT_URL"`
	// StatementToken and SettlementToken authenticate the fetches (sent as
	// `Authorization: Bearer`); ClientCert and ClientKey (PEM files) add a
	// TLS client certificate to them. A fetched bank statement pays orders
	// with no paid attempt at once only when its fetch is authenticated
	// (https with a token or certificate); otherwise, like an uploaded one,
	// its credits wait for a second treasury approver.
	StatementToken  string `env:"CIVICPAY_RECON_STATEMENT_TOKEN"`
	SettlementToken string `env:"CIVICPAY_RECON_SETTLEMENT_TOKEN"`
	ClientCert      string `env:"CIVICPAY_RECON_CLIENT_CERT"`
	ClientKey       string `env:"CIVICPAY_RECON_CLIENT_KEY"`
	// Gateways are those whose settlement files the daily run fetches.
	Gateways []string `env:"CIVICPAY_RECON_GATEWAYS" envDefault:"vnpay,momo,zalopay" envSeparator:","`
	// Fees are the contracted fees checked on every payment line:
	// gateway=P%[+F], comma-separated; empty checks none.
	Fees string `env:"CIVICPAY_RECON_FEES" envDefault:"vnpay=1.1%+1650,momo=1.5%,zalopay=1%"`
	// AmountTolerance and FeeTolerance bound a line's difference from our
	// record (in the currency's units); MatchWindow bounds the time
	// difference when pairing by amount and time.
	AmountTolerance string        `env:"CIVICPAY_RECON_AMOUNT_TOLERANCE" envDefault:"0"`
	FeeTolerance    string        `env:"CIVICPAY_RECON_FEE_TOLERANCE" envDefault:"0"`
	MatchWindow     time.Duration `env:"CIVICPAY_RECON_MATCH_WINDOW" envDefault:"15m"`
	// SettlementTolerance bounds |bank credit − file net|; SettlementDays is
	// how many days after its business day a gateway's payment may arrive.
	SettlementTolerance string        `env:"CIVICPAY_RECON_SETTLEMENT_TOLERANCE" envDefault:"0"`
	SettlementDays      int           `env:"CIVICPAY_RECON_SETTLEMENT_DAYS" envDefault:"3"`
	FetchTimeout        time.Duration `env:"CIVICPAY_RECON_FETCH_TIMEOUT" envDefault:"2m"`
	QueryTimeout        time.Duration `env:"CIVICPAY_RECON_QUERY_TIMEOUT" envDefault:"10s"`
	QueryConcurrency    int           `env:"CIVICPAY_RECON_QUERY_CONCURRENCY" envDefault:"4"`
	MaxFileBytes        int64         `env:"CIVICPAY_RECON_MAX_FILE_BYTES" envDefault:"2147483648"`
	// WorkMem is PostgreSQL's work_mem for the matching statements.
	WorkMem string `env:"CIVICPAY_RECON_WORK_MEM" envDefault:"128MB"`
	// Workers is how many reconciliation jobs (loads, runs) run at once.
	Workers            int `env:"CIVICPAY_RECON_WORKERS" envDefault:"2"`
	MaxExceptionEvents int `env:"CIVICPAY_RECON_MAX_EXCEPTION_EVENTS" envDefault:"100"`
}

// Paying configures the gateways and the payment flow. The base URLs,
// credentials and VietQR account have no default: development mode fills in
// gatewaysim's demo merchant (internal/app/demo) on http://127.0.0.1:8090, as
// `make run` starts it; production must set them for every enabled gateway.
type Paying struct {
	// Gateways lists the enabled gateways, in the router's default order of
	// preference ("none" for no gateway).
	Gateways []string `env:"CIVICPAY_GATEWAYS" envDefault:"vnpay,momo,zalopay,vietqr" envSeparator:","`
	// Preferences orders gateways per method, e.g. "ewallet=zalopay,momo;card=vnpay";
	// a method not named uses Gateways' order.
	Preferences string `env:"CIVICPAY_GATEWAY_PREFERENCES"`
	// GatewayTimeout is each call's own deadline to a gateway.
	GatewayTimeout time.Duration `env:"CIVICPAY_GATEWAY_TIMEOUT" envDefault:"10s"`

	VNPAYBaseURL    string `env:"CIVICPAY_VNPAY_BASE_URL"`
	VNPAYTmnCode    string `env:"CIVICPAY_VNPAY_TMN_CODE" envDefault:"CIVICPAY"`
	VNPAYHashSecret string `env:"CIVICPAY_VNPAY_HASH_SECRET"`

	MoMoBaseURL     string `env:"CIVICPAY_MOMO_BASE_URL"`
	MoMoPartnerCode string `env:"CIVICPAY_MOMO_PARTNER_CODE" envDefault:"MOMOCIVICPAY2026"`
	MoMoAccessKey   string `env:"CIVICPAY_MOMO_ACCESS_KEY"`
	MoMoSecretKey   string `env:"CIVICPAY_MOMO_SECRET_KEY"`

	ZaloPayBaseURL string `env:"CIVICPAY_ZALOPAY_BASE_URL"`
	ZaloPayAppID   int64  `env:"CIVICPAY_ZALOPAY_APP_ID" envDefault:"2554"`
	ZaloPayKey1    string `env:"CIVICPAY_ZALOPAY_KEY1"`
	ZaloPayKey2    string `env:"CIVICPAY_ZALOPAY_KEY2"`

	VietQRBankBIN string `env:"CIVICPAY_VIETQR_BANK_BIN" envDefault:"970436"`
	VietQRAccount string `env:"CIVICPAY_VIETQR_ACCOUNT"`

	// Circuit breakers, two per gateway — create (new payments) and query
	// (status queries and refunds); only technical failures count. The open
	// timeout is the longest one stays open; a probe usually closes it sooner.
	BreakerConsecutiveFailures uint32        `env:"CIVICPAY_BREAKER_CONSECUTIVE_FAILURES" envDefault:"5"`
	BreakerFailureRatio        float64       `env:"CIVICPAY_BREAKER_FAILURE_RATIO" envDefault:"0.5"`
	BreakerMinRequests         uint32        `env:"CIVICPAY_BREAKER_MIN_REQUESTS" envDefault:"20"`
	BreakerWindow              time.Duration `env:"CIVICPAY_BREAKER_WINDOW" envDefault:"60s"`
	BreakerOpenTimeout         time.Duration `env:"CIVICPAY_BREAKER_OPEN_TIMEOUT" envDefault:"30s"`
	BreakerHalfOpenRequests    uint32        `env:"CIVICPAY_BREAKER_HALF_OPEN_REQUESTS" envDefault:"1"`
	// A gateway with an open breaker is probed (a status query for a
	// reference that cannot exist) this often, each probe with this deadline;
	// the first answer closes its breakers.
	BreakerProbeInterval time.Duration `env:"CIVICPAY_BREAKER_PROBE_INTERVAL" envDefault:"500ms"`
	BreakerProbeTimeout  time.Duration `env:"CIVICPAY_BREAKER_PROBE_TIMEOUT" envDefault:"1s"`

	// The payment flow. ZaloPay refuses attempts shorter than 5 minutes.
	AttemptTTL      time.Duration `env:"CIVICPAY_ATTEMPT_TTL" envDefault:"15m"`
	StatusPollDelay time.Duration `env:"CIVICPAY_STATUS_POLL_DELAY" envDefault:"1m"`
	StatusPollMax   time.Duration `env:"CIVICPAY_STATUS_POLL_MAX" envDefault:"5m"`
	RefundRetry     time.Duration `env:"CIVICPAY_REFUND_RETRY" envDefault:"10s"`
	RefundRetryMax  time.Duration `env:"CIVICPAY_REFUND_RETRY_MAX" envDefault:"10m"`
	RefundMaxTries  int           `env:"CIVICPAY_REFUND_MAX_TRIES" envDefault:"12"`
	// Workers is how many paying jobs (status queries, refunds) run at once.
	Workers int `env:"CIVICPAY_PAYMENT_WORKERS" envDefault:"20"`
}

// Load reads the environment. In development mode it fills every demo
// setting left unset (its variable absent) with gatewaysim's demo merchant.
// It does not Validate: only `serve` needs the gateways.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	switch c.Env {
	case EnvProduction:
	case EnvDevelopment:
		c.fillDevelopment(demo.SimURL, func(name string) bool { _, set := os.LookupEnv(name); return set })
	default:
		return c, fmt.Errorf("config: CIVICPAY_ENV is %q: want %s or %s", c.Env, EnvProduction, EnvDevelopment)
	}
	if c.OrderDefaultExpiry > c.OrderMaxExpiry {
		return c, fmt.Errorf("config: CIVICPAY_ORDER_DEFAULT_EXPIRY (%s) exceeds CIVICPAY_ORDER_MAX_EXPIRY (%s)", c.OrderDefaultExpiry, c.OrderMaxExpiry)
	}
	return c, nil
}

// Development reports whether the service runs in development mode
// (CIVICPAY_ENV=development): demo credentials and http allowed. Anything
// else, the empty string included, is production.
func (c Config) Development() bool { return c.Env == EnvDevelopment }

// fillDevelopment sets each demo setting whose variable isSet says is absent
// to gatewaysim's demo merchant at simURL.
func (c *Config) fillDevelopment(simURL string, isSet func(name string) bool) {
	simURL = strings.TrimRight(simURL, "/")
	p, r := &c.Paying, &c.Recon
	for _, d := range []struct {
		name  string
		field *string
		value string
	}{
		{"CIVICPAY_VNPAY_BASE_URL", &p.VNPAYBaseURL, simURL + "/vnpay"},
		{"CIVICPAY_VNPAY_HASH_SECRET", &p.VNPAYHashSecret, demo.VNPAYHashSecret},
		{"CIVICPAY_MOMO_BASE_URL", &p.MoMoBaseURL, simURL + "/momo"},
		{"CIVICPAY_MOMO_ACCESS_KEY", &p.MoMoAccessKey, demo.MoMoAccessKey},
		{"CIVICPAY_MOMO_SECRET_KEY", &p.MoMoSecretKey, demo.MoMoSecretKey},
		{"CIVICPAY_ZALOPAY_BASE_URL", &p.ZaloPayBaseURL, simURL + "/zalopay"},
		{"CIVICPAY_ZALOPAY_KEY1", &p.ZaloPayKey1, demo.ZaloPayKey1},
		{"CIVICPAY_ZALOPAY_KEY2", &p.ZaloPayKey2, demo.ZaloPayKey2},
		{"CIVICPAY_VIETQR_ACCOUNT", &p.VietQRAccount, demo.BankAccount},
		{"CIVICPAY_RECON_SETTLEMENT_URL", &r.SettlementURL, simURL + "/admin/settlements/{gateway}/{date}"},
		{"CIVICPAY_RECON_STATEMENT_URL", &r.StatementURL, simURL + "/bank/statements/camt053/{date}"},
	} {
		if !isSet(d.name) {
			*d.field = d.value
		}
	}
}

// DataKeyring builds the keys that encrypt data at rest. Without
// CIVICPAY_DATA_KEYS it is an error unless development, where the published
// demo keys are used and log is told so loudly.
func (c Config) DataKeyring(development bool, log *slog.Logger) (*secretbox.Keyring, error) {
	if strings.TrimSpace(c.DataKeys) == "" {
		if !development {
			return nil, errors.New("config: CIVICPAY_DATA_KEYS is not set (and CIVICPAY_LOOKUP_KEY): national IDs and webhook secrets would be encrypted under a published key")
		}
		log.Warn("CIVICPAY_DATA_KEYS is not set: national IDs and webhook secrets are encrypted under the published demo key (development only)")
		return secretbox.Demo(), nil
	}
	if strings.TrimSpace(c.LookupKey) == "" {
		return nil, errors.New("config: CIVICPAY_LOOKUP_KEY is not set (required with CIVICPAY_DATA_KEYS)")
	}
	k, err := secretbox.Parse(c.DataKeys, c.DataKeyID, c.LookupKey)
	if err != nil {
		return nil, fmt.Errorf("config: CIVICPAY_DATA_KEYS, CIVICPAY_DATA_KEY_ID, CIVICPAY_LOOKUP_KEY: %w", err)
	}
	return k, nil
}

// Validate checks what `serve` needs, naming every offending setting in one
// error. In production (the default) it refuses an enabled gateway whose
// credential is unset or one of the demo values published in this
// repository, a gateway base URL, statement or settlement URL or public URL
// that is not https, a demo VietQR account, and a receipt secret unset or
// shorter than MinReceiptSecretLen. Development mode allows all of that.
func (c Config) Validate() error {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	switch c.Env {
	case "", EnvProduction, EnvDevelopment:
	default:
		add("CIVICPAY_ENV is %q: want %s or %s", c.Env, EnvProduction, EnvDevelopment)
	}
	for i, s := range c.OldReceiptSecrets {
		if len(s) < MinReceiptSecretLen {
			add("CIVICPAY_RECEIPT_SECRETS_OLD: secret %d is shorter than %d bytes", i+1, MinReceiptSecretLen)
		}
	}
	if !c.Development() {
		c.validateProduction(add)
	}
	if len(bad) == 0 {
		return nil
	}
	if c.Development() {
		return fmt.Errorf("config: %s", strings.Join(bad, "; "))
	}
	return fmt.Errorf("config: production refuses to serve: %s (CIVICPAY_ENV=development allows demo settings, never with real money)",
		strings.Join(bad, "; "))
}

func (c Config) validateProduction(add func(format string, args ...any)) {
	if strings.TrimSpace(c.DataKeys) == "" {
		add("CIVICPAY_DATA_KEYS is not set")
	}
	if strings.TrimSpace(c.LookupKey) == "" {
		add("CIVICPAY_LOOKUP_KEY is not set")
	}
	switch n := len(c.ReceiptSecret); {
	case n == 0:
		add("CIVICPAY_RECEIPT_SECRET is not set")
	case n < MinReceiptSecretLen:
		add("CIVICPAY_RECEIPT_SECRET is shorter than %d bytes", MinReceiptSecretLen)
	}
	https := func(name, u string, optional bool) {
		if u == "" && optional {
			return
		}
		if u == "" {
			add("%s is not set", name)
			return
		}
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			add("%s must be an https URL (is %q)", name, u)
		}
	}
	secret := func(name, v string) {
		switch {
		case v == "":
			add("%s is not set", name)
		case demo.IsPublished(v):
			add("%s is a demo value published in the civicpay repository", name)
		}
	}
	https("CIVICPAY_PUBLIC_URL", c.PublicURL, false)
	p := c.Paying
	for _, g := range p.Gateways {
		switch strings.TrimSpace(g) {
		case "vnpay":
			https("CIVICPAY_VNPAY_BASE_URL", p.VNPAYBaseURL, false)
			secret("CIVICPAY_VNPAY_HASH_SECRET", p.VNPAYHashSecret)
		case "momo":
			https("CIVICPAY_MOMO_BASE_URL", p.MoMoBaseURL, false)
			secret("CIVICPAY_MOMO_ACCESS_KEY", p.MoMoAccessKey)
			secret("CIVICPAY_MOMO_SECRET_KEY", p.MoMoSecretKey)
		case "zalopay":
			https("CIVICPAY_ZALOPAY_BASE_URL", p.ZaloPayBaseURL, false)
			secret("CIVICPAY_ZALOPAY_KEY1", p.ZaloPayKey1)
			secret("CIVICPAY_ZALOPAY_KEY2", p.ZaloPayKey2)
		case "vietqr":
			switch p.VietQRAccount {
			case "":
				add("CIVICPAY_VIETQR_ACCOUNT is not set")
			case demo.BankAccount:
				add("CIVICPAY_VIETQR_ACCOUNT is the demo account published in the civicpay repository")
			}
		}
	}
	https("CIVICPAY_RECON_SETTLEMENT_URL", c.Recon.SettlementURL, true)
	https("CIVICPAY_RECON_STATEMENT_URL", c.Recon.StatementURL, true)
}

// Defaults is the development configuration with every default and
// databaseURL, whatever the process environment holds: for programs that
// build the app in process (benchmarks), so they do not copy the defaults by
// hand. The gateways are gatewaysim's demo merchant on http://127.0.0.1:8090.
func Defaults(databaseURL string) Config {
	return development(map[string]string{"DATABASE_URL": databaseURL}, demo.SimURL)
}

// DemoPaying is the gateways' development configuration (gatewaysim's demo
// merchant, every gateway enabled) with the simulator at simURL instead of
// http://127.0.0.1:8090: for tests and benchmarks that run gatewaysim in
// process.
func DemoPaying(simURL string) Paying {
	return development(map[string]string{}, simURL).Paying
}

func development(environ map[string]string, simURL string) Config {
	var c Config
	environ["CIVICPAY_ENV"] = EnvDevelopment
	// The struct tags' defaults always parse; only DATABASE_URL is required.
	_ = env.ParseWithOptions(&c, env.Options{Environment: environ})
	c.fillDevelopment(simURL, func(string) bool { return false })
	return c
}
