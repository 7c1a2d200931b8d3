package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/webhooks"
)

// wireRecon adds reconciliation: statement uploads and the reconciliation
// API, the load/run/day workers on their own queue, and the daily run at the
// cut-off. It records confirmed payments through paying, queries gateways
// through router, and publishes runs and exceptions through publisher.
func wireRecon(f *foundation, w *wiring, paying *payments.Paying, router *gateways.Router, publisher *webhooks.Publisher) error {
	cfg, err := ReconConfig(f.cfg.Recon)
	if err != nil {
		return err
	}
	// In development the simulator's bank is trusted as the authenticated
	// fetch would be (it has no credentials to check).
	cfg.FetchAuthenticated = cfg.FetchAuthenticated || f.cfg.Development()
	deps := reconciliation.Deps{Notifier: &reconNotifier{publisher: publisher}, Clock: f.clock,
		Payments: paying, Gateways: routerQuerier{router}}
	if deps.HTTP, err = fetchClient(f.cfg.Recon); err != nil {
		return err
	}
	svc := reconciliation.New(f.pool, cfg, f.log, deps)
	svc.SetJobs(w.jobs.insert) // at once: reconciliation.New does not take it
	reconciliation.AddWorkers(w.workers(), svc)
	qc := reconciliation.QueueConfig()
	if f.cfg.Recon.Workers > 0 {
		qc.MaxWorkers = f.cfg.Recon.Workers
	}
	w.queues[reconciliation.Queue] = qc
	if job := reconciliation.PeriodicJob(svc); job != nil {
		w.periodic = append(w.periodic, job)
	}
	w.api = append(w.api, reconciliation.NewHandler(svc))
	// Statement uploads stream: the handler enforces CIVICPAY_RECON_MAX_FILE_BYTES itself.
	w.streamed = append(w.streamed, "/v1/statements")
	w.errors = append(w.errors, reconciliation.HTTPErrors...)
	return nil
}

// ReconConfig turns the environment's reconciliation settings into the
// service's configuration; empty values take reconciliation.DefaultConfig's.
// cmd/civicpay uses it too.
func ReconConfig(c config.Recon) (reconciliation.Config, error) {
	out := reconciliation.DefaultConfig()
	out.SettlementURL, out.StatementURL = c.SettlementURL, c.StatementURL
	out.StatementToken, out.SettlementToken = c.StatementToken, c.SettlementToken
	out.FetchAuthenticated = strings.HasPrefix(c.StatementURL, "https://") && (c.StatementToken != "" || c.ClientCert != "")
	for _, u := range []string{c.SettlementURL, c.StatementURL} {
		if err := reconciliation.CheckURLTemplate(u); err != nil {
			return out, fmt.Errorf("app: CIVICPAY_RECON_*_URL: %w", err)
		}
	}
	if c.Cutoff != "" {
		d, err := reconciliation.ParseCutoff(c.Cutoff)
		if err != nil {
			return out, fmt.Errorf("app: CIVICPAY_RECON_CUTOFF: %w", err)
		}
		out.Cutoff = d
	}
	fees, err := reconciliation.ParseFees(c.Fees)
	if err != nil {
		return out, fmt.Errorf("app: CIVICPAY_RECON_FEES: %w", err)
	}
	out.Fees = fees
	for _, d := range []struct {
		env string
		src string
		dst *decimal.Decimal
	}{
		{"CIVICPAY_RECON_AMOUNT_TOLERANCE", c.AmountTolerance, &out.Tol.Amount},
		{"CIVICPAY_RECON_FEE_TOLERANCE", c.FeeTolerance, &out.Tol.Fee},
		{"CIVICPAY_RECON_SETTLEMENT_TOLERANCE", c.SettlementTolerance, &out.SettlementTolerance},
	} {
		if d.src == "" {
			continue
		}
		v, err := decimal.NewFromString(d.src)
		if err != nil || v.IsNegative() {
			return out, fmt.Errorf("app: %s %q is not a non-negative amount", d.env, d.src)
		}
		*d.dst = v
	}
	if len(c.Gateways) > 0 {
		out.Gateways = c.Gateways
	}
	out.Tol.Window, out.SettlementDays = c.MatchWindow, c.SettlementDays
	out.FetchTimeout, out.QueryTimeout, out.QueryConcurrency = c.FetchTimeout, c.QueryTimeout, c.QueryConcurrency
	out.MaxFileBytes, out.WorkMem, out.MaxExceptionEvents = c.MaxFileBytes, c.WorkMem, c.MaxExceptionEvents
	return out, nil // zero values left here are defaulted by reconciliation.New
}

// fetchClient is the HTTP client of the statement fetches: with the client
// certificate when one is configured, never following redirects (a redirect
// could carry the token elsewhere).
func fetchClient(c config.Recon) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if (c.ClientCert == "") != (c.ClientKey == "") {
		return nil, fmt.Errorf("app: CIVICPAY_RECON_CLIENT_CERT and CIVICPAY_RECON_CLIENT_KEY go together")
	}
	if c.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("app: CIVICPAY_RECON_CLIENT_CERT: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, nil
}

// routerQuerier asks a gateway of the router for an attempt's status.
type routerQuerier struct{ r *gateways.Router }

func (q routerQuerier) Query(ctx context.Context, gateway string, req gateways.QueryRequest) (gateways.Result, error) {
	g, err := q.r.Get(gateway)
	if err != nil {
		return gateways.Result{}, err
	}
	return g.Query(ctx, req)
}

// reconNotifier publishes finished runs and new exceptions as webhooks to
// treasury and admin endpoints, in the transaction that records them.
type reconNotifier struct{ publisher *webhooks.Publisher }

func (n *reconNotifier) RunFinished(ctx context.Context, tx pgx.Tx, r reconciliation.Run, truncated bool) error {
	return n.publish(ctx, tx, webhooks.EventReconciliationCompleted, fmt.Sprintf("reconciliation-run:%d", r.ID), struct {
		reconciliation.Run
		ExceptionEventsTruncated bool `json:"exception_events_truncated,omitempty"`
	}{r, truncated})
}

func (n *reconNotifier) ExceptionRaised(ctx context.Context, tx pgx.Tx, e reconciliation.Exception) error {
	return n.publish(ctx, tx, webhooks.EventReconciliationException, fmt.Sprintf("reconciliation-exception:%d", e.ID), e)
}

func (n *reconNotifier) publish(ctx context.Context, tx pgx.Tx, typ, subject string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("webhook data for %s: %w", typ, err)
	}
	_, err = n.publisher.Publish(ctx, tx, webhooks.Event{Type: typ, Subject: subject, Data: data})
	return err
}
