package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/civicpay/civicpay/internal/foundation/db"
)

// Delivery states and attempt outcomes as stored.
const (
	statePending   = "pending"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"

	outcomeSucceeded = "succeeded"
	outcomeRetrying  = "retrying"
	outcomeFailed    = "failed"
)

// Attempt is one line of an endpoint's delivery log.
type Attempt struct {
	ID            int64     `json:"id"`
	DeliveryID    uuid.UUID `json:"delivery_id"`
	DeliveryState string    `json:"delivery_state"`
	EventID       string    `json:"event_id"`
	EventType     string    `json:"event_type"`
	AttemptedAt   time.Time `json:"attempted_at"`
	StatusCode    *int      `json:"status_code,omitempty"`
	LatencyMS     int64     `json:"latency_ms"`
	ResponseBody  string    `json:"response_body"`
	Error         string    `json:"error,omitempty"`
	Outcome       string    `json:"outcome"`
}

const userAgent = "civicpay-webhooks/1"

// DeliveryWorker posts one event to one endpoint per job. Register it with
// river.AddWorker; its retry schedule comes from Config.
type DeliveryWorker struct {
	river.WorkerDefaults[DeliverArgs]
	pool   *pgxpool.Pool
	cfg    Config
	client *http.Client
}

// NewDeliveryWorker returns the delivery worker. cfg must match the Publisher's.
func NewDeliveryWorker(pool *pgxpool.Pool, cfg Config) *DeliveryWorker {
	cfg = cfg.ready()
	return &DeliveryWorker{pool: pool, cfg: cfg, client: newURLPolicy(cfg).httpClient(cfg.Timeout)}
}

// NextRetry follows the configured schedule (5 s, 5 min, 30 min, 2 h, …).
// It is River's time (the wall clock), not Config.Clock: River compares it
// with its own clock to run the job.
func (w *DeliveryWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.cfg.retryDelay(job.Attempt))
}

// Timeout bounds the job: the HTTP exchange has its own, shorter, deadline.
func (w *DeliveryWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return w.cfg.jobTimeout() }

// Work makes one attempt. It may run twice for one attempt (a rescued job);
// the message keeps its webhook-id, so receivers deduplicate.
func (w *DeliveryWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	t, err := loadTarget(ctx, w.pool, w.cfg.Keys, job.Args.DeliveryID, w.cfg.Clock.Now())
	if errors.Is(err, errDeliveryGone) {
		return river.JobCancel(err) // its endpoint was deleted
	}
	if err != nil {
		return err
	}
	if t.Generation != job.Args.Generation || t.State != statePending {
		// Superseded by a retry or resend, or already finished by an earlier run
		// of this job (a rescued job runs twice).
		return nil
	}
	if !t.Enabled {
		if err := failDelivery(ctx, w.pool, t.DeliveryID, t.Generation); err != nil {
			return err
		}
		return river.JobCancel(fmt.Errorf("webhooks: endpoint %s is disabled", t.EndpointID))
	}
	r := w.send(ctx, t)
	v := decide(r, job.Attempt, job.MaxAttempts, snoozeCount(job.Metadata), w.cfg)
	if err := w.record(ctx, t, r, v); err != nil {
		return err
	}
	w.cfg.Logger.DebugContext(ctx, "webhook attempt", "delivery_id", t.DeliveryID, "endpoint_id", t.EndpointID,
		"event_id", t.EventID, "status", r.Status, "outcome", v.outcome, "latency_ms", r.Latency.Milliseconds())
	return v.jobResult()
}

// response is what one attempt saw.
type response struct {
	At         time.Time
	Latency    time.Duration
	Status     int    // 0 if no response arrived
	Body       string // the first bytes, as loggable text
	RetryAfter string
	Err        error
}

func (w *DeliveryWorker) send(ctx context.Context, t target) response {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	// The attempt is dated by the clock (the sweeper measures failing_since
	// by it); the signature's timestamp and the latency by the wall clock.
	start := time.Now()
	r := response{At: w.cfg.Clock.Now().UTC()}
	sig, err := signAll(t.Secrets, t.EventID, start, t.Payload)
	if err != nil {
		r.Err = err
		return r
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(t.Payload))
	if err != nil {
		r.Err = err
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, t.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(start.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := w.client.Do(req)
	r.Latency = time.Since(start)
	if err != nil {
		r.Err = err
		return r
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	r.RetryAfter = resp.Header.Get("Retry-After")
	head, _ := io.ReadAll(io.LimitReader(resp.Body, loggedBodyBytes))
	r.Body = logText(head, loggedBodyBytes)
	// Drain a little more so the connection can be reused; a larger body closes it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBodyBytes))
	return r
}

// verdict is what one attempt means for the delivery and its job.
type verdict struct {
	outcome string        // of the attempt: succeeded, retrying, failed
	state   string        // of the delivery afterwards
	snooze  time.Duration // > 0: try again after this, without using up an attempt
	cancel  bool          // do not retry
	disable string        // non-empty: disable the endpoint, for this reason
	reason  string        // why it did not succeed
}

// decide applies the delivery rules: 2xx succeeds; 410 disables the endpoint;
// other 4xx except 408 and 429 are not retried; everything else is retried on
// the schedule, later if the receiver's Retry-After asks (at most RetryAfterMax,
// at most maxSnoozes times, never past the last attempt); after the last
// attempt the delivery fails.
func decide(r response, attempt, maxAttempts, snoozes int, cfg Config) verdict {
	status := r.Status
	if r.Err != nil {
		status = 0
	}
	switch {
	case status >= 200 && status < 300:
		return verdict{outcome: outcomeSucceeded, state: stateSucceeded}
	case status == http.StatusGone:
		reason := "receiver answered 410 Gone"
		return verdict{outcome: outcomeFailed, state: stateFailed, cancel: true, disable: reason, reason: reason}
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		return verdict{outcome: outcomeFailed, state: stateFailed, cancel: true,
			reason: fmt.Sprintf("receiver answered %d; not retried", status)}
	}
	reason := "receiver answered " + strconv.Itoa(status)
	if r.Err != nil {
		reason = errText(r.Err)
	}
	if wait, ok := parseRetryAfter(r.RetryAfter, r.At); ok && r.Err == nil && snoozes < maxSnoozes && attempt < maxAttempts {
		if wait = min(wait, cfg.RetryAfterMax); wait > cfg.retryDelay(attempt) {
			return verdict{outcome: outcomeRetrying, state: statePending, snooze: wait, reason: reason}
		}
	}
	if attempt >= maxAttempts {
		return verdict{outcome: outcomeFailed, state: stateFailed,
			reason: fmt.Sprintf("%s; gave up after %d attempts", reason, attempt)}
	}
	return verdict{outcome: outcomeRetrying, state: statePending, reason: reason}
}

// jobResult is what Work returns to River for the verdict.
func (v verdict) jobResult() error {
	switch {
	case v.outcome == outcomeSucceeded:
		return nil
	case v.snooze > 0:
		return river.JobSnooze(v.snooze)
	case v.cancel:
		return river.JobCancel(errors.New(v.reason))
	}
	return errors.New(v.reason)
}

// maxRetryAfter bounds the parsed header before the configured cap applies.
const maxRetryAfter = 7 * 24 * time.Hour

// parseRetryAfter reads Retry-After as seconds or an HTTP date; ok is false if
// it is absent, malformed or not in the future.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(h, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// snoozeCount is how often River has snoozed the job (its "snoozes" metadata).
func snoozeCount(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // absent or unreadable: no snoozes yet
	return m.Snoozes
}

func (w *DeliveryWorker) record(ctx context.Context, t target, r response, v verdict) error {
	rec := attemptRecord{
		DeliveryID: t.DeliveryID, Generation: t.Generation, EndpointID: t.EndpointID, At: r.At, LatencyMS: r.Latency.Milliseconds(),
		ResponseBody: r.Body, Outcome: v.outcome, State: v.state,
	}
	if r.Status != 0 {
		rec.StatusCode = &r.Status
	}
	if r.Err != nil {
		msg := errText(r.Err)
		rec.Error = &msg
	}
	// Recording an attempt counts it (attempts + 1): not idempotent, so it
	// runs again only where PostgreSQL says nothing was written.
	if v.disable == "" {
		return db.RetryRolledBack(ctx, "webhooks.record_attempt", func(ctx context.Context) error {
			return recordAttempt(ctx, w.pool, rec)
		})
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("webhooks: disable endpoint %s: %w", t.EndpointID, err)
	}
	var disabled *Endpoint
	err = db.Tx(ctx, w.pool, "webhooks.record_attempt", func(tx pgx.Tx) error {
		if err := recordAttempt(ctx, tx, rec); err != nil {
			return err
		}
		disabled, err = disableAndAnnounce(ctx, tx, NewPublisher(client, w.cfg), t.EndpointID, v.disable)
		return err
	})
	if err == nil {
		logDisabled(ctx, w.cfg.Logger, disabled, v.disable)
	}
	return err
}

// errText describes a failed exchange without the URL (it may carry a token).
func errText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return logText([]byte(err.Error()), 500)
}

// logText returns at most n bytes of valid UTF-8 without NUL bytes: what a
// PostgreSQL text column accepts.
func logText(b []byte, n int) string {
	s := strings.ToValidUTF8(strings.ReplaceAll(string(b), "\x00", ""), "\uFFFD")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
