// Package partition keeps civicpay's month-partitioned tables (migration
// 00032 and after) ready: it creates each registered table's partitions ahead
// of time, reports rows that fell into a DEFAULT partition, lists a table's
// month partitions and drops one that retention has emptied of anything worth
// keeping.
//
// A partitioned table has one partition per calendar month in Vietnam
// (bizday.Zone), named <table>_pYYYYMM, and a DEFAULT partition, <table>_default,
// so that an insert never fails for want of a partition. The tables are listed
// in partitioned_tables; the SQL function partition_ensure does the creating.
package partition

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/db"
)

// Ahead is how many months after the current one Ensure keeps created by
// default: the job runs daily, so three months leave a quarter's slack if it
// stops running.
const Ahead = 3

// LockTimeout bounds the wait for a table's lock when a partition is created
// or dropped (both take an ACCESS EXCLUSIVE lock on the parent for a moment):
// behind a long transaction the job gives up and tries again on its next run,
// rather than queueing every writer of the table behind itself.
const LockTimeout = 5 * time.Second

// Querier reads: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB reads and begins transactions: a *pgxpool.Pool or a *pgx.Conn.
type DB interface {
	Querier
	db.Beginner
}

// Made is a partition Ensure did not find: State is "created", or "blocked"
// when the DEFAULT partition holds rows of that month (PostgreSQL refuses the
// partition then; the rows stay where they are, readable, and the job logs it).
type Made struct {
	Table, Partition, State string
}

// Tables lists the registered partitioned tables.
func Tables(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT parent FROM partitioned_tables ORDER BY parent`)
	if err != nil {
		return nil, fmt.Errorf("partition: tables: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Ensure creates, for every registered table, the partitions of the month now
// is in (in Vietnam) and of the ahead months after it, each table in its own
// transaction. It is idempotent, and safe on two instances at once (the SQL
// function serialises creators of one table on an advisory lock, and the
// second finds the partitions made). A table whose lock cannot be had within
// LockTimeout is skipped with an error; the others are still done.
func Ensure(ctx context.Context, b DB, now time.Time, ahead int) ([]Made, error) {
	tables, err := Tables(ctx, b)
	if err != nil {
		return nil, err
	}
	var made []Made
	var errs []error
	for _, t := range tables {
		var got []Made
		err := pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
			if err := setLockTimeout(ctx, tx); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT partition, state FROM partition_ensure($1, $2::date, $3)`,
				t, Month(now).Format(time.DateOnly), ahead+1)
			if err != nil {
				return err
			}
			got, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Made, error) {
				m := Made{Table: t}
				return m, r.Scan(&m.Partition, &m.State)
			})
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("partition: ensure %s: %w", t, err))
			continue
		}
		made = append(made, got...) // committed
	}
	return made, errors.Join(errs...)
}

// InDefault counts, per registered table, the rows in its DEFAULT partition
// (up to limit each: the answer is "some", and how many at least); tables
// whose DEFAULT partition is empty are left out.
func InDefault(ctx context.Context, q Querier, limit int) (map[string]int64, error) {
	tables, err := Tables(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range tables {
		var n int64
		err := q.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM %s LIMIT $1) s`,
			pgx.Identifier{t + "_default"}.Sanitize()), limit).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("partition: rows in %s_default: %w", t, err)
		}
		if n > 0 {
			out[t] = n
		}
	}
	return out, nil
}

// Month is the first day, midnight in Vietnam, of the month t falls in there.
func Month(t time.Time) time.Time {
	y, m, _ := t.In(bizday.Zone).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, bizday.Zone)
}

// Part is one month partition: rows with From <= key < To.
type Part struct {
	Name     string
	From, To time.Time
}

var monthName = regexp.MustCompile(`_p([0-9]{4})([0-9]{2})$`)

// Months lists table's month partitions, oldest first (not its DEFAULT one).
func Months(ctx context.Context, q Querier, table string) ([]Part, error) {
	rows, err := q.Query(ctx, `SELECT c.relname::text FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1) AND c.relname::text ~ '_p[0-9]{6}$'
		ORDER BY c.relname`, pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("partition: months of %s: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("partition: months of %s: %w", table, err)
	}
	parts := make([]Part, 0, len(names))
	for _, n := range names {
		m := monthName.FindStringSubmatch(n)
		if m == nil || n != table+"_p"+m[1]+m[2] {
			continue
		}
		from, err := time.ParseInLocation("200601", m[1]+m[2], bizday.Zone)
		if err != nil {
			continue
		}
		parts = append(parts, Part{Name: n, From: from, To: from.AddDate(0, 1, 0)})
	}
	return parts, nil
}

// Prunable answers, inside tx, how many rows the month partition part (a
// quoted identifier) holds and whether every one of them may go.
type Prunable func(ctx context.Context, tx pgx.Tx, part string) (rows int64, all bool, err error)

// DropIfPrunable drops the month partition p of table in a transaction of
// its own when prunable says all its rows may go, answering how many went.
// It holds the table's partition lock (Lock) throughout, so two instances
// pruning at once drop p once and never deadlock on each other; a partition
// already gone is not an error. When the lock on the table cannot be had
// within LockTimeout it gives up without an error (dropped false): the
// caller prunes row by row instead and the partition goes on a later run.
func DropIfPrunable(ctx context.Context, b DB, table string, p Part, prunable Prunable) (rows int64, dropped bool, err error) {
	err = pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
		if err := Lock(ctx, tx, table); err != nil {
			return err
		}
		exists, err := Exists(ctx, tx, p)
		if err != nil || !exists {
			return err
		}
		n, all, err := prunable(ctx, tx, pgx.Identifier{p.Name}.Sanitize())
		if err != nil || !all {
			return err
		}
		if err := Drop(ctx, tx, table, p); err != nil {
			return err
		}
		rows, dropped = n, true
		return nil
	})
	if LockTimedOut(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("partition: prune %s: %w", p.Name, err)
	}
	return rows, dropped, nil
}

// Lock takes, for the rest of tx, the advisory lock partition_ensure takes
// to create table's partitions: whoever creates or drops them holds it.
func Lock(ctx context.Context, tx pgx.Tx, table string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('partition:' || $1, 0))`, table)
	return err
}

// Exists reports whether p is still there, as tx's next statement sees the
// catalog (after Lock: whatever another holder of the lock committed).
func Exists(ctx context.Context, tx pgx.Tx, p Part) (bool, error) {
	var exists bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class
		WHERE relname = $1 AND relnamespace = current_schema()::regnamespace)`, p.Name).Scan(&exists)
	return exists, err
}

// LockTimedOut reports whether err is a lock wait cut short by LockTimeout.
func LockTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03" // lock_not_available
}

// Drop drops the month partition p of table inside tx, with its rows: the
// caller has made sure every one of them may go. The lock it needs is waited
// for at most LockTimeout.
func Drop(ctx context.Context, tx pgx.Tx, table string, p Part) error {
	if p.Name != table+"_p"+p.From.In(bizday.Zone).Format("200601") {
		return fmt.Errorf("partition: %s is not a month partition of %s", p.Name, table)
	}
	if err := setLockTimeout(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{p.Name}.Sanitize()); err != nil {
		return fmt.Errorf("partition: drop %s: %w", p.Name, err)
	}
	return nil
}

func setLockTimeout(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, LockTimeout.Milliseconds()))
	return err
}
