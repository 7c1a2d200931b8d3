package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/clock"
)

// Errors of the service; HTTPErrors maps them to statuses.
var (
	ErrFileNotFound      = errors.New("statement file not found")
	ErrRunNotFound       = errors.New("reconciliation run not found")
	ErrExceptionNotFound = errors.New("reconciliation exception not found")
	// ErrAlreadyResolved: the exception was resolved (by a person or
	// automatically) before.
	ErrAlreadyResolved = errors.New("exception already resolved")
	// ErrInvalid: a request names something that does not exist (a source,
	// a class, a day).
	ErrInvalid = errors.New("invalid reconciliation request")
	// ErrNotConfigured: the service lacks what the call needs (the job queue).
	ErrNotConfigured = errors.New("reconciliation is not fully configured")
)

// Recorder records a payment through the payment flow's normal paid path
// (*payments.Flow). Both must be idempotent: recording the same success
// twice records it once (gateways.AckAlreadyConfirmed).
type Recorder interface {
	// RecordResult records a gateway's result for one of its attempts,
	// exactly as a callback or a status query would: matched by gateway and
	// the attempt's own reference only.
	RecordResult(ctx context.Context, gateway string, r gateways.Result, actor string) (gateways.Ack, error)
	// RecordTransfer records a bank transfer the treasury account's statement
	// shows, matched by the order's payment reference (VietQR). Only a bank
	// statement's credit may be recorded so.
	RecordTransfer(ctx context.Context, r gateways.Result, actor string) (gateways.Ack, error)
}

// Querier asks a gateway for the status of an attempt (gateways.Router).
type Querier interface {
	Query(ctx context.Context, gateway string, r gateways.QueryRequest) (gateways.Result, error)
}

// Notifier is told about finished runs, new exceptions and closed days, in
// the transaction that records them (outbound webhooks).
type Notifier interface {
	RunFinished(ctx context.Context, tx pgx.Tx, r Run, truncatedExceptions bool) error
	ExceptionRaised(ctx context.Context, tx pgx.Tx, e Exception) error
	DayClosed(ctx context.Context, tx pgx.Tx, c DayClosing) error
}

// JobInserter enqueues River jobs in a transaction (*river.Client[pgx.Tx]).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Deps are the service's collaborators; each may be nil, and then what needs
// it is skipped (and said so in the run's exceptions).
type Deps struct {
	Payments Recorder
	Gateways Querier
	Notifier Notifier
	// HTTP fetches files (default: a client with no overall timeout; each
	// fetch has its own deadline).
	HTTP *http.Client
	// Clock decides the business day of the daily run, whether a day is over
	// (and may close) and dates requests (default clock.Real).
	Clock clock.Clock
}

// Service imports statements, runs reconciliation and answers for its
// results. It is safe for concurrent use, and every operation may be
// repeated: the same file twice, the same run twice, change nothing more.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
	log  *slog.Logger
	deps Deps
	jobs JobInserter
}

// New returns a service on pool. Call SetJobs once the River client exists.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger, deps Deps) *Service {
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{}
	}
	deps.Clock = clock.Or(deps.Clock)
	if err := cfg.Check(); err != nil {
		panic(err)
	}
	return &Service{pool: pool, cfg: cfg, log: log, deps: deps}
}

// SetJobs gives the service its job queue.
func (s *Service) SetJobs(j JobInserter) { s.jobs = j }

// Config is the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// dayOf is midnight GMT+7 of t's business day (bizday.Start).
func dayOf(t time.Time) time.Time { return bizday.Start(t) }

// ParseDay reads a business day, YYYY-MM-DD, as midnight GMT+7 (bizday.Parse).
// A day before 2000 or from 9000 on is an error: no ledger entry takes effect
// in one (ledger's bounds), and PostgreSQL's date does not read year 0 (a 500
// for GET /v1/days/0000-01-01).
func ParseDay(s string) (time.Time, error) {
	d, err := bizday.Parse(s)
	if err != nil {
		return d, err
	}
	if d.Year() < 2000 || d.Year() >= 9000 {
		return time.Time{}, fmt.Errorf("reconciliation: day %s is not between 2000-01-01 and 8999-12-31", s)
	}
	return d, nil
}

// dbDay turns a date read from PostgreSQL (midnight UTC) into midnight GMT+7
// of the same calendar day.
func dbDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, bizday.Zone)
}

// dayString formats a business day.
func dayString(t time.Time) string { return t.Format(time.DateOnly) }
