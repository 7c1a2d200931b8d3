package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/foundation/metrics"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/webhooks"
)

// wireWebhooks adds outbound webhooks: the delivery and sweep workers on their own
// queue, the endpoints/events API, and the publisher other domains notify.
func (a *App) wireWebhooks(_ context.Context, w *wiring) error {
	cfg := a.Config.WebhooksConfig()
	cfg.Logger, cfg.Keys = a.Log, a.DataKeys
	river.AddWorker(w.workers, webhooks.NewDeliveryWorker(a.Pool, cfg))
	river.AddWorker(w.workers, webhooks.NewSweepWorker(a.Pool, cfg))
	w.periodic = append(w.periodic, webhooks.PeriodicJob(cfg))
	w.queues[webhooks.Queue] = river.QueueConfig{MaxWorkers: 100}
	w.errors = append(w.errors, webhooks.HTTPErrors...)
	handler := &lateRouter{}
	w.api = append(w.api, handler)
	a.Notifier = &orderNotifier{metrics: a.Metrics, publicURL: a.Config.PublicURL}
	w.afterRiver = append(w.afterRiver, func(rc *river.Client[pgx.Tx]) {
		a.Webhooks = webhooks.NewPublisher(rc, cfg)
		a.Notifier.publisher = a.Webhooks
		handler.r = webhooks.NewHandler(webhooks.NewService(a.Pool, rc, cfg))
	})
	return nil
}

// orderNotifier is the payments.Notifier of the app: it counts order events and
// publishes the ones agencies and portals subscribe to, in the transaction of the
// change, with the order as the API returns it (national ID masked).
type orderNotifier struct {
	metrics   *metrics.Metrics
	publicURL string
	publisher *webhooks.Publisher
}

func (n *orderNotifier) OrdersChanged(ctx context.Context, tx pgx.Tx, eventType string, os []payments.Order) error {
	n.metrics.OrderEvents.WithLabelValues(eventType).Add(float64(len(os)))
	if n.publisher == nil || !webhooks.IsEventType(eventType) {
		return nil
	}
	events := make([]webhooks.Event, 0, len(os))
	for _, o := range os {
		o = o.Masked()
		data, err := json.Marshal(payments.NewOrderView(o, n.publicURL))
		if err != nil {
			return fmt.Errorf("webhook data for %s: %w", eventType, err)
		}
		owner := o.CreatedBy
		agencies := o.Agencies()
		if len(agencies) <= 1 {
			events = append(events, webhooks.Event{Type: eventType, AgencyCode: o.AgencyCode, OwnerKeyID: &owner,
				Subject: o.ID.String(), Data: data})
			continue
		}
		// Several agencies: the full view for treasury, admin and the
		// portal; each agency its own view (webhooks/audience.go).
		events = append(events, webhooks.Event{Type: eventType, OwnerKeyID: &owner, Subject: o.ID.String(), Data: data})
		for _, agency := range agencies {
			data, err := json.Marshal(payments.NewAgencyView(o, agency, n.publicURL))
			if err != nil {
				return fmt.Errorf("webhook data for %s: %w", eventType, err)
			}
			events = append(events, webhooks.Event{Type: eventType, AgencyCode: agency, AgencyOnly: true,
				Subject: o.ID.String(), Data: data})
		}
	}
	_, err := n.publisher.PublishMany(ctx, tx, events)
	return err
}
