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
// queue and the endpoints/events API. It returns the publisher other domains
// notify through and the endpoints' service the console manages them with.
func wireWebhooks(f *foundation, w *wiring) (*webhooks.Publisher, *webhooks.Service) {
	cfg := f.cfg.WebhooksConfig()
	cfg.Logger, cfg.Keys, cfg.Clock = f.log, f.keys, f.clock
	river.AddWorker(w.workers(), webhooks.NewDeliveryWorker(f.pool, cfg))
	river.AddWorker(w.workers(), webhooks.NewSweepWorker(f.pool, cfg))
	w.periodic = append(w.periodic, webhooks.PeriodicJob(cfg))
	w.queues[webhooks.Queue] = river.QueueConfig{MaxWorkers: 100}
	w.errors = append(w.errors, webhooks.HTTPErrors...)
	svc := webhooks.NewService(f.pool, w.jobs.insert, cfg)
	w.api = append(w.api, webhooks.NewHandler(svc))
	return webhooks.NewPublisher(w.jobs.insert, cfg), svc
}

// orderNotifier is the payments.Notifier of the app: it counts order events and
// publishes the ones agencies and portals subscribe to, in the transaction of the
// change, with the order as the API returns it (national ID masked).
type orderNotifier struct {
	metrics   *metrics.Metrics
	publicURL string
	publisher *webhooks.Publisher
}

func newOrderNotifier(f *foundation, publisher *webhooks.Publisher) *orderNotifier {
	return &orderNotifier{metrics: f.metrics, publicURL: f.cfg.PublicURL, publisher: publisher}
}

func (n *orderNotifier) OrdersChanged(ctx context.Context, tx pgx.Tx, eventType string, os []payments.Order) error {
	n.metrics.OrderEvents.WithLabelValues(eventType).Add(float64(len(os)))
	if !webhooks.IsEventType(eventType) {
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
