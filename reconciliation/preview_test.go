package reconciliation_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// gatewayDay is a VNPAY day with a line of each kind: matched, a fee that
// differs, a success the file lacks, a line nobody here knows.
func gatewayDay(t *testing.T, f *fx) []statement.SettlementLine {
	t.Helper()
	const gw = statement.GatewayVNPAY
	matched := f.paid(gw, 200_000, at(9, 0))
	feeDiff := f.paid(gw, 150_000, at(9, 10))
	f.paid(gw, 90_000, at(9, 30)) // absent from the file
	fd := line(feeDiff)
	fd.Fee, fd.Net = fd.Fee.Add(decimal.NewFromInt(1000)), fd.Net.Sub(decimal.NewFromInt(1000))
	stranger := statement.SettlementLine{GatewayTxnID: "99999999", Reference: "NOBODY0001", Type: statement.TypePayment,
		Gross: decimal.NewFromInt(33_000), Fee: decimal.NewFromInt(fee(gw, 33_000)),
		Net: decimal.NewFromInt(33_000 - fee(gw, 33_000)), Currency: "VND", At: at(11, 0)}
	return []statement.SettlementLine{line(matched), fd, stranger}
}

func classCounts(totals []matcher.Total) map[matcher.Class]int64 {
	out := map[matcher.Class]int64{}
	for _, t := range totals {
		out[t.Class] += t.Count
	}
	return out
}

// TestASettlementFileIsPreviewedBeforeItIsCommitted: a file uploaded for a
// preview is held; its preview says how it would match, and leaves nothing
// behind; committed, it matches as previewed.
func TestASettlementFileIsPreviewedBeforeItIsCommitted(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	data, _ := settlementFile(t, statement.GatewayVNPAY, 1, gatewayDay(t, f)...)
	held, err := f.svc.ImportForPreview(f.ctx, bytes.NewReader(data), rawfile.Meta{Name: "vnpay.csv", Source: rawfile.SourceUpload, ReceivedBy: "treasurer-1"})
	if err != nil {
		t.Fatal(err)
	}
	if held.Status != reconciliation.FileHeld {
		t.Fatalf("file %+v, want held", held)
	}
	if got, err := f.svc.Load(f.ctx, held.ID); err != nil || got.Status != reconciliation.FileHeld {
		t.Fatalf("a held file was loaded: %+v, %v", got, err)
	}
	p, err := f.svc.ComputePreview(f.ctx, held.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[matcher.Class]int64{matcher.Matched: 1, matcher.AmountMismatch: 1, matcher.Unknown: 1, matcher.MissingThere: 1}
	if got := classCounts(p.Classes); !equalCounts(got, want) || p.Refused != "" || p.Rule != reconciliation.RuleStrict ||
		p.Settlement == nil || p.Settlement.Count != 3 || len(p.Exceptions) != 3 || p.MoreExceptions != 0 || p.Replaces != nil {
		t.Fatalf("preview %+v: classes %v, want %v", p, got, want)
	}
	var details []string
	for _, x := range p.Exceptions {
		details = append(details, string(x.Class))
	}
	sort.Strings(details)
	if strings.Join(details, " ") != "amount_mismatch missing_there unknown" {
		t.Errorf("previewed exceptions %v", details)
	}
	// Nothing of the preview stayed behind.
	for _, table := range []string{"recon_settlement_lines", "recon_items", "recon_exceptions", "recon_runs", "recon_settlements"} {
		if n := f.count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("%d rows in %s after a preview", n, table)
		}
	}
	d, err := f.svc.FileDetail(f.ctx, held.ID)
	if err != nil || d.Preview == nil || !equalCounts(classCounts(d.Preview.Classes), want) {
		t.Fatalf("file detail %+v, %v", d, err)
	}

	committed, err := f.svc.Commit(f.ctx, held.ID, "treasurer-2")
	if err != nil || committed.Status != reconciliation.FileReceived {
		t.Fatalf("commit: %+v, %v", committed, err)
	}
	if _, err := f.svc.Commit(f.ctx, held.ID, "treasurer-2"); !errors.Is(err, reconciliation.ErrNotHeld) {
		t.Fatalf("second commit: %v, want ErrNotHeld", err)
	}
	if loaded, err := f.svc.Load(f.ctx, held.ID); err != nil || loaded.Status != reconciliation.FileLoaded {
		t.Fatalf("load after commit: %+v, %v", loaded, err)
	}
	f.runQueued()
	if got := classes(f.lastRun(statement.GatewayVNPAY, day0)); !equalCounts(got, want) {
		t.Errorf("the run matched %v, the preview said %v", got, want)
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action IN ('statement.import', 'statement.commit') AND resource_id = $1`,
		fmt.Sprint(held.ID)); n != 2 {
		t.Errorf("%d audit rows for the import and the commit, want 2", n)
	}
}

// TestASettlementFilesRuleDecidesWhetherATrailerThatDisagreesIsLoaded: the
// strict rule refuses a file whose trailer disagrees with its lines; the
// tolerant rule loads it with its lines' totals (which its run counts on),
// the trailer's beside them, flagged — and says so in its preview first.
func TestASettlementFilesRuleDecidesWhetherATrailerThatDisagreesIsLoaded(t *testing.T) {
	t.Parallel()
	for _, tolerant := range []bool{false, true} {
		t.Run(fmt.Sprint("tolerant=", tolerant), func(t *testing.T) {
			t.Parallel()
			f := newFx(t, func(c *reconciliation.Config) {
				if tolerant {
					c.Tolerant = []string{statement.GatewayVNPAY}
				}
			})
			lines := gatewayDay(t, f)
			good, file := settlementFile(t, statement.GatewayVNPAY, 1, lines...)
			bad := bytes.Replace(good, []byte(fmt.Sprintf("TRAILER,%s,3,", file.FileID)), []byte(fmt.Sprintf("TRAILER,%s,4,", file.FileID)), 1)
			if bytes.Equal(bad, good) {
				t.Fatal("trailer not changed")
			}
			held, err := f.svc.ImportForPreview(f.ctx, bytes.NewReader(bad), rawfile.Meta{Name: "v.csv", Source: rawfile.SourceUpload, ReceivedBy: "t"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.svc.ComputePreview(f.ctx, held.ID)
			if err != nil {
				t.Fatal(err)
			}
			const diff = "count: trailer 4, lines 3 (difference 1)"
			if !tolerant {
				if !strings.Contains(p.Refused, diff) || p.Classes != nil {
					t.Fatalf("strict preview %+v, want refused naming %q", p, diff)
				}
			} else if p.Refused != "" || len(p.Findings) != 1 || p.Findings[0].Code != statement.FindingTrailerMismatch ||
				p.Settlement.Trailer == nil || p.Settlement.Trailer.Count != 4 || p.Settlement.Count != 3 || len(p.Classes) == 0 {
				t.Fatalf("tolerant preview %+v", p)
			}
			if _, err := f.svc.Commit(f.ctx, held.ID, "t"); err != nil {
				t.Fatal(err)
			}
			loaded, err := f.svc.Load(f.ctx, held.ID)
			if err != nil {
				t.Fatal(err)
			}
			f.runQueued()
			if !tolerant {
				if loaded.Status != reconciliation.FileRefused || !strings.Contains(loaded.Error, diff) {
					t.Fatalf("strict: %+v", loaded)
				}
				return
			}
			s := loaded.Settlement
			if loaded.Status != reconciliation.FileLoaded || loaded.Rule != reconciliation.RuleTolerant ||
				strings.Join(loaded.Flags, ",") != statement.FindingTrailerMismatch || s == nil || s.Count != 3 ||
				!s.Net.Equal(file.Net) || s.Trailer == nil || s.Trailer.Count != 4 || !s.Trailer.Net.Equal(file.Net) ||
				len(loaded.Findings) != 1 || !strings.Contains(loaded.Findings[0].Detail, diff) {
				t.Fatalf("tolerant: %+v (settlement %+v)", loaded, s)
			}
			run := f.lastRun(statement.GatewayVNPAY, day0)
			if got := classes(run); !equalCounts(got, classCounts(p.Classes)) || run.LinesTotal != 4 { // 3 lines and the absent success
				t.Errorf("run %+v: %v, preview %v", run, got, classCounts(p.Classes))
			}
		})
	}
}

// TestAPreviewSaysWhichRevisionItWouldBe: a revision already loaded, or
// older than the day's latest, would not load or not be used; a later one
// would replace the latest.
func TestAPreviewSaysWhichRevisionItWouldBe(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	lines := gatewayDay(t, f)
	r2, _ := settlementFile(t, statement.GatewayVNPAY, 2, lines...)
	loaded := f.load(r2)
	for _, c := range []struct {
		rev      int
		lines    []statement.SettlementLine
		refused  string
		replaces bool
	}{
		{1, lines, "revision 2 of vnpay 2026-11-23 is loaded", false},
		{2, lines[:2], "revision 2 is already loaded from file", false},
		{3, lines[:2], "", true},
	} {
		data, _ := settlementFile(t, statement.GatewayVNPAY, c.rev, c.lines...)
		held, err := f.svc.ImportForPreview(f.ctx, bytes.NewReader(data), rawfile.Meta{Name: "v.csv", Source: rawfile.SourceUpload, ReceivedBy: "t"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.ComputePreview(f.ctx, held.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Refused, c.refused) || (c.refused == "") != (p.Refused == "") ||
			(p.Replaces != nil) != c.replaces || (c.replaces && *p.Replaces != loaded.ID) {
			t.Errorf("revision %d: preview %+v, want refused %q, replaces %t", c.rev, p, c.refused, c.replaces)
		}
	}
}

// TestPreviewAndCommitThroughTheAPI: the held file, its preview and its
// commit as the API shows them (held against the OpenAPI document).
func TestPreviewAndCommitThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := apptest.New(t, func(c *config.Config) { c.Recon.Cutoff = "off" })
	data, _ := settlementFile(t, statement.GatewayMoMo, 1)
	r := e.Do(t, "POST", "/v1/statements?preview=true", e.Treasury, data, "Content-Type", "text/csv")
	if r.Status != http.StatusAccepted {
		t.Fatalf("upload for preview: %d %s", r.Status, r.Body)
	}
	var f reconciliation.FileDetail
	r.JSON(t, &f)
	if f.Status != reconciliation.FileHeld {
		t.Fatalf("file %+v", f)
	}
	id := f.ID
	eventually(t, "the preview", func() bool {
		f = reconciliation.FileDetail{}
		e.Do(t, "GET", fmt.Sprintf("/v1/statements/%d", id), e.Treasury, nil).JSON(t, &f)
		return f.Preview != nil
	})
	if f.Status != reconciliation.FileHeld || f.Preview.Settlement == nil || f.Preview.Settlement.Count != 0 || f.Preview.Refused != "" {
		t.Fatalf("previewed file %+v (preview %+v)", f, f.Preview)
	}
	if r := e.Do(t, "POST", fmt.Sprintf("/v1/statements/%d/commit", f.ID), e.Admin, nil); r.Status != http.StatusForbidden {
		t.Errorf("admin commits: %d", r.Status)
	}
	if r := e.Do(t, "POST", fmt.Sprintf("/v1/statements/%d/commit", f.ID), e.Treasury, nil); r.Status != http.StatusOK {
		t.Fatalf("commit: %d %s", r.Status, r.Body)
	}
	if got := fileStatus(t, e, f.ID); got.Status != reconciliation.FileLoaded {
		t.Fatalf("committed file %+v", got)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", fmt.Sprintf("/v1/statements/%d/commit", f.ID), http.StatusConflict},
		{"POST", "/v1/statements/999/commit", http.StatusNotFound},
		{"POST", "/v1/statements?preview=maybe", http.StatusUnprocessableEntity},
	} {
		if r := e.Do(t, c.method, c.path, e.Treasury, "x"); r.Status != c.want {
			t.Errorf("%s %s = %d %s, want %d", c.method, c.path, r.Status, r.Body, c.want)
		}
	}
}
