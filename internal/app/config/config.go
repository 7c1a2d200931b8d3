// Package config reads civicpay's configuration from the environment. Every
// variable is listed in the README's configuration table.
package config

//go:generate go test -run TestREADMEConfigTable -update .

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

// Config is the whole service configuration. Each field read from the
// environment carries its variable (env) and its default (envDefault: the one
// place a default is written; docDefault where the table says more), and its
// doc comment is its line in the README's configuration table
// (TestREADMEConfigTable keeps the two equal). The domain packages take plain
// configurations built from this one (domain.go).
type Config struct {
	// `production` or `development` (demo credentials, http and a random
	// receipt secret allowed; logged at start). Anything else is an error.
	Env string `env:"CIVICPAY_ENV" envDefault:"production"`
	// The PostgreSQL connection URL (`make run`/`make test` set it).
	DatabaseURL string `env:"DATABASE_URL,required"`
	// A streaming replica of it (optional). Reports read it (revenue, order
	// lists, exports, the console's lists and dashboards) while its measured
	// replay lag is within CIVICPAY_READ_MAX_LAG, else the primary; a read
	// that must see its own writes (an order, a form's result) reads the
	// primary always.
	DatabaseReadURL string `env:"DATABASE_READ_URL"`
	// The staleness bound of reports read from DATABASE_READ_URL.
	ReadMaxLag time.Duration `env:"CIVICPAY_READ_MAX_LAG" envDefault:"5s"`
	// The address the HTTP server listens on.
	Addr string `env:"CIVICPAY_ADDR" envDefault:"127.0.0.1:8080"`
	// How citizens and gateways reach the service: pay URLs, return and
	// callback URLs.
	PublicURL string `env:"CIVICPAY_PUBLIC_URL" envDefault:"http://127.0.0.1:8080"`
	// `debug`, `info`, `warn` or `error` (JSON logs on stderr).
	LogLevel string `env:"CIVICPAY_LOG_LEVEL" envDefault:"info"`
	// Size of the database pool shared by HTTP handlers and River workers.
	DBMaxConns int32 `env:"CIVICPAY_DB_MAX_CONNS" envDefault:"32"`
	// The largest request body accepted (413 beyond).
	MaxBodyBytes int `env:"CIVICPAY_MAX_BODY_BYTES" envDefault:"1048576"`
	// How long SIGTERM waits for in-flight requests (no new connection is
	// accepted); requests still running then are cut and logged (method,
	// route, request id).
	ShutdownGrace time.Duration `env:"CIVICPAY_SHUTDOWN_GRACE" envDefault:"20s"`
	// How long SIGTERM then waits for running River jobs to finish (none
	// starts); the ones still running are then cancelled and logged, and run
	// again later (every job is idempotent).
	JobsStopTimeout time.Duration `env:"CIVICPAY_JOBS_STOP_TIMEOUT" envDefault:"20s"`
	// Keys the verification codes printed on citizens' receipts (at least 32
	// bytes). Unset in development: a random one per process, with a warning.
	ReceiptSecret string `env:"CIVICPAY_RECEIPT_SECRET" docDefault:"(required in production)"`
	// Previous receipt secrets (comma-separated, each at least 32 bytes) that
	// still verify receipts issued before a rotation.
	OldReceiptSecrets []string `env:"CIVICPAY_RECEIPT_SECRETS_OLD" envSeparator:","`
	// The separate address `/metrics` (Prometheus) is served on, never the
	// public one; `off` serves none.
	MetricsAddr string `env:"CIVICPAY_METRICS_ADDR" envDefault:"127.0.0.1:9090"`
	// AES-256 keys encrypting national IDs and webhook signing secrets in the
	// database: comma-separated `kid:base64` (32 bytes each, e.g. `openssl
	// rand -base64 32`). Keep an old key listed until `civicpay keys
	// rotate-data-key` has finished. Unset in development: the published demo
	// key, with a warning.
	DataKeys string `env:"CIVICPAY_DATA_KEYS" docDefault:"(required in production)"`
	// The kid of `CIVICPAY_DATA_KEYS` that encrypts new values (may be empty
	// with one key).
	DataKeyID string `env:"CIVICPAY_DATA_KEY_ID"`
	// Base64, at least 32 bytes: keys the HMAC-SHA256 of national IDs kept for
	// equality lookups. Required with `CIVICPAY_DATA_KEYS`; never rotates with
	// them.
	LookupKey string `env:"CIVICPAY_LOOKUP_KEY" docDefault:"(required in production)"`
	// How long a verified API key is cached in process (a revoked key stops
	// within it).
	AuthCacheTTL time.Duration `env:"CIVICPAY_AUTH_CACHE_TTL" envDefault:"5s"`
	// How long a new API key lives when its creator gives no expiry (`POST
	// /v1/keys`, `civicpay keys create`); 0 means no expiry.
	KeyDefaultTTL time.Duration `env:"CIVICPAY_KEY_DEFAULT_TTL" envDefault:"8760h"`

	// The expiry of an order that names no `expires_at`.
	OrderDefaultExpiry time.Duration `env:"CIVICPAY_ORDER_DEFAULT_EXPIRY" envDefault:"24h"`
	// The furthest `expires_at` an order may ask for.
	OrderMaxExpiry time.Duration `env:"CIVICPAY_ORDER_MAX_EXPIRY" envDefault:"720h"`
	// How often the River job expires overdue open orders.
	ExpiryInterval time.Duration `env:"CIVICPAY_EXPIRY_INTERVAL" envDefault:"1m"`

	// The default queue's worker count.
	RiverWorkers int `env:"CIVICPAY_RIVER_WORKERS" envDefault:"50"`
	// How long a running job may go silent (its process killed) before River
	// runs it again elsewhere. Every job is idempotent.
	RiverRescueAfter time.Duration `env:"CIVICPAY_RIVER_RESCUE_AFTER" envDefault:"5m"`

	// A manual ledger entry or reversal whose debits exceed it (in VND; any
	// other currency always) waits for a second treasury key's approval, as
	// does one touching an agency account.
	ManualEntryApprovalAmount decimal.Decimal `env:"CIVICPAY_MANUAL_ENTRY_APPROVAL_AMOUNT" envDefault:"10000000"`
	// How far in the past a manual ledger entry may take effect (never in or
	// before the last closed business day, never more than 5 minutes ahead).
	ManualEntryMaxBackdate time.Duration `env:"CIVICPAY_MANUAL_ENTRY_MAX_BACKDATE" envDefault:"168h"`

	Recon    Recon
	Paying   Paying
	Webhooks Webhooks
	Limits   Limits

	// Console: the staff console at /console (see Console).
	Console Console

	// Retention: how long operational rows are kept (see Retention).
	Retention Retention

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
	// A staff console session not used for this long ends.
	IdleTimeout time.Duration `env:"CIVICPAY_CONSOLE_IDLE_TIMEOUT" envDefault:"30m"`
	// Any staff console session ends this long after sign-in.
	AbsoluteTimeout time.Duration `env:"CIVICPAY_CONSOLE_ABSOLUTE_TIMEOUT" envDefault:"12h"`
	// How long a `civicpay users create`/`link` set-password link works.
	SetupLinkTTL time.Duration `env:"CIVICPAY_CONSOLE_SETUP_LINK_TTL" envDefault:"72h"`
	// Failed console sign-ins (password or code) a minute per client IP, in
	// each process (0 = off).
	LoginPerIP int `env:"CIVICPAY_CONSOLE_LOGIN_PER_IP" envDefault:"20"`
	// Failed console sign-ins a minute per email, in each process (0 = off).
	LoginPerAccount int `env:"CIVICPAY_CONSOLE_LOGIN_PER_ACCOUNT" envDefault:"10"`
	// Consecutive failed sign-ins, counted in the database so that every
	// instance agrees, that lock a staff account.
	LockoutAfter int `env:"CIVICPAY_CONSOLE_LOCKOUT_AFTER" envDefault:"10"`
	// How long a locked staff account stays locked.
	Lockout time.Duration `env:"CIVICPAY_CONSOLE_LOCKOUT" envDefault:"15m"`
}

// Limits are the abuse controls (README "Security"). A rate limit of 0 turns
// that limit off; rates are per minute and per process.
type Limits struct {
	// Requests a minute per API key, after authentication (0 = off).
	RatePerKey int `env:"CIVICPAY_RATE_LIMIT_PER_KEY" envDefault:"6000"`
	// Requests a minute per client address before authentication: all
	// outside `/v1`, only failed ones (status ≥ 400) under `/v1`, whose
	// successful requests count against their key instead; gateway callbacks
	// and probes are not counted (0 = off).
	RatePerIP int `env:"CIVICPAY_RATE_LIMIT_PER_IP" envDefault:"1200"`
	// Citizen page requests (`/pay`, `/return`, `/receipts`) a minute per
	// client address (0 = off).
	PagesPerIP int `env:"CIVICPAY_RATE_LIMIT_PAGES_PER_IP" envDefault:"300"`
	// Citizen page requests a minute per payment reference (0 = off).
	PagesPerRef int `env:"CIVICPAY_RATE_LIMIT_PAGES_PER_REF" envDefault:"60"`
	// Pending, unexpired payment attempts one order may have; one more is a
	// 429 with Retry-After and no gateway call (0 = no cap).
	MaxOpenAttempts int `env:"CIVICPAY_MAX_OPEN_ATTEMPTS" envDefault:"5"`
	// Concurrent TCP connections per peer address, trusted proxies exempt (0
	// = no cap).
	MaxConnsPerIP int `env:"CIVICPAY_MAX_CONNS_PER_IP" envDefault:"256"`
	// Reverse proxies (addresses or CIDRs, comma-separated) allowed to name
	// the client in `CIVICPAY_PROXY_HEADER`; empty: the client is the TCP peer
	// and no header is believed.
	TrustedProxies []string `env:"CIVICPAY_TRUSTED_PROXIES" envSeparator:","`
	// Header a trusted proxy sets to the client's address; the proxy must
	// overwrite it, never append (nginx: `proxy_set_header X-Real-IP
	// $remote_addr`).
	ProxyHeader string `env:"CIVICPAY_PROXY_HEADER" envDefault:"X-Real-IP"`
	// Time to receive a request's headers and body (a new connection's first
	// request from when it opens).
	ReadTimeout time.Duration `env:"CIVICPAY_READ_TIMEOUT" envDefault:"10s"`
	// Time a keep-alive connection may wait for its next request.
	IdleTimeout time.Duration `env:"CIVICPAY_IDLE_TIMEOUT" envDefault:"30s"`
	// Time a statement upload (`POST /v1/statements`) has to send its body,
	// from the end of its headers.
	UploadReadTimeout time.Duration `env:"CIVICPAY_UPLOAD_READ_TIMEOUT" envDefault:"30m"`
	// Deadline of a request's work once its headers are in (database queries,
	// waiting for a group-commit batch); a statement upload has
	// `CIVICPAY_UPLOAD_READ_TIMEOUT` more.
	RequestTimeout time.Duration `env:"CIVICPAY_REQUEST_TIMEOUT" envDefault:"60s"`
	// How long a well-formed but unknown, revoked or wrong key is refused
	// without a database query.
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
	// The time of day, GMT+7, of the daily run over the previous business
	// day; `off` schedules none.
	Cutoff string `env:"CIVICPAY_RECON_CUTOFF" envDefault:"06:00"`
	// Where the daily run fetches each gateway's settlement file (`{gateway}`
	// and `{date}` replaced; https in production; unset: upload only).
	SettlementURL string `env:"CIVICPAY_RECON_SETTLEMENT_URL"`
	// Where the daily run fetches the treasury bank's camt.053 (`{date}`
	// replaced; https in production; unset: upload only).
	StatementURL string `env:"CIVICPAY_RECON_STATEMENT_URL"`
	// Sent as `Authorization: Bearer` with the bank statement fetch.
	StatementToken string `env:"CIVICPAY_RECON_STATEMENT_TOKEN"`
	// Sent as `Authorization: Bearer` with the gateways' settlement file
	// fetches.
	SettlementToken string `env:"CIVICPAY_RECON_SETTLEMENT_TOKEN"`
	// PEM file of a TLS client certificate presented by the fetches (with
	// `CIVICPAY_RECON_CLIENT_KEY`). A fetched statement's credits pay orders
	// that have no paid attempt at once only when the fetch is authenticated
	// (https with a token or a certificate; in development the simulator
	// counts as such); uploaded and imported statements' such credits always
	// wait for a second treasury key: `POST
	// /v1/reconciliation/exceptions/{id}/approve`.
	ClientCert string `env:"CIVICPAY_RECON_CLIENT_CERT"`
	// PEM file of the key of `CIVICPAY_RECON_CLIENT_CERT` (both or neither).
	ClientKey string `env:"CIVICPAY_RECON_CLIENT_KEY"`
	// The gateways whose settlement files the daily run fetches.
	Gateways []string `env:"CIVICPAY_RECON_GATEWAYS" envDefault:"vnpay,momo,zalopay" envSeparator:","`
	// The contracted fees checked on every payment line: `gateway=P%[+F]`,
	// comma-separated; empty checks none.
	Fees string `env:"CIVICPAY_RECON_FEES" envDefault:"vnpay=1.1%+1650,momo=1.5%,zalopay=1%"`
	// Largest difference of a line's amount from our record still matched
	// (in the currency's units).
	AmountTolerance string `env:"CIVICPAY_RECON_AMOUNT_TOLERANCE" envDefault:"0"`
	// Largest fee difference from the contracted fee still accepted.
	FeeTolerance string `env:"CIVICPAY_RECON_FEE_TOLERANCE" envDefault:"0"`
	// Time window when pairing lines by amount and time.
	MatchWindow time.Duration `env:"CIVICPAY_RECON_MATCH_WINDOW" envDefault:"15m"`
	// Largest difference between a bank credit and its settlement file's net.
	SettlementTolerance string `env:"CIVICPAY_RECON_SETTLEMENT_TOLERANCE" envDefault:"0"`
	// Days after its business day a gateway's settlement credit may arrive.
	SettlementDays int `env:"CIVICPAY_RECON_SETTLEMENT_DAYS" envDefault:"3"`
	// Largest difference (VND) a treasury user may write off when resolving
	// an exception; a larger one is matched to a fee or to suspense instead.
	WriteOffLimit string `env:"CIVICPAY_RECON_WRITE_OFF_LIMIT" envDefault:"50000"`
	// A resolution that moves more than this (VND; any other currency always)
	// waits for a second treasury user's approval.
	ResolutionApprovalAmount string `env:"CIVICPAY_RECON_RESOLUTION_APPROVAL_AMOUNT" envDefault:"10000000"`
	// Deadline of one statement fetch.
	FetchTimeout time.Duration `env:"CIVICPAY_RECON_FETCH_TIMEOUT" envDefault:"2m"`
	// Deadline of one gateway status query for a `missing_here` line.
	QueryTimeout time.Duration `env:"CIVICPAY_RECON_QUERY_TIMEOUT" envDefault:"10s"`
	// Status queries in flight at once during auto-resolution.
	QueryConcurrency int `env:"CIVICPAY_RECON_QUERY_CONCURRENCY" envDefault:"4"`
	// Largest statement file accepted.
	MaxFileBytes int64 `env:"CIVICPAY_RECON_MAX_FILE_BYTES" envDefault:"2147483648"`
	// PostgreSQL's `work_mem` for the matching statements.
	WorkMem string `env:"CIVICPAY_RECON_WORK_MEM" envDefault:"128MB"`
	// How many reconciliation jobs (loads, runs) run at once: a few, so that
	// a day's loads overlap without starving the database.
	Workers int `env:"CIVICPAY_RECON_WORKERS" envDefault:"2"`
	// At most this many `reconciliation.exception` webhooks per run (the rest
	// are in the run's report).
	MaxExceptionEvents int `env:"CIVICPAY_RECON_MAX_EXCEPTION_EVENTS" envDefault:"100"`
	// Sources (`bank`, `vnpay`, `momo`, `zalopay`) whose files are loaded
	// under the tolerant rule: a statement whose balances or `TxsSummry` do
	// not add up, or a settlement file whose trailer disagrees with its lines,
	// is loaded and flagged with the difference (`GET /v1/statements/{id}`)
	// instead of refused. Unset: every source is strict.
	Tolerant []string `env:"CIVICPAY_RECON_TOLERANT" envSeparator:","`
}

// Paying configures the gateways and the payment flow. The base URLs,
// credentials and VietQR account have no default: development mode fills in
// gatewaysim's demo merchant (internal/app/demo) on http://127.0.0.1:8090, as
// `make run` starts it; production must set them for every enabled gateway.
type Paying struct {
	// The enabled gateways, in the router's default order of preference
	// (`none` for no gateway).
	Gateways []string `env:"CIVICPAY_GATEWAYS" envDefault:"vnpay,momo,zalopay,vietqr" envSeparator:","`
	// Gateways per method, e.g. `ewallet=zalopay,momo;card=vnpay`; a method
	// not named uses `CIVICPAY_GATEWAYS`' order.
	Preferences string `env:"CIVICPAY_GATEWAY_PREFERENCES"`
	// Each adapter's own deadline on a call to its gateway.
	GatewayTimeout time.Duration `env:"CIVICPAY_GATEWAY_TIMEOUT" envDefault:"10s"`
	// The payment flow's deadline on each call it makes to a gateway, on top
	// of `CIVICPAY_GATEWAY_TIMEOUT`.
	CallTimeout time.Duration `env:"CIVICPAY_GATEWAY_CALL_TIMEOUT" envDefault:"15s"`

	// VNPAY base URL (https in production).
	VNPAYBaseURL string `env:"CIVICPAY_VNPAY_BASE_URL"`
	// VNPAY terminal code.
	VNPAYTmnCode string `env:"CIVICPAY_VNPAY_TMN_CODE" envDefault:"CIVICPAY"`
	// VNPAY hash secret (required in production; demo values refused).
	VNPAYHashSecret string `env:"CIVICPAY_VNPAY_HASH_SECRET"`

	// MoMo base URL (https in production).
	MoMoBaseURL string `env:"CIVICPAY_MOMO_BASE_URL"`
	// MoMo partner code.
	MoMoPartnerCode string `env:"CIVICPAY_MOMO_PARTNER_CODE" envDefault:"MOMOCIVICPAY2026"`
	// MoMo access key (required in production; demo values refused).
	MoMoAccessKey string `env:"CIVICPAY_MOMO_ACCESS_KEY"`
	// MoMo secret key (required in production; demo values refused).
	MoMoSecretKey string `env:"CIVICPAY_MOMO_SECRET_KEY"`

	// ZaloPay base URL (https in production).
	ZaloPayBaseURL string `env:"CIVICPAY_ZALOPAY_BASE_URL"`
	// ZaloPay app id.
	ZaloPayAppID int64 `env:"CIVICPAY_ZALOPAY_APP_ID" envDefault:"2554"`
	// ZaloPay key1, signs requests (required in production; demo values
	// refused).
	ZaloPayKey1 string `env:"CIVICPAY_ZALOPAY_KEY1"`
	// ZaloPay key2, verifies callbacks (required in production; demo values
	// refused).
	ZaloPayKey2 string `env:"CIVICPAY_ZALOPAY_KEY2"`

	// The treasury account's bank BIN for VietQR codes.
	VietQRBankBIN string `env:"CIVICPAY_VIETQR_BANK_BIN" envDefault:"970436"`
	// The treasury account number for VietQR codes (required in production
	// when `vietqr` is enabled; the demo account refused).
	VietQRAccount string `env:"CIVICPAY_VIETQR_ACCOUNT"`

	// Circuit breakers, two per gateway: *create* decides whether the gateway
	// is offered for new payments, *query* guards status queries and refunds
	// (a failing status query never takes a method away). Only technical
	// failures count; this many in a row open a breaker.
	BreakerConsecutiveFailures uint32 `env:"CIVICPAY_BREAKER_CONSECUTIVE_FAILURES" envDefault:"5"`
	// Failure ratio that also opens it (0 = off).
	BreakerFailureRatio float64 `env:"CIVICPAY_BREAKER_FAILURE_RATIO" envDefault:"0.5"`
	// Calls needed in the window before the ratio applies.
	BreakerMinRequests uint32 `env:"CIVICPAY_BREAKER_MIN_REQUESTS" envDefault:"20"`
	// Rolling window of the breaker counts.
	BreakerWindow time.Duration `env:"CIVICPAY_BREAKER_WINDOW" envDefault:"60s"`
	// Longest time open before calls are tried half-open (a probe usually
	// closes it sooner).
	BreakerOpenTimeout time.Duration `env:"CIVICPAY_BREAKER_OPEN_TIMEOUT" envDefault:"30s"`
	// Trial calls at once when half-open, and successes in a row needed to
	// close.
	BreakerHalfOpenRequests uint32 `env:"CIVICPAY_BREAKER_HALF_OPEN_REQUESTS" envDefault:"1"`
	// While a breaker is open, its gateway is probed this often with a status
	// query for a reference that cannot exist; the first answer (any answer,
	// "not found" included) closes it.
	BreakerProbeInterval time.Duration `env:"CIVICPAY_BREAKER_PROBE_INTERVAL" envDefault:"500ms"`
	// Deadline of one probe.
	BreakerProbeTimeout time.Duration `env:"CIVICPAY_BREAKER_PROBE_TIMEOUT" envDefault:"1s"`

	// How long an attempt may stay pending before its status job gives up on
	// it (never past the order's expiry). ZaloPay refuses attempts shorter
	// than 5 minutes.
	AttemptTTL time.Duration `env:"CIVICPAY_ATTEMPT_TTL" envDefault:"15m"`
	// First status query after an attempt, then doubling; an attempt still
	// pending then gets its status job from a sweep that runs every quarter
	// of this delay (100 ms–15 s).
	StatusPollDelay time.Duration `env:"CIVICPAY_STATUS_POLL_DELAY" envDefault:"1m"`
	// Longest interval between status queries.
	StatusPollMax time.Duration `env:"CIVICPAY_STATUS_POLL_MAX" envDefault:"5m"`
	// First wait before retrying a gateway refund, then doubling.
	RefundRetry time.Duration `env:"CIVICPAY_REFUND_RETRY" envDefault:"10s"`
	// Longest wait between refund retries.
	RefundRetryMax time.Duration `env:"CIVICPAY_REFUND_RETRY_MAX" envDefault:"10m"`
	// Gateway calls before a refund stops being retried.
	RefundMaxTries int `env:"CIVICPAY_REFUND_MAX_TRIES" envDefault:"12"`
	// How many paying jobs (status queries, refunds) run at once.
	Workers int `env:"CIVICPAY_PAYMENT_WORKERS" envDefault:"20"`
}

// Webhooks configures outbound webhooks (package webhooks).
type Webhooks struct {
	// Lets endpoints point at loopback addresses (127.0.0.0/8, ::1) over http
	// or https. For tests and `make run` only.
	AllowLoopback bool `env:"CIVICPAY_WEBHOOKS_ALLOW_LOOPBACK" envDefault:"false"`
	// Host names trusted to use plain http and to resolve to private
	// addresses (an agency system on the government network), comma-separated.
	AllowedHosts []string `env:"CIVICPAY_WEBHOOKS_ALLOWED_HOSTS" envSeparator:","`
	// Deadline of one delivery: connect, send, and read the response head and
	// the logged part of the body.
	Timeout time.Duration `env:"CIVICPAY_WEBHOOKS_TIMEOUT" envDefault:"5s"`
	// The waits after each failed delivery attempt; a delivery gets one
	// attempt more than the schedule has waits.
	RetrySchedule []time.Duration `env:"CIVICPAY_WEBHOOKS_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h" envSeparator:","`
	// Cap on how long a receiver's Retry-After may postpone an attempt.
	RetryAfterMax time.Duration `env:"CIVICPAY_WEBHOOKS_RETRY_AFTER_MAX" envDefault:"1h"`
	// How long a rotated-out secret keeps signing messages beside the new one.
	SecretGrace time.Duration `env:"CIVICPAY_WEBHOOKS_SECRET_GRACE" envDefault:"24h"`
	// An endpoint failing every attempt this long is disabled (admins are
	// told).
	DisableAfter time.Duration `env:"CIVICPAY_WEBHOOKS_DISABLE_AFTER" envDefault:"120h"`
	// How often that check runs.
	SweepInterval time.Duration `env:"CIVICPAY_WEBHOOKS_SWEEP_INTERVAL" envDefault:"15m"`
	// Most endpoints one API key may own (422 beyond).
	MaxEndpointsPerKey int `env:"CIVICPAY_WEBHOOKS_MAX_ENDPOINTS_PER_KEY" envDefault:"10"`
}

// Retention says how long operational rows are kept; 0 keeps them for
// ever. The ledger, the audit log, orders and their events are never pruned.
type Retention struct {
	// Attempt logs of webhook deliveries that succeeded, kept this many days.
	WebhookAttemptsDays int `env:"CIVICPAY_RETAIN_WEBHOOK_ATTEMPTS_DAYS" envDefault:"90"`
	// Reconciliation staging rows (settlement lines, bank entries, matched
	// items) of closed business days with no open exception, kept this many
	// days; such a day is not reconciled again.
	ReconStagingDays int `env:"CIVICPAY_RETAIN_RECON_STAGING_DAYS" envDefault:"400"`
	// The bytes of received statement and settlement files, kept this many
	// years (the file's record stays). Vietnam's accounting law keeps
	// accounting documents 10 years.
	RawFilesYears int `env:"CIVICPAY_RETAIN_RAW_FILES_YEARS" envDefault:"10"`
	// Completed River jobs, deleted by River's cleaner after this.
	CompletedJobs time.Duration `env:"CIVICPAY_RETAIN_COMPLETED_JOBS" envDefault:"24h"`
	// Cancelled and discarded River jobs, kept longer to look into.
	FailedJobs time.Duration `env:"CIVICPAY_RETAIN_FAILED_JOBS" envDefault:"168h"`
	// How often the retention job runs.
	Interval time.Duration `env:"CIVICPAY_RETENTION_INTERVAL" envDefault:"1h"`
}

// check refuses negative periods.
func (r Retention) check() error {
	switch {
	case r.WebhookAttemptsDays < 0, r.ReconStagingDays < 0, r.RawFilesYears < 0:
		return errors.New("config: CIVICPAY_RETAIN_*: a retention period is negative (0 keeps for ever)")
	case r.CompletedJobs < 0, r.FailedJobs < 0:
		return errors.New("config: CIVICPAY_RETAIN_COMPLETED_JOBS, CIVICPAY_RETAIN_FAILED_JOBS: negative")
	case r.Interval <= 0:
		return errors.New("config: CIVICPAY_RETENTION_INTERVAL must be positive")
	}
	return nil
}

// Load reads the environment. In development mode it fills every demo
// setting left unset (its variable absent) with gatewaysim's demo merchant.
// It refuses what a domain package would (a timeout of 0, a bad
// work_mem...), but does not Validate: only `serve` needs the gateways.
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
	if err := c.checkDomains(); err != nil {
		return c, err
	}
	if err := c.Retention.check(); err != nil {
		return c, err
	}
	if c.DatabaseReadURL != "" && c.ReadMaxLag <= 0 {
		return c, errors.New("config: CIVICPAY_READ_MAX_LAG must be positive")
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
// databaseURL, whatever the process environment holds: for programs and
// test harnesses that build the app or a domain service in process
// (benchmarks, internal/testkit/apptest, domain tests), so that they do not
// copy the defaults by hand. The gateways are gatewaysim's demo merchant on http://127.0.0.1:8090.
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
