package reconciliation

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/csvsafe"
)

// exportTimeout bounds one streamed export (it runs after the handler returns).
const exportTimeout = 10 * time.Minute

// exportColumns is the CSV header of a run's export.
var exportColumns = []string{"seq", "class", "matched_by", "file_id", "line", "entry_key", "reference", "gateway_txn_id",
	"at", "amount_there", "fee_there", "amount_here", "currency", "here_kind", "here_id", "detail", "exception_id",
	"exception_status"}

// exportSQL reads every result of a run in order: its items and, for a
// gateway run, the lines of its settlement file that have none (matched by
// reference), with the record each names. $1 run, $2 the run's settlement
// file (0 for a bank run), $3 its gateway.
const exportSQL = `
SELECT coalesce(i.seq, l.line), coalesce(i.class, 'matched'), coalesce(i.matched_by, 'reference'),
       coalesce(i.file_id, l.file_id), coalesce(i.line, l.line), coalesce(i.entry_key, ''),
       coalesce(i.reference, l.reference, ''), coalesce(i.gateway_txn_id, l.gateway_txn_id, ''), coalesce(i.at, l.at),
       coalesce(i.amount_there, l.gross), coalesce(i.fee_there, l.fee), coalesce(i.amount_here, a.amount, -r.amount),
       coalesce(i.currency, l.currency, ''),
       coalesce(i.here_kind, CASE l.type WHEN 'payment' THEN 'attempt' WHEN 'refund' THEN 'refund' END, ''),
       coalesce(i.here_id, a.id, r.id), coalesce(i.detail, ''), e.id, coalesce(e.status, '')
FROM (SELECT * FROM recon_settlement_lines WHERE file_id = $2) l
FULL JOIN (SELECT * FROM recon_items WHERE run_id = $1) i ON i.file_id = l.file_id AND i.line = l.line
LEFT JOIN payments_recon_attempts a ON i.run_id IS NULL AND l.type = 'payment' AND a.gateway = $3 AND a.gateway_ref = l.reference
LEFT JOIN payments_recon_refunds r ON i.run_id IS NULL AND l.type = 'refund' AND r.gateway_refund_id = l.gateway_txn_id
LEFT JOIN recon_exceptions e ON e.key = i.exception_key
ORDER BY 1`

// ExportRun writes every result of run id as CSV to w: one row per line of
// the statement (and per record of ours missing from it), with its class.
func (s *Service) ExportRun(ctx context.Context, id int64, w io.Writer) error {
	r, err := s.Run(ctx, id)
	if err != nil {
		return err
	}
	var fileID int64
	if r.Source != SourceBank && len(r.Files) > 0 {
		fileID = r.Files[0]
	}
	rows, err := s.pool.Query(ctx, exportSQL, id, fileID, r.Source)
	if err != nil {
		return fmt.Errorf("reconciliation: export run %d: %w", id, err)
	}
	defer rows.Close()
	out := csvsafe.NewWriter(w)
	if err := out.Write(exportColumns); err != nil {
		return fmt.Errorf("reconciliation: export run %d: %w", id, err)
	}
	var (
		seq                      int64
		class, matchedBy, entry  string
		ref, txn, ccy, kind, det string
		fileID2, excID           *int64
		line                     *int32
		at                       *time.Time
		there, fee, here         decimal.NullDecimal
		hereID                   *uuid.UUID
		excStatus                string
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &class, &matchedBy, &fileID2, &line, &entry, &ref, &txn, &at, &there, &fee, &here, &ccy,
			&kind, &hereID, &det, &excID, &excStatus); err != nil {
			return fmt.Errorf("reconciliation: export run %d: %w", id, err)
		}
		rec := []string{strconv.FormatInt(seq, 10), class, matchedBy, optInt(fileID2), optInt32(line), entry, ref, txn,
			optTime(at), optDecimal(there), optDecimal(fee), optDecimal(here), ccy, kind, optUUID(hereID), det,
			optInt(excID), excStatus}
		if err := out.Write(rec); err != nil {
			return fmt.Errorf("reconciliation: export run %d: %w", id, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reconciliation: export run %d: %w", id, err)
	}
	out.Flush()
	return out.Error()
}

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func optInt32(p *int32) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(int64(*p), 10)
}

func optTime(p *time.Time) string {
	if p == nil {
		return ""
	}
	return p.UTC().Format(time.RFC3339)
}

func optDecimal(d decimal.NullDecimal) string {
	if !d.Valid {
		return ""
	}
	return d.Decimal.String()
}

func optUUID(p *uuid.UUID) string {
	if p == nil {
		return ""
	}
	return p.String()
}

// GET /reconciliation/runs/{id}/export: the run as CSV, streamed. A failure
// midway cannot change the status any more: the body then ends early (its
// last row is not the run's last item) and the failure is logged.
func (h *Handler) exportRun(c *fiber.Ctx) error {
	id, err := pathID(c, ErrRunNotFound)
	if err != nil {
		return err
	}
	if _, err := h.svc.Run(c.UserContext(), id); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="reconciliation-run-%d.csv"`, id))
	base := context.WithoutCancel(c.UserContext())
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(base, exportTimeout)
		defer cancel()
		if err := h.svc.ExportRun(ctx, id, w); err != nil {
			h.svc.log.ErrorContext(ctx, "reconciliation export failed", "run_id", id, "err", err)
		}
	})
	return nil
}
