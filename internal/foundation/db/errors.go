package db

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Class is what a database error says about the operation that met it. It
// is decided here, and only here: the HTTP edge (problem.From) answers 503
// for every class but Permanent, and Retry runs again what the class allows.
type Class int

const (
	// Permanent: not a passing condition of the database (a constraint, bad
	// SQL, a wrong password, a domain error, no error at all). Retrying
	// changes nothing.
	Permanent Class = iota
	// RolledBack: PostgreSQL did not do it, and said so: a serialization
	// failure or deadlock rolled the transaction back, the connection could
	// not be made (refused, too many connections, the server starting or
	// stopping), or pgx had sent nothing (pgconn.SafeToRetry, but for
	// ErrConnClosed: see Classify). Any operation may run again.
	RolledBack
	// Lost: the connection broke (reset, closed, the backend terminated)
	// with a statement possibly in flight. Inside an explicit transaction
	// before COMMIT nothing was written; during COMMIT, or for a statement
	// outside a transaction, the outcome is unknown, so only an idempotent
	// operation may run again blindly.
	Lost
	// Busy: a deadline passed (acquiring a connection from a full pool, a
	// statement timeout) or the statement was cancelled. Temporary, but
	// running again at once adds load: answered 503, not retried here.
	Busy
)

// Reasons name the condition, as the `reason` label of
// civicpay_db_retries_total and in logs.
const (
	ReasonSerialization = "serialization_failure" // 40001
	ReasonDeadlock      = "deadlock"              // 40P01
	ReasonConnect       = "connect"               // could not connect: refused, unreachable, 57P03
	ReasonTooManyConns  = "too_many_connections"  // 53300
	ReasonNotSent       = "not_sent"              // pgconn.SafeToRetry: nothing reached the server
	ReasonConnLost      = "connection_lost"       // reset, EOF, conn closed, SQLSTATE class 08
	ReasonShutdown      = "shutdown"              // 57P01 admin_shutdown, 57P02 crash_shutdown
	ReasonTimeout       = "timeout"               // a context deadline, pgconn.Timeout
	ReasonCanceled      = "statement_canceled"    // 57014: statement_timeout, pg_cancel_backend
)

// Classify says what err, returned by pgx (wrapped or not), tells about the
// operation that met it, and why. A context cancelled by the caller is
// Permanent: the caller has gone, there is no one to answer.
func Classify(err error) (Class, string) {
	if err == nil {
		return Permanent, ""
	}
	// The server's own word first: a connection that failed with an
	// ErrorResponse (a wrong password is a ConnectError too) is what it says.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "40001":
			return RolledBack, ReasonSerialization
		case code == "40P01":
			return RolledBack, ReasonDeadlock
		case code == "53300":
			return RolledBack, ReasonTooManyConns
		case code == "57P03": // cannot_connect_now: starting up, or in recovery
			return RolledBack, ReasonConnect
		case code == "57P01", code == "57P02":
			return Lost, ReasonShutdown
		case code == "57014":
			return Busy, ReasonCanceled
		case len(code) == 5 && code[:2] == "08": // connection_exception
			return Lost, ReasonConnLost
		}
		return Permanent, ""
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Permanent, ""
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return Busy, ReasonTimeout
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return RolledBack, ReasonConnect
	}
	// pgx says "conn closed" (ErrConnClosed, and SafeToRetry!) both for a
	// connection it had closed before the statement and, through the
	// simple protocol — which Exec without arguments and COMMIT use — for
	// one that broke while the statement was in flight (pgconn's
	// MultiResultReader drops the read's error and reports the closed
	// connection): the statement may have run, so it is Lost, not
	// RolledBack. TestClassify cuts a connection under a statement to show it.
	if errors.Is(err, pgconn.ErrConnClosed) {
		return Lost, ReasonConnLost
	}
	if pgconn.SafeToRetry(err) {
		return RolledBack, ReasonNotSent
	}
	// A connection that broke under a statement: pgx returns the read's or
	// the write's error as it is (io.ErrUnexpectedEOF, a *net.OpError). Such an error
	// from elsewhere reads the same — a gateway's is mapped before it gets
	// here (ErrGatewayUnavailable), a client's upload cut midway is answered
	// 503 to a client who has gone — but a name that does not resolve is
	// a configuration's fault, not a passing one.
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return Permanent, ""
	}
	var netErr net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, net.ErrClosed) || errors.As(err, &netErr) {
		return Lost, ReasonConnLost
	}
	return Permanent, ""
}

// Unavailable reports whether err is a passing condition of the database
// (any Class but Permanent), with its reason and how long a client should
// wait before trying again: the HTTP answer is 503 with Retry-After.
func Unavailable(err error) (reason string, retryAfter time.Duration, ok bool) {
	class, reason := Classify(err)
	switch class {
	case Permanent:
		return "", 0, false
	case RolledBack:
		if reason == ReasonSerialization || reason == ReasonDeadlock {
			return reason, time.Second, true // contention: it clears quickly
		}
	}
	return reason, 2 * time.Second, true // a connection to make again, a server coming back
}

// OutcomeUnknown reports whether err may leave unknown whether the
// operation took effect: the connection was lost (Class Lost), or a
// deadline cut a statement pgx had sent, with a statement or COMMIT possibly
// in flight. (A deadline met while acquiring a connection sent nothing.)
func OutcomeUnknown(err error) bool {
	class, _ := Classify(err)
	return class == Lost || class == Busy && pgconn.Timeout(err) && !pgconn.SafeToRetry(err)
}
