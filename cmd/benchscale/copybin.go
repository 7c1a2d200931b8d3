package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// copyRows is PostgreSQL's binary COPY format written by hand: the seeding
// streams some hundred million rows through it, and a row of values
// appended to a buffer costs the generator (on the same two cores as the
// server) a fraction of what []any rows through pgx's encoders cost. It
// also lets the statement say FREEZE, which pgx's CopyFrom cannot.
type copyRows struct {
	b []byte
}

var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *copyRows) header() {
	c.b = append(c.b, "PGCOPY\n\xff\r\n\x00"...)
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // flags
	c.b = binary.BigEndian.AppendUint32(c.b, 0) // header extension length
}

func (c *copyRows) trailer() { c.b = binary.BigEndian.AppendUint16(c.b, 0xffff) }

// row starts a row of n fields.
func (c *copyRows) row(n int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(n)) }

func (c *copyRows) null() { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

func (c *copyRows) text(s string) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

func (c *copyRows) bytea(p []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(p)))
	c.b = append(c.b, p...)
}

// textFrom writes a text field whose bytes fill writes into the buffer.
func (c *copyRows) textFrom(fill func([]byte) []byte) {
	at := len(c.b)
	c.b = append(c.b, 0, 0, 0, 0)
	c.b = fill(c.b)
	binary.BigEndian.PutUint32(c.b[at:], uint32(len(c.b)-at-4))
}

// jsonbFrom is textFrom for a jsonb field (format version 1, then the text).
func (c *copyRows) jsonbFrom(fill func([]byte) []byte) {
	at := len(c.b)
	c.b = append(c.b, 0, 0, 0, 0, 1)
	c.b = fill(c.b)
	binary.BigEndian.PutUint32(c.b[at:], uint32(len(c.b)-at-4))
}

func (c *copyRows) uuid(u uuid.UUID) {
	c.b = binary.BigEndian.AppendUint32(c.b, 16)
	c.b = append(c.b, u[:]...)
}

func (c *copyRows) i16(v int16) {
	c.b = binary.BigEndian.AppendUint32(c.b, 2)
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(v))
}

func (c *copyRows) i64(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyRows) boolean(v bool) {
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	if v {
		c.b = append(c.b, 1)
	} else {
		c.b = append(c.b, 0)
	}
}

// ts writes a timestamptz: microseconds since 2000-01-01 UTC.
func (c *copyRows) ts(t time.Time) { c.i64(t.Sub(pgEpoch).Microseconds()) }

// numeric writes a whole, non-negative number: base-10000 digits, most
// significant first, trailing zero digits left out.
func (c *copyRows) numeric(v int64) {
	var digits [5]uint16
	n := 0
	for x := v; x > 0; x /= 10000 {
		digits[n] = uint16(x % 10000)
		n++
	}
	weight := n - 1
	lo := 0
	for lo < n && digits[lo] == 0 {
		lo++
	}
	nd := n - lo
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(8+2*nd))
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(nd))
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(max(weight, 0)))
	c.b = binary.BigEndian.AppendUint16(c.b, 0) // sign: positive
	c.b = binary.BigEndian.AppendUint16(c.b, 0) // dscale
	for i := n - 1; i >= lo; i-- {
		c.b = binary.BigEndian.AppendUint16(c.b, digits[i])
	}
}

// copyIn runs `COPY table (cols) FROM STDIN (FORMAT binary[, FREEZE])` on
// tx, with the rows gen writes: gen is called with i = 0..n-1 and appends
// the rows of item i to c. The rows are made in a goroutine while the
// server takes the previous ones.
func copyIn(ctx context.Context, tx pgx.Tx, table string, cols []string, freeze bool, n int, gen func(c *copyRows, i int)) (int64, error) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		c := &copyRows{b: make([]byte, 0, 1<<16)}
		c.header()
		for i := range n {
			gen(c, i)
			if len(c.b) >= 1<<15 {
				if _, err := bw.Write(c.b); err != nil {
					pw.CloseWithError(err)
					return
				}
				c.b = c.b[:0]
			}
		}
		c.trailer()
		if _, err := bw.Write(c.b); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(bw.Flush())
	}()
	opts := "FORMAT binary"
	if freeze {
		opts += ", FREEZE"
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (%s)", pgx.Identifier{table}.Sanitize(), joinIdents(cols), opts)
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, pr, sql)
	_ = pr.Close()
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}

func joinIdents(cols []string) string {
	s := ""
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += pgx.Identifier{c}.Sanitize()
	}
	return s
}

// vnZone is the partitions' month boundary: midnight in Vietnam (GMT+7,
// partition_bound's offset).
var vnZone = time.FixedZone("GMT+7", 7*3600)

// partitionRouter names the partition of a row of a table partitioned by
// month (<table>_pYYYYMM, <table>_default when that month has none) from its
// key column's value, which gen writes as a timestamptz.
type partitionRouter struct {
	table  string
	exists map[string]bool
	months map[int64]string // micros of the month's start → partition
	keyCol int              // the key's position in the COPY's columns
}

func newPartitionRouter(ctx context.Context, tx pgx.Tx, table string, cols []string) (*partitionRouter, error) {
	var key string
	if err := tx.QueryRow(ctx, `SELECT key_column FROM partitioned_tables WHERE parent = $1`, table).Scan(&key); err != nil {
		return nil, fmt.Errorf("%s: key column: %w", table, err)
	}
	r := &partitionRouter{table: table, exists: map[string]bool{}, months: map[int64]string{}, keyCol: -1}
	for i, c := range cols {
		if c == key {
			r.keyCol = i
		}
	}
	if r.keyCol < 0 {
		return nil, fmt.Errorf("%s: the COPY does not write the partition key %s", table, key)
	}
	rows, err := tx.Query(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass`, table)
	if err != nil {
		return nil, fmt.Errorf("%s: partitions: %w", table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: partitions: %w", table, err)
	}
	for _, n := range names {
		r.exists[n] = true
	}
	return r, nil
}

// route answers the partition of the row at b[off:] and where the row ends.
func (r *partitionRouter) route(b []byte, off int) (string, int) {
	n := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	var micros int64
	for f := range n {
		l := int32(binary.BigEndian.Uint32(b[off:]))
		off += 4
		if l < 0 {
			continue
		}
		if f == r.keyCol {
			micros = int64(binary.BigEndian.Uint64(b[off:]))
		}
		off += int(l)
	}
	t := pgEpoch.Add(time.Duration(micros) * time.Microsecond).In(vnZone)
	month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, vnZone)
	k := month.UnixMicro()
	name, ok := r.months[k]
	if !ok {
		name = fmt.Sprintf("%s_p%04d%02d", r.table, month.Year(), int(month.Month()))
		if !r.exists[name] {
			name = r.table + "_default"
		}
		r.months[k] = name
	}
	return name, off
}

// copyInPartitions is copyIn for a table partitioned by month: each row
// goes straight to its month's partition, in COPYs of some MB per partition
// with FREEZE (which PostgreSQL refuses on the partitioned table itself; the
// partitions qualify, the transaction having truncated them with their
// parent). The rows are made and sorted in a goroutine while the server
// takes the previous ones.
func copyInPartitions(ctx context.Context, tx pgx.Tx, table string, cols []string, n int, gen func(c *copyRows, i int)) (int64, error) {
	router, err := newPartitionRouter(ctx, tx, table, cols)
	if err != nil {
		return 0, err
	}
	type chunk struct {
		part string
		b    []byte
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 2)
	go func() {
		defer close(chunks)
		bufs := map[string]*copyRows{}
		send := func(part string, c *copyRows) bool {
			c.trailer()
			select {
			case chunks <- chunk{part, c.b}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		c := &copyRows{b: make([]byte, 0, 1<<12)}
		for i := range n {
			c.b = c.b[:0]
			gen(c, i)
			for off := 0; off < len(c.b); {
				part, end := router.route(c.b, off)
				buf := bufs[part]
				if buf == nil {
					buf = &copyRows{b: make([]byte, 0, 4<<20+1<<16)}
					buf.header()
					bufs[part] = buf
				}
				buf.b = append(buf.b, c.b[off:end]...)
				off = end
				if len(buf.b) >= 4<<20 {
					delete(bufs, part)
					if !send(part, buf) {
						return
					}
				}
			}
		}
		for part, buf := range bufs {
			if !send(part, buf) {
				return
			}
		}
	}()
	var rows int64
	for ch := range chunks {
		sql := fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary, FREEZE)", pgx.Identifier{ch.part}.Sanitize(), joinIdents(cols))
		tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(ch.b), sql)
		if err != nil {
			return 0, fmt.Errorf("copy %s: %w", ch.part, err)
		}
		rows += tag.RowsAffected()
	}
	return rows, nil
}
