package reconciliation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/ledger"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
)

// DayResult is what ReconcileDay did.
type DayResult struct {
	Date string `json:"date"`
	// Files are those fetched (new or already stored); a source whose file is
	// not published yet has none.
	Files []File  `json:"files"`
	Runs  []int64 `json:"runs"`
}

// ReconcileDay reconciles one business day: for each source (every
// configured gateway and the bank, or only source) it fetches the day's file
// when a URL is configured, imports and loads it (a file fetched before is
// the same file and changes nothing), then queues a run of the source for the
// day. actor names who asked.
func (s *Service) ReconcileDay(ctx context.Context, day time.Time, source, actor string) (DayResult, error) {
	return s.reconcileDay(ctx, day, source, actor, false)
}

// FetchNow is ReconcileDay asked by a person (the console's fetch-now
// button): the same fetch, import and load, and the runs are queued in the
// transaction that writes the request's audit row (the actor in ctx).
//
// A closed day is not fetched again (ledger.ErrDayClosed), by FetchNow as by
// ReconcileDay: its runs are what it was closed on; reopen it first.
func (s *Service) FetchNow(ctx context.Context, day time.Time, source, actor string) (DayResult, error) {
	return s.reconcileDay(ctx, day, source, actor, true)
}

// refuseClosed is ledger.ErrDayClosed when day is closed. In a transaction
// it takes CloseDay's lock of the day, shared: a closing waits for the
// transaction (and the transaction for a closing under way), so that the
// day is not closed meanwhile; transactions that only refuse a closed day
// do not wait for each other.
//
// Every path that changes a day's reconciliation (queuing a run, loading a
// file, each stage of a run, storing a file) calls it in its transaction.
func refuseClosed(ctx context.Context, db ledger.DBTX, day time.Time) error {
	if _, ok := db.(pgx.Tx); ok {
		if _, err := db.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended('ledger_close_day:' || $1, 0))`, dayString(day)); err != nil {
			return fmt.Errorf("reconciliation: lock %s: %w", dayString(day), err)
		}
	}
	c, err := ledger.GetClosedDay(ctx, db, ledgerDay(day))
	if err != nil {
		return fmt.Errorf("reconciliation: is %s closed: %w", dayString(day), err)
	}
	if c != nil {
		return fmt.Errorf("%w: %s is closed: reopen it first", ledger.ErrDayClosed, dayString(day))
	}
	return nil
}

func (s *Service) reconcileDay(ctx context.Context, day time.Time, source, actor string, audited bool) (DayResult, error) {
	res := DayResult{Date: dayString(day)}
	sources := append(append([]string{}, s.cfg.Gateways...), SourceBank)
	if source != "" {
		if !validSource(source) {
			return res, fmt.Errorf("%w: unknown source %q", ErrInvalid, source)
		}
		sources = []string{source}
	}
	// Checked again under the lock where the file is loaded and the run queued.
	if err := refusePruned(ctx, s.pool, day); err != nil {
		return res, err
	}
	if err := refuseClosed(ctx, s.pool, day); err != nil {
		return res, err
	}
	var errs []error
	for _, src := range sources {
		f, ok, err := s.fetchAndLoad(ctx, src, day, actor)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			res.Files = append(res.Files, f)
		}
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, src := range sources { // enqueueRun refuses a closed day
			id, err := s.enqueueRun(ctx, tx, src, day, "day:"+actor, actor)
			if err != nil {
				return err
			}
			res.Runs = append(res.Runs, id)
		}
		if !audited {
			return nil
		}
		files := make([]int64, 0, len(res.Files))
		for _, f := range res.Files {
			files = append(files, f.ID)
		}
		return audit.Record(ctx, tx, audit.Event{Action: "reconciliation.day.fetch", ResourceType: "business_day",
			ResourceID: res.Date, After: map[string]any{"source": source, "files": files, "runs": res.Runs}})
	})
	if err != nil {
		errs = append(errs, err)
	}
	s.log.InfoContext(ctx, "reconciliation day queued", "date", res.Date, "source", source, "files", len(res.Files),
		"runs", res.Runs, "errors", len(errs))
	return res, errors.Join(errs...)
}

// fetchAndLoad fetches the day's file of source, imports and loads it. ok is
// false when no URL is configured or the file is not published (404).
func (s *Service) fetchAndLoad(ctx context.Context, source string, day time.Time, actor string) (File, bool, error) {
	tmpl := s.cfg.SettlementURL
	if source == SourceBank {
		tmpl = s.cfg.StatementURL
	}
	if tmpl == "" {
		return File{}, false, nil
	}
	u := expandURL(tmpl, source, day)
	fctx, cancel := context.WithTimeout(ctx, s.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, u, nil)
	if err != nil {
		return File{}, false, fmt.Errorf("reconciliation: fetch %s: %w", source, err)
	}
	token := s.cfg.SettlementToken
	if source == SourceBank {
		token = s.cfg.StatementToken
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.deps.HTTP.Do(req)
	if err != nil {
		return File{}, false, fmt.Errorf("reconciliation: fetch %s %s: %w", source, dayString(day), err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		s.log.InfoContext(ctx, "statement not published yet", "source", source, "date", dayString(day))
		return File{}, false, nil
	case resp.StatusCode != http.StatusOK:
		return File{}, false, fmt.Errorf("reconciliation: fetch %s %s: HTTP %d", source, dayString(day), resp.StatusCode)
	}
	f, err := s.Import(fctx, resp.Body, rawfile.Meta{Name: pathOf(u), Source: rawfile.SourceFetch, ReceivedBy: actor})
	if err != nil {
		return File{}, false, fmt.Errorf("reconciliation: fetch %s %s: %w", source, dayString(day), err)
	}
	dup := f.Duplicate
	if f, err = s.Load(ctx, f.ID); err != nil {
		return File{}, false, err
	}
	f.Duplicate = dup
	return f, true, nil
}

// expandURL fills a fetch URL template.
func expandURL(tmpl, source string, day time.Time) string {
	return strings.NewReplacer("{gateway}", url.PathEscape(source), "{date}", dayString(day)).Replace(tmpl)
}

// pathOf is the path of u, which names the file without any credentials a
// URL might carry.
func pathOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Path
}
