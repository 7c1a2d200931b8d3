package reconciliation

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/payments/reference"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/staging"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// FileHeld is the status of a file uploaded for a preview: stored, not
// loaded until a person commits it.
const FileHeld = "held"

// ErrNotHeld: only a held file can be committed.
var ErrNotHeld = errors.New("statement file is not held for a preview")

// Preview is how a held file would load and match, computed in a
// transaction that is rolled back: nothing of it is staged, matched or
// raised.
type Preview struct {
	At   time.Time `json:"at"`
	Rule string    `json:"rule"`
	// Refused says why the load would refuse the file; nothing else is then
	// previewed.
	Refused string `json:"refused,omitempty"`
	// Settlement is what a settlement file says about itself (its lines'
	// totals, and its trailer's when they disagree).
	Settlement *FileSettlement `json:"settlement,omitempty"`
	// Findings are what the load would let through and flag.
	Findings []statement.Finding `json:"findings,omitempty"`
	// Replaces is the file loaded with the day's latest revision so far, which
	// this one (a later revision) would replace in the day's run.
	Replaces *int64 `json:"replaces,omitempty"`
	// Classes are the counts and totals per class of the gateway run the file
	// would feed, were it run now.
	Classes []matcher.Total `json:"classes,omitempty"`
	// Exceptions are the first PreviewExceptions lines (and records of ours)
	// that would not be plain matches; MoreExceptions counts the rest.
	Exceptions     []PreviewItem `json:"exceptions,omitempty"`
	MoreExceptions int64         `json:"more_exceptions,omitempty"`
	// BankCredit is the bank's credit already paying the gateway's day, if
	// any: NetDifference is that credit minus the file's net.
	BankCredit    *decimal.Decimal `json:"bank_credit,omitempty"`
	NetDifference *decimal.Decimal `json:"net_difference,omitempty"`
	// Statements are a bank file's statements as they would load.
	Statements []BankStatement `json:"statements,omitempty"`
}

// PreviewExceptions bounds the exceptions a preview lists.
const PreviewExceptions = 100

// PreviewItem is a line (or a record of ours) that would not be a plain match.
type PreviewItem struct {
	Class        matcher.Class    `json:"class"`
	Line         *int             `json:"line,omitempty"`
	Reference    string           `json:"reference,omitempty"`
	GatewayTxnID string           `json:"gateway_txn_id,omitempty"`
	AmountThere  *decimal.Decimal `json:"amount_there,omitempty"`
	AmountHere   *decimal.Decimal `json:"amount_here,omitempty"`
	Currency     string           `json:"currency,omitempty"`
	Detail       string           `json:"detail,omitempty"`
}

// PreviewArgs computes the preview of a held file.
type PreviewArgs struct {
	FileID int64 `json:"file_id"`
}

// Kind is the job kind.
func (PreviewArgs) Kind() string { return "recon_preview" }

// InsertOpts: one job per file.
func (PreviewArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ImportForPreview stores the file read from r as Import does, but holds it:
// its preview is computed by a job, and it is loaded only once a person
// commits it (Commit). The same bytes stored before return that file, as
// they are.
func (s *Service) ImportForPreview(ctx context.Context, r io.Reader, meta rawfile.Meta) (File, error) {
	stored, err := rawfile.Put(ctx, s.pool, r, s.cfg.MaxFileBytes, meta, func(ctx context.Context, tx pgx.Tx, f rawfile.Stored) error {
		if _, err := tx.Exec(ctx, `UPDATE recon_files SET status = 'held' WHERE id = $1`, f.ID); err != nil {
			return fmt.Errorf("hold: %w", err)
		}
		if _, err := s.insert(ctx, tx, PreviewArgs{FileID: f.ID}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "statement.import", ResourceType: "statement_file",
			ResourceID: strconv.FormatInt(f.ID, 10), After: map[string]any{"name": meta.Name, "source": meta.Source,
				"kind": f.Kind, "size": f.Size, "sha256": fmt.Sprintf("%x", f.SHA256), "preview": true}})
	})
	if err != nil {
		return File{}, fmt.Errorf("reconciliation: import for preview: %w", err)
	}
	f, err := s.File(ctx, stored.ID)
	if err != nil {
		return File{}, err
	}
	f.Duplicate = stored.Duplicate
	s.log.InfoContext(ctx, "statement file held for a preview", "file_id", f.ID, "kind", f.Kind, "size", f.Size,
		"duplicate", f.Duplicate)
	return f, nil
}

// Commit loads a held file: its load job is queued as an import's is. The
// actor is recorded with the file and in the audit log.
func (s *Service) Commit(ctx context.Context, id int64, actor string) (File, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM recon_files WHERE id = $1 FOR UPDATE`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %d", ErrFileNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("reconciliation: commit %d: %w", id, err)
		}
		if status != FileHeld {
			return fmt.Errorf("%w: file %d is %s", ErrNotHeld, id, status)
		}
		var kind string
		if err := tx.QueryRow(ctx, `SELECT kind FROM recon_files WHERE id = $1`, id).Scan(&kind); err != nil {
			return fmt.Errorf("reconciliation: commit %d: %w", id, err)
		}
		if err := refuseClosedFile(ctx, tx, id, statement.Kind(kind)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE recon_files SET status = 'received', committed_by = $2 WHERE id = $1`, id, actor); err != nil {
			return fmt.Errorf("reconciliation: commit %d: %w", id, err)
		}
		if _, err := s.insert(ctx, tx, LoadArgs{FileID: id}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{Action: "statement.commit", ResourceType: "statement_file",
			ResourceID: strconv.FormatInt(id, 10), Before: map[string]any{"status": FileHeld},
			After: map[string]any{"status": FileReceived}})
	})
	if err != nil {
		return File{}, err
	}
	s.log.InfoContext(ctx, "held statement file committed", "file_id", id)
	return s.File(ctx, id)
}

// ComputePreview previews a held file and keeps the result with it (a
// no-op for a file that is no longer held).
func (s *Service) ComputePreview(ctx context.Context, id int64) (Preview, error) {
	f, err := s.File(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	if f.Status != FileHeld {
		return Preview{}, nil
	}
	p, err := s.preview(ctx, f)
	if err != nil {
		return Preview{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Preview{}, fmt.Errorf("reconciliation: preview %d: %w", id, err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE recon_files SET preview = $2, previewed_at = $3 WHERE id = $1 AND status = 'held'`,
		id, b, p.At); err != nil {
		return Preview{}, fmt.Errorf("reconciliation: preview %d: %w", id, err)
	}
	s.log.InfoContext(ctx, "statement file previewed", "file_id", id, "kind", f.Kind, "refused", p.Refused != "",
		"exceptions", int64(len(p.Exceptions))+p.MoreExceptions)
	return p, nil
}

// previewID is a file and run id no stored file or run has (they are
// positive): the preview's staged lines and items are its own, and rolled
// back.
func previewID() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return -int64(binary.BigEndian.Uint64(b[:])>>2) - 1, nil
}

// preview stages and matches f in a transaction that it rolls back.
func (s *Service) preview(ctx context.Context, f File) (Preview, error) {
	p := Preview{At: s.deps.Clock.Now(), Rule: RuleStrict}
	tolerant := s.cfg.TolerantFor(source(f.Kind))
	if tolerant {
		p.Rule = RuleTolerant
	}
	src, err := rawfile.Open(ctx, s.pool, f.ID)
	if err != nil {
		return p, fmt.Errorf("reconciliation: preview %d: %w", f.ID, err)
	}
	defer src.Close()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return p, fmt.Errorf("reconciliation: preview %d: %w", f.ID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the whole preview is rolled back
	if _, err := tx.Exec(ctx, `SELECT set_config('work_mem', $1, true), set_config('jit', 'off', true)`, s.cfg.WorkMem); err != nil {
		return p, fmt.Errorf("reconciliation: preview %d: work_mem: %w", f.ID, err)
	}
	tmp, err := previewID()
	if err != nil {
		return p, fmt.Errorf("reconciliation: preview %d: %w", f.ID, err)
	}
	if gw := f.Kind.Gateway(); gw != "" {
		err = s.previewSettlement(ctx, tx, tmp, gw, src, tolerant, &p)
	} else {
		err = s.previewBank(ctx, tx, tmp, f.Kind, src, tolerant, &p)
	}
	if refusal(err) {
		p.Refused = err.Error()
		return p, nil
	}
	return p, err
}

func (s *Service) previewBank(ctx context.Context, tx pgx.Tx, tmp int64, kind statement.Kind, src io.Reader, tolerant bool, p *Preview) error {
	if _, err := staging.LoadCAMT(ctx, tx, tmp, src, staging.BankOptions{Kind: kind, Tolerant: tolerant, ValidRef: reference.Valid}, nil); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `
		SELECT seq, kind, version, message_id, statement_id, electronic_seq, created_at, period_from, period_to, account,
		       currency, opening_type, opening, opening_date, closing, closing_date, interim, interim_at, entries,
		       booked_credits, booked_debits, summary, unbalanced, difference, findings
		FROM recon_bank_statements WHERE file_id = $1 ORDER BY seq`, tmp)
	if err != nil {
		return fmt.Errorf("reconciliation: preview statements: %w", err)
	}
	if p.Statements, err = pgx.CollectRows(rows, scanStatement); err != nil {
		return fmt.Errorf("reconciliation: preview statements: %w", err)
	}
	for _, st := range p.Statements {
		p.Findings = append(p.Findings, st.Findings...)
	}
	return nil
}

func (s *Service) previewSettlement(ctx context.Context, tx pgx.Tx, tmp int64, gateway string, src io.Reader, tolerant bool, p *Preview) error {
	sf, err := staging.LoadSettlementWith(ctx, tx, tmp, gateway, src, statement.SettlementOptions{Tolerant: tolerant}, nil)
	if err != nil {
		return err
	}
	p.Findings = sf.Findings
	p.Settlement = &FileSettlement{Gateway: sf.Gateway, SettlementFileID: sf.FileID, BusinessDate: dayString(sf.BusinessDate),
		Revision: sf.Revision, Count: int64(sf.Count), Gross: sf.Gross, Fees: sf.Fees, Net: sf.Net, Currency: sf.Currency,
		Trailer: sf.Trailer}
	day := sf.BusinessDate
	latest, ok, err := latestFile(ctx, tx, gateway, day)
	if err != nil {
		return err
	}
	if ok {
		var rev int
		if err := tx.QueryRow(ctx, `SELECT revision FROM recon_files WHERE id = $1`, latest.FileID).Scan(&rev); err != nil {
			return fmt.Errorf("reconciliation: preview: %w", err)
		}
		switch {
		case rev == sf.Revision:
			return fmt.Errorf("%w: %s revision %d is already loaded from file %d, with other content", errRefused,
				sf.FileID, sf.Revision, latest.FileID)
		case rev > sf.Revision:
			p.Refused = fmt.Sprintf("revision %d of %s %s is loaded (file %d): this revision %d would not be the day's latest, and no run would use it",
				rev, gateway, dayString(day), latest.FileID, sf.Revision)
			return nil
		}
		p.Replaces = &latest.FileID
	}
	var nearby []int64
	for _, d := range []time.Time{day.AddDate(0, 0, -1), day.AddDate(0, 0, 1)} {
		other, ok, err := latestFile(ctx, tx, gateway, d)
		if err != nil {
			return err
		}
		if ok {
			nearby = append(nearby, other.FileID)
		}
	}
	mp := matcher.GatewayFile{RunID: tmp, FileID: tmp, Gateway: gateway, From: day, To: day.AddDate(0, 0, 1),
		Nearby: nearby, Currency: sf.Currency, Tol: s.cfg.Tol}
	if fee, ok := s.cfg.Fees[gateway]; ok {
		mp.Fee = &fee
	}
	if _, err := matcher.MatchGatewayFile(ctx, tx, mp); err != nil {
		return err
	}
	if p.Classes, err = matcher.Totals(ctx, tx, tmp, &matcher.Implied{FileID: tmp, Count: int64(sf.Count), Gross: sf.Gross,
		Currency: sf.Currency}); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT class, line, coalesce(reference, ''), coalesce(gateway_txn_id, ''), amount_there,
		amount_here, coalesce(currency, ''), detail FROM recon_items WHERE run_id = $1 AND class <> 'matched'
		ORDER BY seq LIMIT $2`, tmp, PreviewExceptions)
	if err != nil {
		return fmt.Errorf("reconciliation: preview exceptions: %w", err)
	}
	p.Exceptions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (PreviewItem, error) {
		var it PreviewItem
		var there, here decimal.NullDecimal
		err := r.Scan(&it.Class, &it.Line, &it.Reference, &it.GatewayTxnID, &there, &here, &it.Currency, &it.Detail)
		it.AmountThere, it.AmountHere = nullDecimal(there), nullDecimal(here)
		return it, err
	})
	if err != nil {
		return fmt.Errorf("reconciliation: preview exceptions: %w", err)
	}
	var all int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM recon_items WHERE run_id = $1 AND class <> 'matched'`, tmp).Scan(&all); err != nil {
		return fmt.Errorf("reconciliation: preview exceptions: %w", err)
	}
	p.MoreExceptions = all - int64(len(p.Exceptions))
	var bank decimal.NullDecimal
	err = tx.QueryRow(ctx, `SELECT bank_amount FROM recon_settlements WHERE gateway = $1 AND business_date = $2`, gateway, day).Scan(&bank)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reconciliation: preview settlement: %w", err)
	}
	if bank.Valid {
		diff := bank.Decimal.Sub(sf.Net)
		p.BankCredit, p.NetDifference = &bank.Decimal, &diff
	}
	return nil
}

// PreviewWorker runs PreviewArgs.
type PreviewWorker struct {
	river.WorkerDefaults[PreviewArgs]
	Service *Service
}

// Timeout overrides River's default of one minute.
func (w *PreviewWorker) Timeout(*river.Job[PreviewArgs]) time.Duration { return jobTimeout }

// Work computes the preview (a no-op when the file is no longer held).
func (w *PreviewWorker) Work(ctx context.Context, j *river.Job[PreviewArgs]) error {
	_, err := w.Service.ComputePreview(ctx, j.Args.FileID)
	return err
}
