package app

import (
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// wireOrders adds the order lifecycle on the catalogue: its expiry job and
// the catalogue's and orders' API. Order changes go to notifier.
func wireOrders(f *foundation, w *wiring, catalog *catalogue.Store, notifier payments.Notifier) *payments.Orders {
	cfg := f.cfg.OrdersConfig()
	cfg.Keys, cfg.Clock = f.keys, f.clock
	cfg.OnBatch = func(writer string, n int) { f.metrics.BatchSizes.WithLabelValues(writer).Observe(float64(n)) }
	orders := payments.NewOrders(f.pool, catalog, cfg, notifier, f.log)
	orders.SetReports(f.reads.ForReports)
	river.AddWorker(w.workers(), &payments.ExpireWorker{Service: orders, Log: f.log})
	w.periodic = append(w.periodic, payments.ExpirePeriodic(f.cfg.ExpiryInterval))
	w.api = append(w.api, catalogue.NewHandler(catalog), payments.NewHandler(orders, f.cfg.PublicURL))
	w.errors = append(w.errors, catalogue.HTTPErrors...)
	w.errors = append(w.errors, payments.HTTPErrors...)
	return orders
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
