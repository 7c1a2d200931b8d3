package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/webhooks"
)

// wireRecon adds reconciliation: statement uploads and the reconciliation
// API, the load/run/day workers on their own queue, and the daily run at the
// cut-off. It records confirmed payments through paying, queries gateways
// through router, and publishes runs and exceptions through publisher. The
// service is returned for the console's pages.
func wireRecon(f *foundation, w *wiring, paying *payments.Paying, router *gateways.Router, publisher *webhooks.Publisher) (*reconciliation.Service, error) {
	cfg, err := f.cfg.ReconConfig()
	if err != nil {
		return nil, err
	}
	// In development the simulator's bank is trusted as the authenticated
	// fetch would be (it has no credentials to check).
	cfg.FetchAuthenticated = cfg.FetchAuthenticated || f.cfg.Development()
	deps := reconciliation.Deps{Notifier: &reconNotifier{publisher: publisher}, Clock: f.clock,
		Payments: paying, Gateways: routerQuerier{router}}
	if deps.HTTP, err = fetchClient(f.cfg.Recon); err != nil {
		return nil, err
	}
	svc := reconciliation.New(f.pool, cfg, f.log, deps)
	svc.SetJobs(w.jobs.insert) // at once: reconciliation.New does not take it
	reconciliation.AddWorkers(w.workers(), svc)
	w.queues[reconciliation.Queue] = river.QueueConfig{MaxWorkers: max(f.cfg.Recon.Workers, 1)}
	if job := reconciliation.PeriodicJob(svc); job != nil {
		w.periodic = append(w.periodic, job)
	}
	w.api = append(w.api, reconciliation.NewHandler(svc))
	// Statement uploads stream: the handler enforces CIVICPAY_RECON_MAX_FILE_BYTES itself.
	w.streamed = append(w.streamed, "/v1/statements")
	w.errors = append(w.errors, reconciliation.HTTPErrors...)
	return svc, nil
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
