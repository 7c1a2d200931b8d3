package staging

import (
	"encoding/binary"
	"strconv"
	"time"
)

// The settlement lines are written to COPY in PostgreSQL's binary format by
// hand: a row is a few appends to a buffer, with none of the per-value
// reflection, decimal arithmetic and allocation of a generic encoder (which
// was most of the load's CPU: pgx turning decimal.Decimal into numeric).

// copyBinaryHeader starts a binary COPY stream: the signature, no flags, no
// header extension.
var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyBinaryTrailer ends it: a tuple of -1 fields.
var copyBinaryTrailer = []byte{0xff, 0xff}

// pgEpochMicros is 2000-01-01 UTC, PostgreSQL's timestamp epoch, in Unix
// microseconds.
const pgEpochMicros = 946_684_800_000_000

func appendInt16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// appendInt8Field appends a bigint field.
func appendInt8Field(b []byte, v int64) []byte { return appendInt64(appendInt32(b, 8), v) }

// appendInt4Field appends an integer field.
func appendInt4Field(b []byte, v int32) []byte { return appendInt32(appendInt32(b, 4), v) }

// appendTextField appends a text (or char(n)) field: its UTF-8 bytes.
func appendTextField(b []byte, s string) []byte { return append(appendInt32(b, int32(len(s))), s...) }

// appendTimestamptzField appends a timestamptz field (microseconds since
// PostgreSQL's epoch; below a microsecond is dropped, as pgx does).
func appendTimestamptzField(b []byte, t time.Time) []byte {
	return appendInt64(appendInt32(b, 8), t.Unix()*1_000_000+int64(t.Nanosecond())/1000-pgEpochMicros)
}

// appendBoolField appends a boolean field.
func appendBoolField(b []byte, v bool) []byte {
	b = appendInt32(b, 1)
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Numeric signs in the binary format.
const (
	numericPos = 0x0000
	numericNeg = 0x4000
)

// appendNumericField appends a numeric field worth units × 10^-scale with
// display scale scale (0 ≤ scale ≤ 18): base-10000 digits grouped around the
// decimal point, as numeric_send writes them (leading and trailing zero
// groups dropped; zero has none).
func appendNumericField(b []byte, units int64, scale int32) []byte {
	sign := uint16(numericPos)
	u := uint64(units)
	if units < 0 {
		sign, u = numericNeg, uint64(-units) // -MinInt64 wraps to itself, read as unsigned: its magnitude
	}
	var txt [24]byte
	s := strconv.AppendUint(txt[:0], u, 10)
	// Pad with leading zeros so that there is at least one integer digit.
	var padded [48]byte
	n := len(s)
	lead := 0
	if int(scale) >= n {
		lead = int(scale) - n + 1
	}
	p := padded[:0]
	for i := 0; i < lead; i++ {
		p = append(p, '0')
	}
	p = append(p, s...)
	intLen := len(p) - int(scale)
	// Base-10000 groups: the integer part from the point leftwards, the
	// fraction from the point rightwards (zero-padded on the right).
	var groups [16]int16
	g := groups[:0]
	first := intLen % 4
	if first == 0 {
		first = 4
	}
	pos := 0
	for width := first; pos < intLen; width = 4 {
		g = append(g, digitsValue(p[pos:pos+width]))
		pos += width
	}
	weight := len(g) - 1
	for pos < len(p) {
		end := min(pos+4, len(p))
		v := digitsValue(p[pos:end])
		for k := end - pos; k < 4; k++ {
			v *= 10
		}
		g = append(g, v)
		pos = end
	}
	for len(g) > 0 && g[0] == 0 {
		g, weight = g[1:], weight-1
	}
	for len(g) > 0 && g[len(g)-1] == 0 {
		g = g[:len(g)-1]
	}
	if len(g) == 0 {
		weight, sign = 0, numericPos
	}
	b = appendInt32(b, int32(8+2*len(g)))
	b = appendInt16(b, int16(len(g)))
	b = appendInt16(b, int16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = appendInt16(b, int16(scale))
	for _, d := range g {
		b = appendInt16(b, d)
	}
	return b
}

func digitsValue(d []byte) int16 {
	var v int16
	for _, c := range d {
		v = v*10 + int16(c-'0')
	}
	return v
}
