// Package webhooks tells the portal, agencies and treasury about every change by
// signed HTTP callbacks that follow the Standard Webhooks specification
// (https://www.standardwebhooks.com), so any receiver library can verify them.
//
// The flow:
//
//   - Other packages call [Publisher.Publish] inside the transaction that makes
//     the change. It stores the event and, for every enabled endpoint entitled to
//     it, a delivery row and a River job — all committed or none.
//   - [DeliveryWorker] posts the event with the headers webhook-id (the event id,
//     the same on every retry), webhook-timestamp and webhook-signature, logs each
//     attempt, and retries on a fixed schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
//     10 h, then gives up). A 410 disables the endpoint; [SweepWorker] disables
//     endpoints that failed everything for a configured period. Both publish an
//     `endpoint.disabled` event and log a warning.
//   - [Handler] serves /v1/webhook-endpoints, /v1/webhook-deliveries and
//     /v1/events (list, resend) on top of [Service].
//   - Receivers check messages with [Verify].
//
// Who receives what: endpoints of an agency key get events of that agency;
// endpoints of a portal key get events about resources that key created;
// treasury and admin endpoints get every event but agency-only ones (an
// agency's own view of an order several agencies share: audience.go). An
// endpoint made through the API belongs to the key that created it: only that
// key, or an admin, can see or change it there. An endpoint made by an
// agency's staff in the console belongs to the agency (no key: it gets what an
// agency key would). In the console an agency's staff manage every endpoint
// of their agency, its own and its agency keys', and an admin any agency's.
//
// Delivery is at least once. A job may run twice (a crashed worker's job is
// rescued and run again), and an operator may resend; receivers deduplicate by
// webhook-id.
//
// Endpoint URLs must be https (or http to a configured host) and may not lead to
// private, loopback, link-local, unspecified or multicast addresses unless the
// configuration allows it. The check runs when an endpoint is saved and again on
// every connection, against the address actually dialled, which defeats DNS
// rebinding. Redirects are not followed.
package webhooks
