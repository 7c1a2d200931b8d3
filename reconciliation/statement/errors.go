package statement

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. An error a parser returns about its input is a
// *ParseError (carrying the position) wrapping one of these, the error the
// caller's callback returned, or the reader's own error; only a wrong
// argument (an unknown gateway) comes back without a position.
var (
	// ErrFormat: the input is not well-formed or breaks a rule of its format.
	ErrFormat = errors.New("malformed input")
	// ErrLimit: the input exceeds one of the Limits (nesting, token or line size).
	ErrLimit = errors.New("size limit exceeded")
	// ErrUnbalanced: a camt.053 statement's opening balance plus its booked
	// entries is not its closing balance.
	ErrUnbalanced = errors.New("statement does not balance")
	// ErrNoBalance: a camt.053 statement lacks its opening (OPBD or PRCD) or
	// closing (CLBD) booked balance, so it cannot be checked; the message
	// says which.
	ErrNoBalance = errors.New("statement lacks a booked balance")
	// ErrSummary: a statement's TxsSummry disagrees with its entries.
	ErrSummary = errors.New("statement's TxsSummry disagrees with its entries")
	// ErrEncoding: the document declares an encoding ParseCAMT does not read
	// (only UTF-8, ISO-8859-1 and US-ASCII are), or has a byte its declared
	// encoding does not allow. It is also an ErrFormat.
	ErrEncoding = fmt.Errorf("%w: unsupported character encoding", ErrFormat)
	// ErrTrailer: a settlement file's trailer is missing or disagrees with its
	// lines.
	ErrTrailer = errors.New("settlement trailer missing or disagrees with the lines")
	// ErrUnknownFormat: Detect does not recognise the input.
	ErrUnknownFormat = errors.New("unknown statement format")
	// ErrUnknownGateway: no settlement layout is defined for the gateway.
	ErrUnknownGateway = errors.New("unknown gateway")
)

// ParseError says where in the input a parser stopped and why.
type ParseError struct {
	Format      string // "camt.053", "camt.054", "camt" (before the message is known) or "vnpay settlement", ...
	Line        int    // 1-based line of the input; 0 when empty
	Column      int    // 1-based column; 0 when not known (settlement files)
	Statement   int    // 1-based Stmt/Ntfctn number in the document; 0 outside a statement
	StatementID string // that statement's Id, when already read
	Entry       int    // 1-based Ntry number within the statement; 0 outside an entry
	Err         error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Format)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Column > 0 {
		fmt.Fprintf(&b, ", column %d", e.Column)
	}
	if e.Statement > 0 {
		fmt.Fprintf(&b, ": statement %d", e.Statement)
		if e.StatementID != "" {
			fmt.Fprintf(&b, " (%s)", e.StatementID)
		}
	}
	if e.Entry > 0 {
		fmt.Fprintf(&b, " entry %d", e.Entry)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// formatErr wraps ErrFormat with a message.
func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}
