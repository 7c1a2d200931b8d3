package reconciliation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// fileDays are the business days a stored file would feed runs of, as the
// file itself says (not the day a person uploads it from): a settlement
// file's business date, a bank file's booking days of booked entries (a
// camt.052 intraday report feeds none). The file is read in tx, which may
// be the one storing it. A file that does not parse feeds no day: its load
// refuses it.
func fileDays(ctx context.Context, tx pgx.Tx, id int64, kind statement.Kind) ([]time.Time, error) {
	if kind == statement.KindCAMT052 {
		return nil, nil
	}
	src, err := rawfile.Open(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("reconciliation: days of file %d: %w", id, err)
	}
	defer src.Close()
	if gw := kind.Gateway(); gw != "" {
		sf, err := statement.SettlementOptions{Tolerant: true}.ParseSettlement(gw, src, nil)
		if err != nil || sf.BusinessDate.IsZero() {
			return nil, nil //nolint:nilerr // not a valid file: the load says why
		}
		return []time.Time{dbDay(sf.BusinessDate.In(statement.ICT))}, nil
	}
	var days []time.Time
	_, err = statement.CAMTOptions{Tolerant: true}.ParseCAMT(src, func(_ statement.Statement, e statement.Entry) error {
		if e.Booked() && !e.BookingDate.IsZero() {
			if d := dbDay(e.BookingDate.In(statement.ICT)); !slices.ContainsFunc(days, d.Equal) {
				days = append(days, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil //nolint:nilerr // not a valid file: the load says why
	}
	slices.SortFunc(days, time.Time.Compare)
	return days, nil
}

// refuseClosedFile is ledger.ErrDayClosed when a day file id feeds is
// closed, checked in tx under each day's closing lock (refuseClosed).
func refuseClosedFile(ctx context.Context, tx pgx.Tx, id int64, kind statement.Kind) error {
	days, err := fileDays(ctx, tx, id, kind)
	if err != nil {
		return err
	}
	for _, d := range days {
		if err := refuseClosed(ctx, tx, d); err != nil {
			return fmt.Errorf("%w (the file's own business date)", err)
		}
	}
	return nil
}
