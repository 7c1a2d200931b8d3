// Package rawfile keeps every statement file civicpay receives exactly as it
// arrived, and tells whether it has seen the same bytes before.
//
// A file is written as a stream: it is read in chunks of ChunkSize, each chunk
// is copied into recon_file_chunks (COPY) while the SHA-256 of the whole is
// computed, and only then is the recon_files row inserted under that hash. The
// same bytes a second time collide on the hash: the transaction is rolled back
// and Put returns the file already stored, so importing a file twice changes
// nothing. Open reads the bytes back as a stream, checking the hash at the end.
// Memory use is one chunk, whatever the size of the file.
package rawfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/civicpay/civicpay/reconciliation/statement"
)

// ChunkSize is the size of one stored chunk.
const ChunkSize = 1 << 20

// Errors of Put.
var (
	// ErrEmpty: the file has no bytes.
	ErrEmpty = errors.New("rawfile: the file is empty")
	// ErrTooLarge: the file is larger than the limit given to Put.
	ErrTooLarge = errors.New("rawfile: the file is larger than allowed")
	// ErrNotFound: no stored file has that id.
	ErrNotFound = errors.New("rawfile: no such file")
	// ErrCorrupt: the stored bytes no longer hash to the recorded digest.
	ErrCorrupt = errors.New("rawfile: stored bytes do not match their digest")
)

// Sources of a file.
const (
	SourceUpload = "upload" // POST /v1/statements
	SourceFetch  = "fetch"  // the scheduled fetch from a gateway or the bank
	SourceCLI    = "cli"    // civicpay reconcile import
)

// Meta says where a file came from.
type Meta struct {
	Name       string // file name or URL path, for people; at most 255 bytes are kept
	Source     string // SourceUpload, SourceFetch or SourceCLI
	ReceivedBy string // the actor: API key, "scheduler", "cli:<user>"
}

// Stored is a file as recorded.
type Stored struct {
	ID         int64
	SHA256     []byte
	Kind       statement.Kind
	Size       int64
	Duplicate  bool // the same bytes were already stored: ID is that file
	ReceivedAt time.Time
}

// OnNew runs in the transaction that stores a new file, after its row is
// inserted (for example to enqueue the job that loads it). It is not called
// for a duplicate.
type OnNew func(ctx context.Context, tx pgx.Tx, f Stored) error

// Put stores the bytes of r (at most maxBytes) with meta. The format is told
// from the first bytes (statement.Detect): a file that is not a statement is
// refused before anything is kept, with an error wrapping
// statement.ErrUnknownFormat.
func Put(ctx context.Context, pool *pgxpool.Pool, r io.Reader, maxBytes int64, meta Meta, onNew OnNew) (Stored, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return Stored{}, fmt.Errorf("rawfile: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after commit

	var id int64
	if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('recon_files', 'id'))`).Scan(&id); err != nil {
		return Stored{}, fmt.Errorf("rawfile: next id: %w", err)
	}
	src := &chunkSource{id: id, r: r, max: maxBytes, sum: sha256.New(), buf: make([]byte, ChunkSize)}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"recon_file_chunks"}, []string{"file_id", "seq", "data"}, src); err != nil {
		if src.err != nil {
			return Stored{}, src.err
		}
		return Stored{}, fmt.Errorf("rawfile: store chunks: %w", err)
	}
	if src.size == 0 {
		return Stored{}, ErrEmpty
	}
	f := Stored{ID: id, SHA256: src.sum.Sum(nil), Kind: src.kind, Size: src.size}
	err = tx.QueryRow(ctx, `
		INSERT INTO recon_files (id, sha256, kind, size, chunks, name, source, received_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (sha256) DO NOTHING
		RETURNING received_at`,
		id, f.SHA256, string(f.Kind), f.Size, src.seq, clip(meta.Name, 255), meta.Source, meta.ReceivedBy).Scan(&f.ReceivedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = tx.Rollback(ctx) // drop the chunks just written
		return existing(ctx, pool, f.SHA256)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("rawfile: record file: %w", err)
	}
	if onNew != nil {
		if err := onNew(ctx, tx, f); err != nil {
			return Stored{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Stored{}, fmt.Errorf("rawfile: commit: %w", err)
	}
	return f, nil
}

// existing returns the file stored under sum (the other side of a duplicate).
func existing(ctx context.Context, pool *pgxpool.Pool, sum []byte) (Stored, error) {
	f := Stored{SHA256: sum, Duplicate: true}
	var kind string
	err := pool.QueryRow(ctx, `SELECT id, kind, size, received_at FROM recon_files WHERE sha256 = $1`, sum).
		Scan(&f.ID, &kind, &f.Size, &f.ReceivedAt)
	if err != nil {
		return Stored{}, fmt.Errorf("rawfile: read duplicate: %w", err)
	}
	f.Kind = statement.Kind(kind)
	return f, nil
}

// chunkSource feeds COPY with the chunks of r, hashing and detecting as it
// goes. One buffer is reused: pgx encodes a row before asking for the next.
type chunkSource struct {
	id   int64
	r    io.Reader
	max  int64
	sum  hash.Hash
	buf  []byte
	n    int
	seq  int32
	size int64
	kind statement.Kind
	err  error
	done bool
}

func (s *chunkSource) Next() bool {
	if s.done || s.err != nil {
		return false
	}
	n, err := io.ReadFull(s.r, s.buf)
	switch {
	case errors.Is(err, io.EOF):
		s.done = true
		return false
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.done = true
	case err != nil:
		s.err = fmt.Errorf("rawfile: read: %w", err)
		return false
	}
	if s.size == 0 {
		kind, err := statement.Detect(s.buf[:n])
		if err != nil {
			s.err = err
			return false
		}
		s.kind = kind
	}
	if s.size += int64(n); s.max > 0 && s.size > s.max {
		s.err = fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, s.max)
		return false
	}
	s.sum.Write(s.buf[:n])
	s.n = n
	return true
}

func (s *chunkSource) Values() ([]any, error) {
	seq := s.seq
	s.seq++
	return []any{s.id, seq, s.buf[:s.n]}, nil
}

func (s *chunkSource) Err() error { return s.err }

// DB is a pool or a transaction (which sees the file it is storing).
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Open returns the bytes of file id as a stream. The reader holds one
// connection of pool until it is closed (a transaction's connection can run
// nothing else meanwhile); it fails with ErrCorrupt at the end if the bytes
// do not hash to the recorded digest.
func Open(ctx context.Context, pool DB, id int64) (io.ReadCloser, error) {
	var want []byte
	var chunks int32
	err := pool.QueryRow(ctx, `SELECT sha256, chunks FROM recon_files WHERE id = $1`, id).Scan(&want, &chunks)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("rawfile: open %d: %w", id, err)
	}
	rows, err := pool.Query(ctx, `SELECT seq, data FROM recon_file_chunks WHERE file_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("rawfile: open %d: %w", id, err)
	}
	return &reader{id: id, rows: rows, want: want, chunks: chunks, sum: sha256.New()}, nil
}

// reader serves the chunk rows in order, reading each straight from pgx's
// buffer (valid until the next row).
type reader struct {
	id     int64
	rows   pgx.Rows
	want   []byte
	chunks int32
	next   int32
	sum    hash.Hash
	cur    []byte
	err    error
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.advance()
	}
	n := copy(p, r.cur)
	r.sum.Write(r.cur[:n])
	r.cur = r.cur[n:]
	return n, nil
}

// advance moves to the next chunk; at the end it returns io.EOF after checking
// the count and the digest.
func (r *reader) advance() error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return fmt.Errorf("rawfile: read %d: %w", r.id, err)
		}
		if r.next != r.chunks || !bytes.Equal(r.sum.Sum(nil), r.want) {
			return fmt.Errorf("%w: file %d", ErrCorrupt, r.id)
		}
		return io.EOF
	}
	raw := r.rows.RawValues()
	var seq int32
	if err := r.rows.Scan(&seq, nil); err != nil {
		return fmt.Errorf("rawfile: read %d: %w", r.id, err)
	}
	if seq != r.next {
		return fmt.Errorf("%w: file %d lacks chunk %d", ErrCorrupt, r.id, r.next)
	}
	r.next++
	r.cur = raw[1]
	return nil
}

func (r *reader) Close() error {
	r.rows.Close()
	return nil
}

// clip is s as text PostgreSQL keeps — NUL dropped, bytes that are not
// UTF-8 replaced — cut to at most n bytes on a character boundary (a name
// cut inside a character was a 500 once the whole file had been stored).
func clip(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
