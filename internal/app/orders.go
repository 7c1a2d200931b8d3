package app

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/metrics"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// wireOrders adds the catalogue and the order lifecycle.
func (a *App) wireOrders(_ context.Context, w *wiring) error {
	a.Catalog = catalogue.NewStore(a.Pool)
	a.Orders = payments.NewService(a.Pool, a.Catalog, payments.Config{
		DefaultExpiry: a.Config.OrderDefaultExpiry, MaxExpiry: a.Config.OrderMaxExpiry,
	}, &orderNotifier{metrics: a.Metrics}, a.Log)
	river.AddWorker(w.workers, &payments.ExpireWorker{Service: a.Orders, Log: a.Log})
	w.periodic = append(w.periodic, payments.ExpirePeriodic(a.Config.ExpiryInterval))
	w.api = append(w.api, catalogue.NewHandler(a.Catalog), payments.NewHandler(a.Orders, a.Config.PublicURL))
	w.errors = append(w.errors, catalogue.HTTPErrors...)
	w.errors = append(w.errors, payments.HTTPErrors...)
	return nil
}

// orderNotifier counts order events; webhooks subscribe here too.
type orderNotifier struct{ metrics *metrics.Metrics }

func (n *orderNotifier) OrderChanged(_ context.Context, _ pgx.Tx, eventType string, _ payments.Order) error {
	n.metrics.OrderEvents.WithLabelValues(eventType).Inc()
	return nil
}
