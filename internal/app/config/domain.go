package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/server"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/webhooks"
)

// The domain packages take plain configurations with no defaults of their
// own; these map Config onto them. What is not configuration (loggers, keys,
// metrics hooks) is left to internal/app.

// WebhooksConfig is webhooks' configuration (Keys and Logger unset).
func (c Config) WebhooksConfig() webhooks.Config {
	w := c.Webhooks
	return webhooks.Config{
		AllowLoopback: w.AllowLoopback, AllowedHosts: w.AllowedHosts, Timeout: w.Timeout,
		RetrySchedule: w.RetrySchedule, RetryAfterMax: w.RetryAfterMax, SecretGrace: w.SecretGrace,
		DisableAfter: w.DisableAfter, SweepInterval: w.SweepInterval, MaxEndpointsPerKey: w.MaxEndpointsPerKey,
		Clock: c.Clock,
	}
}

// OrdersConfig is the order service's configuration (Keys and OnBatch unset).
func (c Config) OrdersConfig() payments.Config {
	return payments.Config{DefaultExpiry: c.OrderDefaultExpiry, MaxExpiry: c.OrderMaxExpiry, Clock: c.Clock}
}

// PayingConfig is the payment flow's configuration (OnCallback unset).
func (c Config) PayingConfig() payments.PayingConfig {
	p := c.Paying
	return payments.PayingConfig{
		PublicURL: c.PublicURL, AttemptTTL: p.AttemptTTL,
		StatusPollDelay: p.StatusPollDelay, StatusPollMax: p.StatusPollMax,
		RefundRetry: p.RefundRetry, RefundRetryMax: p.RefundRetryMax, RefundMaxTries: p.RefundMaxTries,
		CallTimeout: p.CallTimeout, MaxOpenAttempts: c.Limits.MaxOpenAttempts,
	}
}

// BreakerSettings are the gateways' circuit breakers.
func (c Config) BreakerSettings() gateways.BreakerSettings {
	p := c.Paying
	return gateways.BreakerSettings{
		ConsecutiveFailures: p.BreakerConsecutiveFailures, FailureRatio: p.BreakerFailureRatio,
		MinRequests: p.BreakerMinRequests, Window: p.BreakerWindow, OpenTimeout: p.BreakerOpenTimeout,
		HalfOpenRequests: p.BreakerHalfOpenRequests, ProbeInterval: p.BreakerProbeInterval, ProbeTimeout: p.BreakerProbeTimeout,
	}
}

// ManualRules are the ledger's rules for manual entries.
func (c Config) ManualRules() ledger.ManualRules {
	return ledger.ManualRules{ApprovalAmount: c.ManualEntryApprovalAmount, MaxBackdate: c.ManualEntryMaxBackdate}
}

// ServerLimits are the HTTP server's abuse controls.
func (c Config) ServerLimits() server.Limits {
	l := c.Limits
	return server.Limits{
		PerIP: l.RatePerIP, PerKey: l.RatePerKey,
		TrustedProxies: l.TrustedProxies, ProxyHeader: l.ProxyHeader,
		ReadTimeout: l.ReadTimeout, IdleTimeout: l.IdleTimeout,
		UploadReadTimeout: l.UploadReadTimeout, RequestTimeout: l.RequestTimeout,
	}
}

// ReconConfig is reconciliation's configuration, its text settings parsed.
// FetchAuthenticated says whether the statement fetch proves its source
// (https with a token or a client certificate); internal/app also counts
// development's simulator as such.
func (c Config) ReconConfig() (reconciliation.Config, error) {
	r := c.Recon
	out := reconciliation.Config{
		MaxFileBytes: r.MaxFileBytes, SettlementDays: r.SettlementDays,
		SettlementURL: r.SettlementURL, StatementURL: r.StatementURL,
		StatementToken: r.StatementToken, SettlementToken: r.SettlementToken,
		FetchAuthenticated: strings.HasPrefix(r.StatementURL, "https://") && (r.StatementToken != "" || r.ClientCert != ""),
		Gateways:           r.Gateways,
		FetchTimeout:       r.FetchTimeout, QueryTimeout: r.QueryTimeout, QueryConcurrency: r.QueryConcurrency,
		WorkMem: r.WorkMem, MaxExceptionEvents: r.MaxExceptionEvents,
	}
	for _, src := range r.Tolerant {
		if src = strings.TrimSpace(src); src != "" {
			out.Tolerant = append(out.Tolerant, src)
		}
	}
	out.Tol.Window = r.MatchWindow
	for _, u := range []string{r.SettlementURL, r.StatementURL} {
		if err := reconciliation.CheckURLTemplate(u); err != nil {
			return out, fmt.Errorf("config: CIVICPAY_RECON_*_URL: %w", err)
		}
	}
	var err error
	if out.Cutoff, err = reconciliation.ParseCutoff(r.Cutoff); err != nil {
		return out, fmt.Errorf("config: CIVICPAY_RECON_CUTOFF: %w", err)
	}
	if out.Fees, err = reconciliation.ParseFees(r.Fees); err != nil {
		return out, fmt.Errorf("config: CIVICPAY_RECON_FEES: %w", err)
	}
	for _, d := range []struct {
		env string
		src string
		dst *decimal.Decimal
	}{
		{"CIVICPAY_RECON_AMOUNT_TOLERANCE", r.AmountTolerance, &out.Tol.Amount},
		{"CIVICPAY_RECON_FEE_TOLERANCE", r.FeeTolerance, &out.Tol.Fee},
		{"CIVICPAY_RECON_SETTLEMENT_TOLERANCE", r.SettlementTolerance, &out.SettlementTolerance},
		{"CIVICPAY_RECON_WRITE_OFF_LIMIT", r.WriteOffLimit, &out.WriteOffLimit},
		{"CIVICPAY_RECON_RESOLUTION_APPROVAL_AMOUNT", r.ResolutionApprovalAmount, &out.ApprovalAmount},
	} {
		v, err := decimal.NewFromString(d.src)
		if err != nil || v.IsNegative() {
			return out, fmt.Errorf("config: %s %q is not a non-negative amount", d.env, d.src)
		}
		*d.dst = v
	}
	if err := out.Check(); err != nil {
		return out, fmt.Errorf("config: CIVICPAY_RECON_*: %w", err)
	}
	return out, nil
}

// checkDomains checks what the domain packages would refuse (they panic on
// it), so that a variable set to 0 or garbage is an error naming it at Load,
// never a panic at start.
func (c Config) checkDomains() error {
	var errs []error
	if err := c.WebhooksConfig().Check(); err != nil {
		errs = append(errs, fmt.Errorf("CIVICPAY_WEBHOOKS_*: %w", err))
	}
	if err := c.OrdersConfig().Check(); err != nil {
		errs = append(errs, fmt.Errorf("CIVICPAY_ORDER_*: %w", err))
	}
	if err := c.PayingConfig().Check(); err != nil {
		errs = append(errs, fmt.Errorf("CIVICPAY_ATTEMPT_TTL, _STATUS_POLL_*, _REFUND_*, _GATEWAY_CALL_TIMEOUT: %w", err))
	}
	if err := c.BreakerSettings().Check(); err != nil {
		errs = append(errs, fmt.Errorf("CIVICPAY_BREAKER_*: %w", err))
	}
	if err := c.ServerLimits().Check(); err != nil {
		errs = append(errs, fmt.Errorf("CIVICPAY_*_TIMEOUT, CIVICPAY_PROXY_HEADER: %w", err))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("CIVICPAY_MAX_BODY_BYTES must be positive"))
	}
	if _, err := c.ReconConfig(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
