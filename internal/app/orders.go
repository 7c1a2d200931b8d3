package app

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// wireOrders adds the catalogue and the order lifecycle.
func (a *App) wireOrders(_ context.Context, w *wiring) error {
	a.Catalog = catalogue.NewStore(a.Pool)
	cfg := a.Config.OrdersConfig()
	cfg.Keys = a.DataKeys
	cfg.OnBatch = func(writer string, n int) { a.Metrics.BatchSizes.WithLabelValues(writer).Observe(float64(n)) }
	a.Orders = payments.NewOrders(a.Pool, a.Catalog, cfg, a.Notifier, a.Log)
	river.AddWorker(w.workers, &payments.ExpireWorker{Service: a.Orders, Log: a.Log})
	w.periodic = append(w.periodic, payments.ExpirePeriodic(a.Config.ExpiryInterval))
	w.api = append(w.api, catalogue.NewHandler(a.Catalog), payments.NewHandler(a.Orders, a.Config.PublicURL))
	w.errors = append(w.errors, catalogue.HTTPErrors...)
	w.errors = append(w.errors, payments.HTTPErrors...)
	return nil
}

// CloseWriters stops the group-commit writers of orders and paying once what
// they hold is written. Run calls it last, after the HTTP server has drained
// and River has stopped: requests and running jobs both write through them.
// Apps that are built but not run (tests) call it themselves.
func (a *App) CloseWriters() {
	if a.Paying != nil {
		a.Paying.Close()
	}
	if a.Orders != nil {
		a.Orders.Close()
	}
}
