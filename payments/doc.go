// Package payments is the order lifecycle: payment orders issued for a portal,
// their lines owed to agencies, paying them through the gateways, refunds, and
// every state change with its event. It has two parts.
//
// The order part, [Orders] (order*.go, orders*.go): order.go is the order and
// its statuses; order_state.go the order's state machine, the one table of
// what may happen to an order in each status and the status it leaves, which
// every writer of an order's status asks and guards its SQL with;
// orders.go issues, reads, lists, cancels and expires orders; order_create.go
// checks and prices a create request, order_batch.go writes new orders by
// group commit, order_store.go holds the orders' SQL, order_expiry.go the
// River job that expires them, and orders_http.go the orders API.
//
// The paying part, [Paying] (paying*.go, attempt*.go, refund*.go): an attempt
// is one try at one gateway (attempt.go holds its rules, attempt_store.go its
// SQL, attempt_batch.go the group commit that writes new ones).
// [Paying.StartAttempt] asks the router for a gateway and writes the attempt;
// [Paying.RecordResult] is the one place a gateway's word — callback, status
// query or reconciliation — becomes a paid order, a ledger entry and an
// event, exactly once, with the database refusing a second payment of an
// order (a unique index, and the status guard of order_state.go) and a
// refund beyond what was paid (a check on the order); attempt_recorder.go
// records results by group commit. Refunds (refund.go, refund_store.go) are
// reserved on the order and carried to the gateway by a River job
// (paying_jobs.go, with the attempts' status jobs); the ledger entry posts
// when the gateway confirms. paying_http.go serves paying's API, the
// gateways' callbacks and the browser's return, which never changes
// anything.
//
// Errors: business code returns the package's own (errors.go: sentinels,
// *ValidationError naming a request field, *TooManyAttemptsError);
// http_errors.go is the one place they become problem+json.
package payments
