// Package config reads civicpay's configuration from the environment. Every
// variable is listed in the README's configuration table.
package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/civicpay/civicpay/webhooks"
)

// Config is the whole service configuration.
type Config struct {
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
	// ShutdownGrace is how long SIGTERM waits for in-flight requests and running jobs.
	ShutdownGrace time.Duration `env:"CIVICPAY_SHUTDOWN_GRACE" envDefault:"20s"`
	// ReceiptSecret keys the verification codes printed on citizens' receipts
	// (at least 32 bytes). Unset: a random one per process, with a warning.
	ReceiptSecret string `env:"CIVICPAY_RECEIPT_SECRET"`
	// AuthCacheTTL is how long a verified API key is cached in process (a revoked key stops within it).
	AuthCacheTTL time.Duration `env:"CIVICPAY_AUTH_CACHE_TTL" envDefault:"5s"`

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
}

// Recon configures reconciliation (package reconciliation). The fetch URLs
// default to gatewaysim on http://127.0.0.1:8090, as `make run` starts it;
// {gateway} and {date} (YYYY-MM-DD) are replaced, and an empty URL turns that
// fetch off (files then come by upload or `civicpay reconcile import`).
type Recon struct {
	// Cutoff is the time of day, GMT+7, of the daily run over the previous
	// business day; "off" schedules none.
	Cutoff        string `env:"CIVICPAY_RECON_CUTOFF" envDefault:"06:00"`
	SettlementURL string `env:"CIVICPAY_RECON_SETTLEMENT_URL" envDefault:"http://127.0.0.1:8090/admin/settlements/{gateway}/{date}"`
	StatementURL  string `env:"CIVICPAY_RECON_STATEMENT_URL" envDefault:"http://127.0.0.1:8090/bank/statements/camt053/{date}"`
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

// Paying configures the gateways and the payment flow. The defaults are
// gatewaysim's demo merchant (internal/gatewaysim DemoConfig) on
// http://127.0.0.1:8090, as `make run` starts it; every gateway's secrets
// must be replaced in production.
type Paying struct {
	// Gateways lists the enabled gateways, in the router's default order of
	// preference ("none" for no gateway).
	Gateways []string `env:"CIVICPAY_GATEWAYS" envDefault:"vnpay,momo,zalopay,vietqr" envSeparator:","`
	// Preferences orders gateways per method, e.g. "ewallet=zalopay,momo;card=vnpay";
	// a method not named uses Gateways' order.
	Preferences string `env:"CIVICPAY_GATEWAY_PREFERENCES"`
	// GatewayTimeout is each call's own deadline to a gateway.
	GatewayTimeout time.Duration `env:"CIVICPAY_GATEWAY_TIMEOUT" envDefault:"10s"`

	VNPAYBaseURL    string `env:"CIVICPAY_VNPAY_BASE_URL" envDefault:"http://127.0.0.1:8090/vnpay"`
	VNPAYTmnCode    string `env:"CIVICPAY_VNPAY_TMN_CODE" envDefault:"CIVICPAY"`
	VNPAYHashSecret string `env:"CIVICPAY_VNPAY_HASH_SECRET" envDefault:"DEMOVNPAYHASHSECRETDEMOVNPAYHASH"`

	MoMoBaseURL     string `env:"CIVICPAY_MOMO_BASE_URL" envDefault:"http://127.0.0.1:8090/momo"`
	MoMoPartnerCode string `env:"CIVICPAY_MOMO_PARTNER_CODE" envDefault:"MOMOCIVICPAY2026"`
	MoMoAccessKey   string `env:"CIVICPAY_MOMO_ACCESS_KEY" envDefault:"DEMOMOMOACCESSK"`
	MoMoSecretKey   string `env:"CIVICPAY_MOMO_SECRET_KEY" envDefault:"DEMOMOMOSECRETKEYDEMOMOMOSECRETK"`

	ZaloPayBaseURL string `env:"CIVICPAY_ZALOPAY_BASE_URL" envDefault:"http://127.0.0.1:8090/zalopay"`
	ZaloPayAppID   int64  `env:"CIVICPAY_ZALOPAY_APP_ID" envDefault:"2554"`
	ZaloPayKey1    string `env:"CIVICPAY_ZALOPAY_KEY1" envDefault:"DEMOZALOPAYKEY1DEMOZALOPAYKEY1AA"`
	ZaloPayKey2    string `env:"CIVICPAY_ZALOPAY_KEY2" envDefault:"DEMOZALOPAYKEY2DEMOZALOPAYKEY2BB"`

	VietQRBankBIN string `env:"CIVICPAY_VIETQR_BANK_BIN" envDefault:"970436"`
	VietQRAccount string `env:"CIVICPAY_VIETQR_ACCOUNT" envDefault:"0011004123456"`

	// Circuit breakers, one per gateway (only technical failures count).
	BreakerConsecutiveFailures uint32        `env:"CIVICPAY_BREAKER_CONSECUTIVE_FAILURES" envDefault:"5"`
	BreakerFailureRatio        float64       `env:"CIVICPAY_BREAKER_FAILURE_RATIO" envDefault:"0.5"`
	BreakerMinRequests         uint32        `env:"CIVICPAY_BREAKER_MIN_REQUESTS" envDefault:"20"`
	BreakerWindow              time.Duration `env:"CIVICPAY_BREAKER_WINDOW" envDefault:"60s"`
	BreakerOpenTimeout         time.Duration `env:"CIVICPAY_BREAKER_OPEN_TIMEOUT" envDefault:"30s"`
	BreakerHalfOpenRequests    uint32        `env:"CIVICPAY_BREAKER_HALF_OPEN_REQUESTS" envDefault:"1"`

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

// Load reads the environment.
func Load() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.OrderDefaultExpiry > c.OrderMaxExpiry {
		return c, fmt.Errorf("config: CIVICPAY_ORDER_DEFAULT_EXPIRY (%s) exceeds CIVICPAY_ORDER_MAX_EXPIRY (%s)", c.OrderDefaultExpiry, c.OrderMaxExpiry)
	}
	return c, nil
}

// Defaults is the configuration with every default and databaseURL, whatever
// the process environment holds: for programs that build the app in process
// (benchmarks), so they do not copy the defaults by hand.
func Defaults(databaseURL string) Config {
	var c Config
	// The struct tags' defaults always parse; only DATABASE_URL is required.
	_ = env.ParseWithOptions(&c, env.Options{Environment: map[string]string{"DATABASE_URL": databaseURL}})
	return c
}

// DemoPaying is the gateways' default configuration (gatewaysim's demo
// merchant, every gateway enabled) with the simulator at simURL instead of
// http://127.0.0.1:8090: for tests and benchmarks that run gatewaysim in
// process.
func DemoPaying(simURL string) Paying {
	var p Paying
	_ = env.ParseWithOptions(&p, env.Options{Environment: map[string]string{}}) // the defaults always parse
	simURL = strings.TrimRight(simURL, "/")
	p.VNPAYBaseURL, p.MoMoBaseURL, p.ZaloPayBaseURL = simURL+"/vnpay", simURL+"/momo", simURL+"/zalopay"
	return p
}
