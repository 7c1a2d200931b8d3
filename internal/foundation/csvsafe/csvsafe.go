// Package csvsafe writes CSV that is safe to open in a spreadsheet: a cell
// that begins with =, +, -, @, a tab or a carriage return would be taken for a
// formula (CSV injection, OWASP), so it is prefixed with a single quote —
// unless it is a plain number, which stays a number ("-5000", "12.50").
//
// Every CSV export of civicpay writes through it; text that came from outside
// (bank files, gateway settlement files, names) is the usual carrier.
package csvsafe

import (
	"encoding/csv"
	"io"
)

// Cell returns s neutralised: "'" + s if s could start a formula and is not a
// plain number, s otherwise.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if isNumber(s) {
			return s
		}
		return "'" + s
	}
	return s
}

// isNumber reports whether s is an optionally signed decimal: digits, at
// most one point, digits on both sides of it.
func isNumber(s string) bool {
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i < len(s)-1:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}

// Writer is a csv.Writer whose Write neutralises every cell.
type Writer struct {
	*csv.Writer
	buf []string
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{Writer: csv.NewWriter(w)} }

// Write writes one record, each cell through Cell (record is not changed).
func (w *Writer) Write(record []string) error {
	w.buf = w.buf[:0]
	for _, s := range record {
		w.buf = append(w.buf, Cell(s))
	}
	return w.Writer.Write(w.buf)
}
