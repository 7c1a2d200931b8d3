// Package staging loads parsed statement files into PostgreSQL's staging
// tables with COPY, as the parsers read them: a settlement file's lines into
// recon_settlement_lines, an ISO 20022 file's statements and entries into
// recon_bank_statements and recon_bank_entries (a camt.052 intraday
// report's entries into recon_intraday_entries, which no run reads).
//
// The parser runs in its own goroutine and hands rows to COPY in batches
// through a small channel, so a file of any size is loaded with a bounded
// amount of memory and parsing overlaps with the database's work. Everything
// is written in the caller's transaction: a file that turns out to be bad at
// its end (a settlement trailer that disagrees, a camt.053 that does not
// balance) fails the load and the caller rolls back all of it.
package staging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/civicpay/civicpay/reconciliation/statement"
)

// Progress is told how many rows have been staged so far. It is called from
// the goroutine that runs COPY, every ProgressEvery rows and at the end.
type Progress func(rows int64)

// ProgressEvery is how many rows pass between two Progress calls.
const ProgressEvery = 50_000

// batchRows is the number of rows handed from the parser to COPY at once;
// channelBatches bounds how many batches wait in between.
const (
	batchRows      = 1024
	channelBatches = 4
)

var settlementColumns = []string{"file_id", "line", "gateway_txn_id", "reference", "type", "gross", "fee", "net", "currency", "at",
	"repeat_candidate"}

// LoadSettlement parses gateway's settlement file from r under the strict
// rule and stages its lines for fileID. It returns what the file says about
// itself (the trailer, which the parser has checked against the lines).
func LoadSettlement(ctx context.Context, tx pgx.Tx, fileID int64, gateway string, r io.Reader, progress Progress) (statement.SettlementFile, error) {
	return LoadSettlementWith(ctx, tx, fileID, gateway, r, statement.SettlementOptions{}, progress)
}

// LoadSettlementWith is LoadSettlement under the options: the tolerant rule
// stages a file whose trailer disagrees with its lines (its totals are then
// the lines', the trailer's in file.Trailer).
func LoadSettlementWith(ctx context.Context, tx pgx.Tx, fileID int64, gateway string, r io.Reader, opt statement.SettlementOptions,
	progress Progress) (statement.SettlementFile, error) {
	var file statement.SettlementFile
	n, err := copyBinary(ctx, tx, "recon_settlement_lines", settlementColumns, progress, func(emit func(row []byte) error) error {
		var err error
		var row []byte
		seen := newIDFilter()
		file, err = opt.ParseSettlementRows(gateway, r, func(l *statement.SettlementRow) error {
			row = appendInt16(row[:0], int16(len(settlementColumns)))
			row = appendInt8Field(row, fileID)
			row = appendInt4Field(row, int32(l.Line))
			row = appendTextField(row, l.GatewayTxnID)
			row = appendTextField(row, l.Reference)
			row = appendTextField(row, l.Type)
			row = appendNumericField(row, l.GrossUnits, l.Scale)
			row = appendNumericField(row, l.FeeUnits, l.Scale)
			row = appendNumericField(row, l.NetUnits, l.Scale)
			row = appendTextField(row, l.Currency)
			row = appendTimestamptzField(row, l.At)
			row = appendBoolField(row, seen.addSeen(l.GatewayTxnID))
			return emit(row)
		})
		return err
	})
	if err != nil {
		return statement.SettlementFile{}, fmt.Errorf("staging: settlement file %d: %w", fileID, err)
	}
	if n != int64(file.Count) { // cannot happen: every line the parser counts is emitted
		return statement.SettlementFile{}, fmt.Errorf("staging: settlement file %d: %d rows staged for %d lines", fileID, n, file.Count)
	}
	return file, nil
}

// copyBinary runs produce in its own goroutine and streams the rows it emits
// (each a binary COPY tuple) into table as they come, through a buffer of
// copyBufferBytes: the file is never held whole, and parsing overlaps with
// the database's work. It returns the number of rows copied. An error from
// produce (the parser's) aborts the COPY and is returned; an error from COPY
// stops produce.
func copyBinary(ctx context.Context, tx pgx.Tx, table string, columns []string, progress Progress,
	produce func(emit func(row []byte) error) error) (int64, error) {
	pipe := newBufPipe()
	done := make(chan error, 1)
	var rows int64
	go func() {
		err := pipe.write(copyBinaryHeader)
		if err == nil {
			err = produce(func(row []byte) error {
				if err := pipe.write(row); err != nil {
					return err
				}
				if rows++; progress != nil && rows%ProgressEvery == 0 {
					progress(rows)
				}
				return nil
			})
		}
		if err == nil {
			err = pipe.write(copyBinaryTrailer)
		}
		pipe.close(err)
		done <- err
	}()
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	_, err := tx.Conn().PgConn().CopyFrom(ctx, pipe,
		"COPY "+pgx.Identifier{table}.Sanitize()+" ("+strings.Join(cols, ", ")+") FROM STDIN (FORMAT binary)")
	pipe.stopWriting() // a producer still writing stops
	perr := <-done
	if perr != nil && !errors.Is(perr, errStopped) {
		return rows, perr
	}
	if err != nil {
		return rows, fmt.Errorf("copy into %s: %w", table, err)
	}
	if progress != nil {
		progress(rows)
	}
	return rows, nil
}

// copyBufferBytes is how much of the COPY stream is gathered before it is
// handed to the connection; copyBuffers how many such buffers may wait for
// it, so that the parser goes on while the connection sends.
const (
	copyBufferBytes = 256 << 10
	copyBuffers     = 4
)

// bufPipe hands the COPY stream from the producer to the connection in
// buffers of copyBufferBytes through a channel: unlike io.Pipe, a write does
// not wait for the reader unless copyBuffers buffers are already waiting.
type bufPipe struct {
	full     chan []byte
	free     chan []byte
	stop     chan struct{}
	stopOnce sync.Once
	buf      []byte // being filled (writer)
	cur      []byte // being read (reader)
	curBuf   []byte
	werr     error // the writer's error, set before full is closed
}

func newBufPipe() *bufPipe {
	return &bufPipe{full: make(chan []byte, copyBuffers), free: make(chan []byte, copyBuffers+1),
		stop: make(chan struct{}), buf: make([]byte, 0, copyBufferBytes)}
}

// write appends b to the stream; errStopped once the reader has stopped.
func (p *bufPipe) write(b []byte) error {
	p.buf = append(p.buf, b...)
	if len(p.buf) < copyBufferBytes {
		return nil
	}
	return p.send()
}

func (p *bufPipe) send() error {
	select {
	case p.full <- p.buf:
	case <-p.stop:
		return errStopped
	}
	select {
	case b := <-p.free:
		p.buf = b[:0]
	default:
		p.buf = make([]byte, 0, copyBufferBytes)
	}
	return nil
}

// close ends the stream: with err, the reader fails with it (COPY is
// aborted); without, what is left is sent and the reader sees io.EOF.
func (p *bufPipe) close(err error) {
	if err == nil && len(p.buf) > 0 {
		err = p.send()
	}
	p.werr = err
	close(p.full)
}

// stopWriting makes a write still waiting, and every later one, return
// errStopped.
func (p *bufPipe) stopWriting() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *bufPipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.curBuf != nil {
			select {
			case p.free <- p.curBuf:
			default:
			}
			p.curBuf = nil
		}
		next, ok := <-p.full
		if !ok {
			if p.werr != nil {
				return 0, p.werr
			}
			return 0, io.EOF
		}
		p.cur, p.curBuf = next, next
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

var entryColumns = []string{"file_id", "stmt_seq", "entry_seq", "entry_key", "account", "amount", "currency", "credit",
	"reversal", "status", "booking_date", "booked_at", "acct_svcr_ref", "end_to_end_id", "remittance",
	"settlement_file_id", "payment_ref", "value_at", "flags", "details"}

// BankDay is a business day with booked entries in a loaded bank file.
type BankDay struct {
	Date    time.Time // midnight ICT
	Entries int64
}

// BankFile is what LoadCAMT staged.
type BankFile struct {
	Statements []statement.Statement
	Entries    int64
	// Days are the booking days of its booked entries, in order; none for an
	// intraday report, which is not reconciled.
	Days []BankDay
}

// BankOptions say how LoadCAMT reads a bank file.
type BankOptions struct {
	// Kind is the file's kind as detected: a camt.052 report is staged as an
	// intraday position, and a document whose messages are of another kind
	// than detected is refused.
	Kind statement.Kind
	// Tolerant loads statements whose balances or TxsSummry do not add up,
	// flagged (statement.CAMTOptions); strict refuses them.
	Tolerant bool
	// ValidRef tells a payment reference (payments/reference.Valid): the one
	// found in an entry's free text is stored with it, as is a settlement
	// file id. Nil looks for none.
	ValidRef func(string) bool
}

// LoadCAMT parses a camt.053, camt.052 or camt.054 document from r and stages
// its statements and entries for fileID.
func LoadCAMT(ctx context.Context, tx pgx.Tx, fileID int64, r io.Reader, opt BankOptions, progress Progress) (BankFile, error) {
	var out BankFile
	days := map[time.Time]int64{}
	keys := entryKeys{}
	intraday := opt.Kind == statement.KindCAMT052
	table := "recon_bank_entries"
	if intraday {
		table = "recon_intraday_entries"
	}
	n, err := copyRows(ctx, tx, table, entryColumns, progress, func(emit func([]any) error) error {
		var err error
		parse := statement.CAMTOptions{Tolerant: opt.Tolerant}
		out.Statements, err = parse.ParseCAMT(r, func(s statement.Statement, e statement.Entry) error {
			if (s.Kind == statement.KindCAMT052) != intraday {
				return fmt.Errorf("%w: the file was taken for a %s and holds a %s", statement.ErrFormat, opt.Kind, s.Kind)
			}
			row, err := entryRow(fileID, s, e, keys, opt.ValidRef)
			if err != nil {
				return err
			}
			if e.Booked() && !e.BookingDate.IsZero() && !intraday {
				days[day(e.BookingDate)]++
			}
			return emit(row)
		})
		return err
	})
	if err != nil {
		return BankFile{}, fmt.Errorf("staging: bank file %d: %w", fileID, err)
	}
	for _, st := range out.Statements { // a report without entries was not seen by the callback
		if (st.Kind == statement.KindCAMT052) != intraday {
			return BankFile{}, fmt.Errorf("staging: bank file %d: %w", fileID, &statement.ParseError{Format: string(st.Kind),
				Statement: st.Seq, StatementID: st.StatementID,
				Err: fmt.Errorf("%w: the file was taken for a %s and holds a %s", statement.ErrFormat, opt.Kind, st.Kind)})
		}
	}
	out.Entries = n
	for d, c := range days {
		out.Days = append(out.Days, BankDay{Date: d, Entries: c})
	}
	sortDays(out.Days)
	if err := insertStatements(ctx, tx, fileID, out.Statements); err != nil {
		return BankFile{}, err
	}
	return out, nil
}

var statementColumns = []string{"file_id", "seq", "kind", "version", "message_id", "statement_id", "account", "currency",
	"opening", "closing", "entries", "booked_credits", "booked_debits", "electronic_seq", "created_at", "period_from",
	"period_to", "opening_type", "opening_date", "closing_date", "interim", "interim_at", "summary", "unbalanced",
	"difference", "findings"}

func insertStatements(ctx context.Context, tx pgx.Tx, fileID int64, stmts []statement.Statement) error {
	rows := make([][]any, 0, len(stmts))
	for _, s := range stmts {
		var opening, closing, openingType, openingDate, closingDate, interim, interimAt, summary any
		if s.Opening != nil {
			opening, openingType, openingDate = s.Opening.Amount, s.Opening.Type, optTime(s.Opening.Date)
		}
		if s.Closing != nil {
			closing, closingDate = s.Closing.Amount, optTime(s.Closing.Date)
		}
		if s.Interim != nil {
			interim, interimAt = s.Interim.Amount, optTime(s.Interim.Date)
		}
		if s.Summary != nil {
			b, err := json.Marshal(s.Summary)
			if err != nil {
				return fmt.Errorf("staging: bank file %d: statement %d summary: %w", fileID, s.Seq, err)
			}
			summary = b
		}
		findings := []statement.Finding{}
		if s.Findings != nil {
			findings = s.Findings
		}
		fb, err := json.Marshal(findings)
		if err != nil {
			return fmt.Errorf("staging: bank file %d: statement %d findings: %w", fileID, s.Seq, err)
		}
		rows = append(rows, []any{fileID, int32(s.Seq), string(s.Kind), s.Version, s.MessageID, s.StatementID, s.Account,
			s.Currency, opening, closing, int32(s.Entries), s.BookedCredits, s.BookedDebits, s.ElectronicSeq,
			optTime(s.Created), optTime(s.From), optTime(s.To), openingType, openingDate, closingDate, interim, interimAt,
			summary, s.Unbalanced, s.Difference, fb})
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"recon_bank_statements"}, statementColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("staging: bank file %d: statements: %w", fileID, err)
	}
	return nil
}

// optTime is t, or NULL when it is zero.
func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// maxRemittance bounds the free text kept with an entry.
const maxRemittance = 1000

func entryRow(fileID int64, s statement.Statement, e statement.Entry, keys entryKeys, validRef func(string) bool) ([]any, error) {
	texts := e.Texts()
	var fileRef, payRef any
	if id, ok := statement.FindSettlementFileID(texts); ok {
		fileRef = id.String()
	} else if validRef == nil {
		// no payment references looked for
	} else if ref, ok := statement.FindPaymentReference(texts, validRef); ok {
		payRef = ref
	}
	var bookingDate, bookedAt, flags, details any
	if !e.BookingDate.IsZero() {
		bookingDate, bookedAt = day(e.BookingDate), e.BookingDate
	}
	if len(e.Flags) > 0 {
		flags = e.Flags
	}
	if d := e.Details(); !d.IsZero() {
		b, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("entry %d details: %w", e.Seq, err)
		}
		details = b
	}
	return []any{fileID, int32(s.Seq), int32(e.Seq), keys.key(s, e), s.Account, e.Amount, e.Currency, e.Credit,
		e.Reversal, e.Status, bookingDate, bookedAt, e.AcctSvcrRef, e.EndToEndID,
		clipText(strings.Join(texts, " | "), maxRemittance), fileRef, payRef, optTime(e.ValueDate), flags, details}, nil
}

// entryKeys gives each entry its identity across files: the bank's own
// reference (AcctSvcrRef) when it has one, which is the same in the day's
// camt.054 and in its camt.053. Without one, a digest of what the entry says,
// numbered by occurrence in the file, so that two identical transfers stay
// two and the same pair in another file maps onto them.
type entryKeys map[string]int

func (k entryKeys) key(s statement.Statement, e statement.Entry) string {
	if e.AcctSvcrRef != "" {
		return "ref:" + s.Account + ":" + e.AcctSvcrRef
	}
	h := sha256.New()
	for _, part := range append([]string{s.Account, strconv.FormatBool(e.Credit), strconv.FormatBool(e.Reversal),
		e.Amount.String(), e.Currency, e.BookingDate.Format(time.RFC3339), e.ValueDate.Format(time.RFC3339),
		e.EndToEndID, e.TxID, e.EntryRef}, e.Texts()...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	d := hex.EncodeToString(h.Sum(nil)[:12])
	k[d]++
	return "sum:" + s.Account + ":" + d + ":" + strconv.Itoa(k[d])
}

// copyRows runs produce in its own goroutine and COPYs the rows it emits into
// table. It returns the number of rows copied. An error from produce (the
// parser's) aborts the COPY and is returned; an error from COPY stops produce.
func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, progress Progress,
	produce func(emit func([]any) error) error) (int64, error) {
	src := &streamSource{batches: make(chan [][]any, channelBatches), done: make(chan error, 1),
		stop: make(chan struct{}), progress: progress}
	go src.run(produce)
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
	close(src.stop)
	if perr := src.wait(); perr != nil {
		return n, perr
	}
	if err != nil {
		return n, fmt.Errorf("copy into %s: %w", table, err)
	}
	if progress != nil {
		progress(n)
	}
	return n, nil
}

// errStopped tells the producer that COPY is no longer reading.
var errStopped = errors.New("staging: copy stopped")

// streamSource is the pgx.CopyFromSource side of copyRows.
type streamSource struct {
	batches  chan [][]any
	done     chan error
	stop     chan struct{}
	progress Progress

	cur      [][]any
	i        int
	row      []any
	n        int64
	err      error
	finished bool
	perr     error
}

// run is the producer goroutine.
func (s *streamSource) run(produce func(emit func([]any) error) error) {
	batch := make([][]any, 0, batchRows)
	send := func() error {
		select {
		case s.batches <- batch:
			batch = make([][]any, 0, batchRows)
			return nil
		case <-s.stop:
			return errStopped
		}
	}
	err := produce(func(row []any) error {
		batch = append(batch, row)
		if len(batch) < batchRows {
			return nil
		}
		return send()
	})
	if err == nil && len(batch) > 0 {
		err = send()
	}
	close(s.batches)
	s.done <- err
}

func (s *streamSource) Next() bool {
	for s.i >= len(s.cur) {
		b, ok := <-s.batches
		if !ok {
			s.finish()
			return false
		}
		s.cur, s.i = b, 0
	}
	s.row = s.cur[s.i]
	s.cur[s.i] = nil
	s.i++
	if s.n++; s.progress != nil && s.n%ProgressEvery == 0 {
		s.progress(s.n)
	}
	return true
}

// finish collects the producer's result once the channel is closed.
func (s *streamSource) finish() {
	if s.finished {
		return
	}
	s.finished = true
	s.perr = <-s.done
	s.err = s.perr
}

func (s *streamSource) Values() ([]any, error) { return s.row, nil }

func (s *streamSource) Err() error { return s.err }

// wait returns the producer's error (after COPY has returned and stop is
// closed, the producer ends promptly). errStopped is not an error of its own:
// COPY's error says why it stopped.
func (s *streamSource) wait() error {
	if !s.finished {
		for range s.batches { //nolint:revive // drain so the producer can finish
		}
		s.finish()
	}
	if errors.Is(s.perr, errStopped) {
		return nil
	}
	return s.perr
}

func day(t time.Time) time.Time {
	y, m, d := t.In(statement.ICT).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, statement.ICT)
}

func sortDays(ds []BankDay) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Date.Before(ds[j-1].Date); j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
