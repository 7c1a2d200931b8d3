package webhooks

import (
	"log/slog"
	"time"

	"github.com/civicpay/civicpay/internal/foundation/clock"
	"github.com/civicpay/civicpay/internal/foundation/secretbox"
)

// Config tunes webhooks. The zero value is production-ready except for the
// logger; tests shorten the durations.
type Config struct {
	// AllowLoopback lets endpoints point at loopback addresses (127.0.0.0/8, ::1)
	// over http or https. For tests and `make run` only.
	AllowLoopback bool `env:"WEBHOOKS_ALLOW_LOOPBACK"`
	// AllowedHosts are host names the operator trusts: they may use plain http and
	// resolve to private addresses (an agency system on the government network).
	AllowedHosts []string `env:"WEBHOOKS_ALLOWED_HOSTS" envSeparator:","`
	// Timeout bounds one delivery: connect, send, and read the response head and
	// the logged part of the body. Default 5 s.
	Timeout time.Duration `env:"WEBHOOKS_TIMEOUT"`
	// RetrySchedule is the wait after each failed attempt; a delivery gets
	// len(RetrySchedule)+1 attempts. Default 5s, 5m, 30m, 2h, 5h, 10h, 10h.
	RetrySchedule []time.Duration `env:"WEBHOOKS_RETRY_SCHEDULE" envSeparator:","`
	// RetryAfterMax caps how long a receiver's Retry-After may postpone an
	// attempt. Default 1 h.
	RetryAfterMax time.Duration `env:"WEBHOOKS_RETRY_AFTER_MAX"`
	// SecretGrace is how long a rotated-out secret keeps signing messages beside
	// the new one. Default 24 h.
	SecretGrace time.Duration `env:"WEBHOOKS_SECRET_GRACE"`
	// DisableAfter is how long an endpoint may fail every attempt before the
	// sweeper disables it. Default 5 days.
	DisableAfter time.Duration `env:"WEBHOOKS_DISABLE_AFTER"`
	// SweepInterval is how often the sweeper runs. Default 15 min.
	SweepInterval time.Duration `env:"WEBHOOKS_SWEEP_INTERVAL"`
	// MaxEndpointsPerKey caps how many endpoints one API key may own (422
	// beyond). Default 10.
	MaxEndpointsPerKey int `env:"WEBHOOKS_MAX_ENDPOINTS_PER_KEY"`
	// Keys seal the signing secrets in the database. Default: the published
	// demo keys (tests only; the app always sets them).
	Keys *secretbox.Keyring `env:"-"`
	// Logger receives warnings (endpoint disabled) and debug lines per attempt.
	// Default slog.Default().
	Logger *slog.Logger `env:"-"`
	// Clock dates events and attempts and decides when an endpoint has failed
	// for DisableAfter and a rotated-out secret's grace is over. Default
	// clock.Real. The signature's webhook-timestamp is the wall clock (the
	// receiver checks it against its own), and retries are River's to time.
	Clock clock.Clock `env:"-"`
}

// DefaultRetrySchedule is the wait after each failed attempt.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Bounds on receiver-controlled and client-controlled sizes.
const (
	// loggedBodyBytes is how much of a response the attempt log keeps.
	loggedBodyBytes = 1024
	// drainBodyBytes is how much more is read so the connection can be reused.
	drainBodyBytes = 64 << 10
	// maxSnoozes bounds how often Retry-After may postpone one delivery.
	maxSnoozes = 10
)

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if len(c.RetrySchedule) == 0 {
		c.RetrySchedule = DefaultRetrySchedule
	}
	if c.RetryAfterMax <= 0 {
		c.RetryAfterMax = time.Hour
	}
	if c.SecretGrace <= 0 {
		c.SecretGrace = 24 * time.Hour
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 5 * 24 * time.Hour
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 15 * time.Minute
	}
	if c.MaxEndpointsPerKey <= 0 {
		c.MaxEndpointsPerKey = 10
	}
	if c.Keys == nil {
		c.Keys = secretbox.Demo()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// maxAttempts is how many times a delivery is tried before it fails.
func (c Config) maxAttempts() int { return len(c.RetrySchedule) + 1 }

// retryDelay is the wait after failed attempt number attempt (1-based).
func (c Config) retryDelay(attempt int) time.Duration {
	i := min(max(attempt-1, 0), len(c.RetrySchedule)-1)
	return c.RetrySchedule[i]
}

// jobTimeout bounds a whole delivery job: the HTTP exchange plus its database work.
func (c Config) jobTimeout() time.Duration { return 2 * c.Timeout }
