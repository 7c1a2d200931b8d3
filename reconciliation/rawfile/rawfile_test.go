package rawfile_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// bigFile is a ZaloPay settlement header followed by enough lines to span
// several chunks (the format is only sniffed; the lines need not parse).
func bigFile(chunks float64) []byte {
	var b bytes.Buffer
	b.WriteString("settlement_file_id|settlement_date|zp_trans_id|app_trans_id|trans_type|amount|fee_amount|net_amount|currency|trans_time\n")
	for i := 0; float64(b.Len()) < chunks*rawfile.ChunkSize; i++ {
		fmt.Fprintf(&b, "STL-ZALOPAY-20261123-R1|2026-11-23|%d|261123_%d|1|200000|2000|198000|VND|2026-11-23 10:15:00\n", i, i)
	}
	return b.Bytes()
}

func meta() rawfile.Meta {
	return rawfile.Meta{Name: "f.csv", Source: rawfile.SourceUpload, ReceivedBy: "test"}
}

func TestTheBytesAreKeptAndTheSameBytesAreOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	data := bigFile(2.5)
	news := 0
	onNew := func(context.Context, pgx.Tx, rawfile.Stored) error { news++; return nil }
	first, err := rawfile.Put(ctx, pool, bytes.NewReader(data), 0, meta(), onNew)
	if err != nil {
		t.Fatal(err)
	}
	if first.Duplicate || first.Size != int64(len(data)) || first.Kind != statement.KindZaloPaySettlement || len(first.SHA256) != 32 {
		t.Fatalf("stored %+v", first)
	}
	again, err := rawfile.Put(ctx, pool, bytes.NewReader(data), 0, meta(), onNew)
	if err != nil || !again.Duplicate || again.ID != first.ID || news != 1 {
		t.Fatalf("again %+v %v, onNew called %d times", again, err, news)
	}
	var files, chunks int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM recon_files), (SELECT count(*) FROM recon_file_chunks)`).
		Scan(&files, &chunks); err != nil || files != 1 || chunks != 3 {
		t.Fatalf("%d files, %d chunks, %v", files, chunks, err)
	}
	rd, err := rawfile.Open(ctx, pool, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got, err := io.ReadAll(rd)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d of %d bytes, %v", len(got), len(data), err)
	}
}

func TestWhatIsNotAStatementIsNotKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	for _, c := range []struct {
		name string
		data string
		max  int64
		want error
	}{
		{"empty", "", 0, rawfile.ErrEmpty},
		{"not a statement", "hello, world\n", 0, statement.ErrUnknownFormat},
		{"too large", string(bigFile(0.01)), 1000, rawfile.ErrTooLarge},
	} {
		_, err := rawfile.Put(ctx, pool, strings.NewReader(c.data), c.max, meta(), nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM recon_files) + (SELECT count(*) FROM recon_file_chunks)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows left, %v", n, err)
	}
}

func TestAChangedFileIsCaughtWhenRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	f, err := rawfile.Put(ctx, pool, bytes.NewReader(bigFile(1.2)), 0, meta(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE recon_file_chunks SET data = overlay(data placing '9' from 200 for 1) WHERE file_id = $1 AND seq = 1`, f.ID); err != nil {
		t.Fatal(err)
	}
	rd, err := rawfile.Open(ctx, pool, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, err := io.ReadAll(rd); !errors.Is(err, rawfile.ErrCorrupt) {
		t.Fatalf("read of a changed file: %v", err)
	}
	if _, err := rawfile.Open(ctx, pool, f.ID+1); !errors.Is(err, rawfile.ErrNotFound) {
		t.Fatalf("open of no file: %v", err)
	}
}

// TestANameIsKeptAsText: a file's name is kept as PostgreSQL text, cut to
// 255 bytes on a character boundary. On main a name cut inside a character
// (or holding NUL) failed the insert — a 500 after the whole file was stored.
func TestANameIsKeptAsText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	tests := []struct{ name, give, want string }{
		{"cut inside a character", strings.Repeat("a", 254) + "é.csv", strings.Repeat("a", 254)},
		{"cut after a character", strings.Repeat("a", 253) + "é.csv", strings.Repeat("a", 253) + "é"},
		{"NUL", "a\x00b.csv", "ab.csv"},
		{"not UTF-8", "a\xffb.csv", "a\uFFFDb.csv"},
	}
	for i, tt := range tests {
		m := meta()
		m.Name = tt.give
		data := append(bigFile(0.01), fmt.Sprintf("# %d\n", i)...)
		f, err := rawfile.Put(ctx, pool, bytes.NewReader(data), 0, m, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got string
		if err := pool.QueryRow(ctx, `SELECT name FROM recon_files WHERE id = $1`, f.ID).Scan(&got); err != nil || got != tt.want {
			t.Errorf("%s: kept %q (%v), want %q", tt.name, got, err, tt.want)
		}
	}
}
