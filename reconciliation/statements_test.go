package reconciliation_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// bankSample is one of the statement package's bank files, written after
// banks' published samples.
func bankSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("statement", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// laterReport is the intraday sample as the bank sends it again at 15:00,
// 1,000,000 VND more in.
func laterReport(t *testing.T) []byte {
	t.Helper()
	return []byte(strings.NewReplacer(
		"VCB052-0071001234567-20261123-1200", "VCB052-0071001234567-20261123-1500",
		"VCB-RPT-0071001234567-20261123-12", "VCB-RPT-0071001234567-20261123-15",
		"<DtTm>2026-11-23T12:00:00+07:00</DtTm>", "<DtTm>2026-11-23T15:00:00+07:00</DtTm>",
		"<ToDtTm>2026-11-23T12:00:00+07:00</ToDtTm>", "<ToDtTm>2026-11-23T15:00:00+07:00</ToDtTm>",
		">17738050<", ">18738050<",
	).Replace(string(bankSample(t, "camt052_intraday.xml"))))
}

// TestTheSourcesRuleDecidesWhetherAStatementThatDoesNotAddUpIsLoaded: the
// bank's statement whose closing balance leaves out an entry valued the next
// day is refused under the strict rule (the default, and for the bank when
// only a gateway is tolerant) and loaded, flagged, with the unexplained
// difference, when the bank is tolerant.
func TestTheSourcesRuleDecidesWhetherAStatementThatDoesNotAddUpIsLoaded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		tolerant []string
		loaded   bool
	}{
		{"strict by default", nil, false},
		{"another source tolerant", []string{"momo"}, false},
		{"the bank tolerant", []string{"bank"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFx(t, func(c *reconciliation.Config) { c.Tolerant = tt.tolerant })
			file := f.load(bankSample(t, "camt053_tolerant.xml"))
			if !tt.loaded {
				if file.Status != reconciliation.FileRefused || !strings.Contains(file.Error,
					"difference 7500000 VND; 1 entry is valued after the closing balance's date 2026-11-23, booked for 7500000 VND, which is the difference") {
					t.Fatalf("file %+v, want refused naming the difference and the entry valued after the closing date", file)
				}
				if n := f.count(`SELECT count(*) FROM recon_bank_statements`); n != 0 {
					t.Fatalf("%d statements staged from a refused file", n)
				}
				return
			}
			want := []string{"value_after_closing", "booked_outside_period", "unbalanced", "balance_missing", "summary_mismatch"}
			if file.Status != reconciliation.FileLoaded || file.Rule != reconciliation.RuleTolerant || !slices.Equal(file.Flags, want) {
				t.Fatalf("file %+v, want loaded under the tolerant rule with flags %v", file, want)
			}
			d, err := f.svc.FileDetail(f.ctx, file.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Statements) != 2 {
				t.Fatalf("%d statements", len(d.Statements))
			}
			s1, s2 := d.Statements[0], d.Statements[1]
			if !s1.Unbalanced || s1.Difference.String() != "7500000" || s1.Opening == nil || s1.Opening.Amount.String() != "500000000" ||
				s1.Closing == nil || s1.Closing.Amount.String() != "602000000" || s1.Summary == nil || *s1.Summary.Entries.Count != 4 ||
				s1.PeriodTo == nil || !s1.PeriodTo.Equal(day0.Add(24*time.Hour-time.Second)) || s1.ElectronicSeq != "327" {
				t.Errorf("statement 1 %+v", s1)
			}
			var late statement.Finding
			for _, fd := range s1.Findings {
				if fd.Code == statement.FindingValueAfterClosing {
					late = fd
				}
			}
			if late.Count != 1 || !slices.Equal(late.Entries, []int{3}) {
				t.Errorf("value_after_closing finding %+v, want entry 3", late)
			}
			if s2.Unbalanced || s2.Closing != nil || len(s2.Findings) != 2 || s2.Findings[0].Code != statement.FindingBalanceMissing ||
				!strings.Contains(s2.Findings[0].Detail, "no closing booked balance (CLBD)") {
				t.Errorf("statement 2 %+v", s2)
			}
			// The booked entries are reconciled on their booking days.
			if n := f.count(`SELECT count(*) FROM recon_runs WHERE source = 'bank' AND business_date IN ('2026-11-22', '2026-11-23')`); n != 2 {
				t.Errorf("%d bank runs, want one for each booking day", n)
			}
		})
	}
}

// TestAnIntradayReportIsThePositionNotADayToReconcile: a camt.052 is loaded
// as the day's live position — the latest report per account — and feeds no
// run.
func TestAnIntradayReportIsThePositionNotADayToReconcile(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	noon := f.load(bankSample(t, "camt052_intraday.xml"))
	if noon.Status != reconciliation.FileLoaded || noon.Kind != statement.KindCAMT052 {
		t.Fatalf("file %+v", noon)
	}
	if n := f.count(`SELECT count(*) FROM recon_runs`) + f.count(`SELECT count(*) FROM recon_bank_entries`); n != 0 {
		t.Fatalf("%d runs and reconciled entries from an intraday report", n)
	}
	position := func(day time.Time) string {
		t.Helper()
		list, err := f.svc.IntradayPositions(f.ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range list {
			out = append(out, fmt.Sprintf("%s %s %s open=%s balance=%s n=%d cr=%s dr=%s file=%t", p.Account, p.Currency,
				p.AsOf.Format(time.RFC3339), p.Opening, p.Balance, p.Entries, p.BookedCredits, p.BookedDebits, p.FileID > 0))
		}
		return strings.Join(out, "; ")
	}
	if got, want := position(day0), "0071001234567 VND 2026-11-23T12:00:00+07:00 open=12738050 balance=17738050 n=3 cr=5000000 dr=0 file=true"; got != want {
		t.Errorf("position at noon\n got %s\nwant %s", got, want)
	}
	f.load(laterReport(t))
	if got, want := position(day0), "0071001234567 VND 2026-11-23T15:00:00+07:00 open=12738050 balance=18738050 n=3 cr=5000000 dr=0 file=true"; got != want {
		t.Errorf("position after the 15:00 report\n got %s\nwant %s", got, want)
	}
	if got := position(day0.AddDate(0, 0, 1)); got != "" {
		t.Errorf("position of the next day: %s", got)
	}
	entries, err := f.svc.FileEntries(f.ctx, noon.ID, reconciliation.EntryFilter{Limit: 10})
	if err != nil || len(entries) != 3 || entries[1].PaymentRef != "RF18539007547034" || entries[2].Status != statement.StatusPending {
		t.Fatalf("report entries %+v, %v", entries, err)
	}
}

// TestAFilesEntriesKeepWhatTheBankSaid pages through a statement's entries
// with their details, and keeps the flagged ones.
func TestAFilesEntriesKeepWhatTheBankSaid(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	file := f.load(bankSample(t, "camt053_returns.xml"))
	if file.Status != reconciliation.FileLoaded || file.Rule != reconciliation.RuleStrict {
		t.Fatalf("file %+v", file)
	}
	var all []reconciliation.BankEntry
	filter := reconciliation.EntryFilter{Limit: 4}
	for {
		page, err := f.svc.FileEntries(f.ctx, file.ID, filter)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < filter.Limit {
			break
		}
		filter.After = reconciliation.EntryCursor(page[len(page)-1])
	}
	if len(all) != 6 {
		t.Fatalf("%d entries, want 6", len(all))
	}
	ret := all[0]
	if ret.Details == nil || len(ret.Details.TxDetails) != 1 || ret.ValueAt == nil || !ret.ValueAt.Equal(day0) {
		t.Fatalf("returned payment %+v", ret)
	}
	tx := ret.Details.TxDetails[0]
	if ret.Details.BankTxCode.SubFamily != "RRTN" || tx.Return.Reason != "AC04" || tx.UETR != "eb6305c9-1f7f-49de-aed0-16487c27b42d" ||
		tx.AmountDetails.Instructed.String() != "100" || tx.AmountDetails.ExchangeRate.String() != "25430.5" ||
		tx.Parties.Creditor != "ACME GMBH" || ret.Details.Charges.Records[0].Bearer != "SHAR" {
		t.Errorf("returned payment's details %+v", ret.Details)
	}
	if fee := all[2]; fee.Details == nil || fee.Details.Charges.Total.String() != "55000" || len(fee.Details.Charges.Records) != 2 {
		t.Errorf("charges entry %+v", fee)
	}
	flagged, err := f.svc.FileEntries(f.ctx, file.ID, reconciliation.EntryFilter{Flagged: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, e := range flagged {
		seqs = append(seqs, fmt.Sprint(e.Seq, e.Flags))
	}
	if want := []string{"4 [value_after_closing]", "5 [value_after_closing]", "6 [direction_disagrees]"}; !slices.Equal(seqs, want) {
		t.Errorf("flagged entries %v, want %v", seqs, want)
	}
	stl, _ := settlementFile(t, "momo", 1)
	settlement := f.load(stl)
	if _, err := f.svc.FileEntries(f.ctx, settlement.ID, reconciliation.EntryFilter{Limit: 1}); !errors.Is(err, reconciliation.ErrInvalid) {
		t.Errorf("entries of a settlement file: %v, want ErrInvalid", err)
	}
}

// TestTheStatementAPIShowsWhatTheLoadFound drives the API (each response
// held against the OpenAPI document).
func TestTheStatementAPIShowsWhatTheLoadFound(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Recon.Cutoff, c.Recon.Tolerant = "off", []string{"bank"} })
	upload := func(body []byte) int64 {
		t.Helper()
		var f reconciliation.File
		r := e.Do(t, "POST", "/v1/statements", e.Treasury, body, "Content-Type", "application/xml")
		if r.Status != http.StatusAccepted {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &f)
		return fileStatus(t, e, f.ID).ID
	}
	id := upload(bankSample(t, "camt053_tolerant.xml"))
	var d reconciliation.FileDetail
	e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d", id), e.Treasury, nil).JSON(t, &d)
	if d.Status != reconciliation.FileLoaded || d.Rule != reconciliation.RuleTolerant || len(d.Statements) != 2 ||
		!d.Statements[0].Unbalanced || d.Statements[0].Difference.String() != "7500000" || len(d.Flags) != 5 {
		t.Fatalf("statement file %+v", d)
	}
	type entryPage struct {
		Items      []reconciliation.BankEntry `json:"items"`
		NextCursor string                     `json:"next_cursor"`
	}
	var page entryPage
	e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d/entries?flagged=true", id), e.Treasury, nil).JSON(t, &page)
	if len(page.Items) != 2 || page.Items[0].Seq != 3 || page.Items[1].Seq != 4 || page.NextCursor != "" {
		t.Fatalf("flagged entries %+v", page)
	}
	page = entryPage{}
	e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d/entries?limit=2", id), e.Treasury, nil).JSON(t, &page)
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page %+v", page)
	}
	cursor := page.NextCursor
	page = entryPage{}
	e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d/entries?limit=3&cursor=%s", id, cursor), e.Treasury, nil).JSON(t, &page)
	if len(page.Items) != 3 || page.Items[0].Seq != 3 || page.Items[2].StatementSeq != 2 || page.NextCursor != "" {
		t.Fatalf("second page %+v", page)
	}
	upload(bankSample(t, "camt052_intraday.xml"))
	var positions struct {
		Date      string                    `json:"date"`
		Positions []reconciliation.Position `json:"positions"`
	}
	e.Do(t, "GET", "/v1/reconciliation/positions?date=2026-11-23", e.Treasury, nil).JSON(t, &positions)
	if len(positions.Positions) != 1 || positions.Positions[0].Balance.String() != "17738050" {
		t.Fatalf("positions %+v", positions)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{fmt.Sprintf("/v1/statements/%d/entries?flagged=yes", id), http.StatusUnprocessableEntity},
		{"/v1/statements/999/entries", http.StatusNotFound},
		{"/v1/reconciliation/positions", http.StatusUnprocessableEntity},
		{"/v1/reconciliation/positions?date=2026-11-24", http.StatusOK},
	} {
		if r := e.Do(t, "GET", c.path, e.Treasury, nil); r.Status != c.want {
			t.Errorf("GET %s = %d %s, want %d", c.path, r.Status, r.Body, c.want)
		}
	}
	if r := e.Do(t, "GET", "/v1/reconciliation/positions?date=2026-11-23", e.Portal, nil); r.Status != http.StatusForbidden {
		t.Errorf("portal reads positions: %d", r.Status)
	}
}
