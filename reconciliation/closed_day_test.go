package reconciliation_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// closeDirectly records day as closed in the ledger, as CloseDay would once
// the day is reconciled (the tests here close a day whatever its runs say).
func closeDirectly(t *testing.T, pool *pgxpool.Pool, day time.Time) {
	t.Helper()
	ctx := audit.System(context.Background(), "test")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := ledger.CloseDay(ctx, tx, time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), "test", "closed")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// reconState is everything a reconciliation of a day may write but a run's
// own row: files, staged lines and entries, items, exceptions and their
// events, settlements, as one comparable string.
func reconState(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT count(*) FROM recon_files WHERE status = 'loaded'),
		(SELECT count(*) FROM recon_settlement_lines),
		(SELECT count(*) FROM recon_bank_entries),
		(SELECT count(*) FROM recon_items),
		(SELECT count(*) FROM recon_exception_events),
		(SELECT coalesce(md5(string_agg(id || ':' || status || ':' || coalesce(detail, ''), ',' ORDER BY id)), '')
		   FROM recon_exceptions),
		(SELECT coalesce(md5(string_agg(to_jsonb(s)::text, ',' ORDER BY s::text)), '') FROM recon_settlements s))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func job[T river.JobArgs](args T) *river.Job[T] {
	return &river.Job[T]{JobRow: &rivertype.JobRow{ID: 1}, Args: args}
}

// Every job that would change a closed day's reconciliation completes (no
// retry) and changes nothing of it: the scheduled day job (which would
// fetch a new revision of the gateway's file), the load of a file of the
// day stored before it closed, a run of the day queued before it closed.
func TestJobsOfAClosedDayChangeNothing(t *testing.T) {
	t.Parallel()
	const gw = statement.GatewayVNPAY
	for _, c := range []struct {
		name string
		// before prepares the day while it is open and returns the job to
		// work once it is closed.
		before func(f *fx, serve func([]byte)) func(ctx context.Context) error
		check  func(t *testing.T, f *fx)
	}{
		{"scheduled day job", func(f *fx, serve func([]byte)) func(context.Context) error {
			a, b := f.paid(gw, 200_000, at(9, 0)), f.paid(gw, 150_000, at(10, 0))
			rev1, _ := settlementFile(f.t, gw, 1, line(a))
			f.load(rev1) // b is missing there: an exception
			rev2, _ := settlementFile(f.t, gw, 2, line(a), line(b), line(attempt{Gateway: gw, Ref: wireRef(gw, 99),
				Txn: "14499999", Amount: 70_000, PaidAt: at(11, 0)}))
			serve(rev2)
			return func(ctx context.Context) error {
				return (&reconciliation.DayWorker{Service: f.svc}).Work(ctx, job(reconciliation.DayArgs{Date: "2026-11-23"}))
			}
		}, func(t *testing.T, f *fx) {
			if n := f.count(`SELECT count(*) FROM recon_files`); n != 1 {
				t.Errorf("files after the day job: %d, want the one loaded before the day closed", n)
			}
		}},
		{"load of a file stored before the day closed", func(f *fx, _ func([]byte)) func(context.Context) error {
			data, _ := settlementFile(f.t, gw, 1, line(f.paid(gw, 200_000, at(9, 0))))
			file, err := f.svc.Import(f.ctx, strings.NewReader(string(data)), rawMeta())
			if err != nil {
				f.t.Fatal(err)
			}
			return func(ctx context.Context) error {
				return (&reconciliation.LoadWorker{Service: f.svc}).Work(ctx, job(reconciliation.LoadArgs{FileID: file.ID}))
			}
		}, func(t *testing.T, f *fx) {
			var status, msg string
			if err := f.pool.QueryRow(f.ctx, `SELECT status, coalesce(error, '') FROM recon_files`).Scan(&status, &msg); err != nil {
				t.Fatal(err)
			}
			if status == reconciliation.FileLoaded || !strings.Contains(msg, "2026-11-23 is closed") {
				t.Errorf("file %s %q, want not loaded, saying the day is closed", status, msg)
			}
			if n := f.count(`SELECT count(*) FROM recon_runs`); n != 0 {
				t.Errorf("%d runs queued by the load of a closed day", n)
			}
		}},
		{"run queued before the day closed", func(f *fx, _ func([]byte)) func(context.Context) error {
			a, b := f.paid(gw, 200_000, at(9, 0)), f.paid(gw, 150_000, at(10, 0))
			data, _ := settlementFile(f.t, gw, 1, line(a))
			_ = b // missing there: the run would raise an exception
			file, err := f.svc.Import(f.ctx, strings.NewReader(string(data)), rawMeta())
			if err != nil {
				f.t.Fatal(err)
			}
			if _, err := f.svc.Load(f.ctx, file.ID); err != nil {
				f.t.Fatal(err)
			}
			id := f.count(`SELECT id FROM recon_runs WHERE status = 'queued'`)
			return func(ctx context.Context) error {
				return (&reconciliation.RunWorker{Service: f.svc}).Work(ctx, job(reconciliation.RunArgs{RunID: id}))
			}
		}, func(t *testing.T, f *fx) {
			r := f.lastRun(gw, day0)
			if r.Status != reconciliation.RunFailed || !strings.Contains(r.Error, "2026-11-23 is closed") {
				t.Errorf("run %s %q, want failed, saying the day is closed", r.Status, r.Error)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var served atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := served.Load().([]byte)
				if b == nil || !strings.Contains(r.URL.Path, gw) {
					http.NotFound(w, r)
					return
				}
				w.Write(b) //nolint:errcheck // a test server
			}))
			t.Cleanup(srv.Close)
			f := newFx(t, func(c *reconciliation.Config) {
				c.Gateways = []string{gw}
				c.SettlementURL = srv.URL + "/{gateway}/{date}"
			})
			work := c.before(f, func(b []byte) { served.Store(b) })
			closeDirectly(t, f.pool, day0)
			before := reconState(t, f.pool)
			runs := f.count(`SELECT count(*) FROM recon_runs`)
			if err := work(f.ctx); err != nil {
				t.Fatalf("the job fails (and would be retried): %v", err)
			}
			if after := reconState(t, f.pool); after != before {
				t.Errorf("the closed day's reconciliation changed:\n before %s\n after  %s", before, after)
			}
			if n := f.count(`SELECT count(*) FROM recon_runs`); n != runs {
				t.Errorf("runs %d, want %d: none queued for a closed day", n, runs)
			}
			c.check(t, f)
		})
	}
}

func rawMeta() rawfile.Meta {
	return rawfile.Meta{Name: "test", Source: rawfile.SourceUpload, ReceivedBy: "test"}
}

// A request that would change a closed day's reconciliation is refused with
// a problem+json 409 naming the day, and writes nothing: a run request of
// the day, and an upload of a file whose own business date is the day
// (whatever day it is uploaded on). The same requests for an open day are
// accepted.
func TestRequestsOfAClosedDayAre409(t *testing.T) {
	t.Parallel()
	e := newApp(t)
	closed, open := day0, day0.AddDate(0, 0, 1)
	closeDirectly(t, e.Pool, closed)
	settlement, _ := settlementFile(t, statement.GatewayVNPAY, 1)
	t.Run("requests", func(t *testing.T) {
		for _, c := range []struct {
			name, path string
			body       any
			want       int
			day        string
		}{
			{"run of the closed day", "/v1/reconciliation/runs", `{"date":"2026-11-23"}`, http.StatusConflict, "2026-11-23"},
			{"run of one source of the closed day", "/v1/reconciliation/runs", `{"date":"2026-11-23","source":"bank"}`,
				http.StatusConflict, "2026-11-23"},
			{"run of an open day", "/v1/reconciliation/runs", `{"date":"2026-11-24"}`, http.StatusAccepted, ""},
			{"statement of the closed day", "/v1/statements", camt053(t, closed, credit(50_000, closed, "CK A")),
				http.StatusConflict, "2026-11-23"},
			{"settlement file of the closed day", "/v1/statements", settlement, http.StatusConflict, "2026-11-23"},
			{"statement of an open day", "/v1/statements", camt053(t, open, credit(60_000, open, "CK B")), http.StatusAccepted, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				ct := "application/octet-stream"
				if _, ok := c.body.(string); ok {
					ct = "application/json"
				}
				r := e.Do(t, "POST", c.path, e.Treasury, c.body, "Content-Type", ct)
				if r.Status != c.want {
					t.Fatalf("%d %s, want %d", r.Status, r.Body, c.want)
				}
				if c.day == "" {
					return
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") ||
					!strings.Contains(string(r.Body), c.day+" is closed") {
					t.Errorf("%s %s, want problem+json naming %s", ct, r.Body, c.day)
				}
			})
		}
	})
	var jobs, audits, files int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM river_job WHERE kind = 'recon_day' AND args->>'date' = '2026-11-23'),
		(SELECT count(*) FROM audit_log WHERE action IN ('reconciliation.run.request', 'statement.import')
		   AND (after->>'date' = '2026-11-23' OR action = 'statement.import')),
		(SELECT count(*) FROM recon_files)`).Scan(&jobs, &audits, &files); err != nil {
		t.Fatal(err)
	}
	if jobs != 0 || audits != 1 || files != 1 {
		t.Errorf("%d day jobs of the closed day, %d import/request audit rows, %d files (want 0, and the open day's file: 1, 1)",
			jobs, audits, files)
	}
}
