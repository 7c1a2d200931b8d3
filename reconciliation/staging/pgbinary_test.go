package staging

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// The hand-written binary COPY stores what pgx stored from the decimals and
// times before (the same numeric text, scale included, and the same instant).
func TestBinaryCopyStoresWhatPgxStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE enc (i int, n numeric, at timestamptz, s text)`); err != nil {
		t.Fatal(err)
	}
	type value struct {
		units int64
		scale int32
	}
	var values []value
	for _, scale := range []int32{0, 1, 2, 3, 4, 5, 8} {
		for _, u := range []int64{0, 1, -1, 9, 10, 99, 100, 101, 9999, 10000, 10001, 123456, -123456, 12345600, 1_000_000_000,
			100_000_000_000_000, 999_999_999_999_999_999, -999_999_999_999_999_999, math.MaxInt64, math.MinInt64 + 1, 50_000_000} {
			values = append(values, value{u, scale})
		}
	}
	at := time.Date(2026, 11, 23, 9, 18, 6, 123_456_789, statement.ICT)
	n, err := copyBinary(ctx, tx, "enc", []string{"i", "n", "at", "s"}, nil, func(emit func([]byte) error) error {
		var row []byte
		for i, v := range values {
			row = appendInt16(row[:0], 4)
			row = appendInt4Field(row, int32(i))
			row = appendNumericField(row, v.units, v.scale)
			row = appendTimestamptzField(row, at.Add(time.Duration(i)*time.Hour))
			row = appendTextField(row, "STL-VNPAY-20261123-R1")
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n != int64(len(values)) {
		t.Fatalf("copy: %d rows, %v", n, err)
	}
	for i, v := range values {
		d := decimal.New(v.units, -v.scale)
		var same bool
		var got, want string
		err := tx.QueryRow(ctx, `SELECT n::text, $2::numeric::text, n::text = $2::numeric::text
				AND at = $3 AND s = 'STL-VNPAY-20261123-R1' FROM enc WHERE i = $1`,
			i, d, at.Add(time.Duration(i)*time.Hour)).Scan(&got, &want, &same)
		if err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Errorf("%d × 10^-%d: stored %s, pgx stores %s (or the time or text differs)", v.units, v.scale, got, want)
		}
	}
}

// A parser error stops the COPY and is what the load returns; nothing is
// left half-written in the transaction's table.
func TestBinaryCopyReturnsTheProducersError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE enc (i int)`); err != nil {
			t.Fatal(err)
		}
		_, err := copyBinary(ctx, tx, "enc", []string{"i"}, nil, func(emit func([]byte) error) error {
			for i := range 100_000 {
				if err := emit(appendInt4Field(appendInt16(nil, 1), int32(i))); err != nil {
					return err
				}
			}
			return statement.ErrTrailer
		})
		return err
	})
	if !errors.Is(err, statement.ErrTrailer) {
		t.Fatalf("err %v, want the parser's", err)
	}
}
