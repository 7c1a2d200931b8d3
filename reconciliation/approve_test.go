package reconciliation_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/civicpay/civicpay/reconciliation"
	"github.com/civicpay/civicpay/reconciliation/matcher"
)

// TestUploadedCreditWaitsForSecondApprover: a bank credit that would pay an
// order with no paid attempt is applied at once only from the authenticated
// fetch; from an uploaded statement it waits, pays nothing, and is recorded
// only when another treasury key approves it — once, however many approve
// at the same time.
func TestUploadedCreditWaitsForSecondApprover(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	_, ref := f.order(40_000, false)
	f.load(camt053(t, day0, credit(40_000, at(10, 5), "NOP PHI "+ref))) // uploaded by "test"
	run := f.lastRun(reconciliation.SourceBank, day0)
	if run.AutoResolved != 0 || f.rec.count() != 0 {
		t.Fatalf("an uploaded credit paid at once: auto-resolved %d, recorded %d", run.AutoResolved, f.rec.count())
	}
	held, ok := byClass(f.exceptions(run.ID), matcher.MissingHere, "")
	if !ok || held.Exception.Status != reconciliation.ExceptionAwaitingApproval {
		t.Fatalf("credit not held for approval: %+v", held.Exception)
	}
	id := held.Exception.ID

	if _, err := f.svc.ApproveCredit(f.ctx, id, "test", ""); !errors.Is(err, reconciliation.ErrSameApprover) {
		t.Fatalf("the uploader's own approval = %v, want ErrSameApprover", err)
	}
	if f.rec.count() != 0 {
		t.Fatal("a refused approval recorded the payment")
	}

	// Two other treasury keys approve at once: one records it, the other is told.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"treasury:aaaa", "treasury:bbbb"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.ApproveCredit(f.ctx, id, who, "checked against the bank's portal")
		}()
	}
	wg.Wait()
	okCount := 0
	for _, err := range errs {
		switch {
		case err == nil:
			okCount++
		case !errors.Is(err, reconciliation.ErrNotAwaiting):
			t.Fatalf("second approval: %v", err)
		}
	}
	if okCount != 1 || f.rec.count() != 1 {
		t.Fatalf("approvals succeeded %d, payments recorded %d; want 1 and 1", okCount, f.rec.count())
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action = 'reconciliation.credit.approve'`); n != 1 {
		t.Fatalf("%d audit rows for the approval, want 1", n)
	}
	var status string
	if err := f.pool.QueryRow(f.ctx, `SELECT status FROM recon_exceptions WHERE id = $1`, id).Scan(&status); err != nil || status != "resolved" {
		t.Fatalf("exception status %q (%v), want resolved", status, err)
	}
}

// TestFetchedCreditWithoutAuthenticationWaits: a fetched statement counts as
// evidence only when the fetch is authenticated.
func TestFetchedCreditWithoutAuthenticationWaits(t *testing.T) {
	t.Parallel()
	f := newFx(t, func(c *reconciliation.Config) { c.FetchAuthenticated = false })
	_, ref := f.order(40_000, false)
	f.loadFetched(camt053(t, day0, credit(40_000, at(10, 5), "NOP PHI "+ref)))
	run := f.lastRun(reconciliation.SourceBank, day0)
	held, _ := byClass(f.exceptions(run.ID), matcher.MissingHere, "")
	if f.rec.count() != 0 || held.Exception.Status != reconciliation.ExceptionAwaitingApproval {
		t.Fatalf("unauthenticated fetch paid: recorded %d, exception %+v", f.rec.count(), held.Exception)
	}
}

// TestAnApprovalNoteIsKeptAsText: a note of up to 2000 characters is kept
// whole, whatever its bytes; a longer one is refused before anything is
// recorded. On main a Vietnamese note crossing byte 2000 was cut inside a
// character: the payment was recorded (its own transaction), the exception
// update failed (invalid UTF-8), and every retry failed the same way.
func TestAnApprovalNoteIsKeptAsText(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	_, ref := f.order(40_000, false)
	f.load(camt053(t, day0, credit(40_000, at(10, 5), "NOP PHI "+ref)))
	held, ok := byClass(f.exceptions(f.lastRun(reconciliation.SourceBank, day0).ID), matcher.MissingHere, "")
	if !ok || held.Exception.Status != reconciliation.ExceptionAwaitingApproval {
		t.Fatalf("credit not held for approval: %+v", held.Exception)
	}
	id := held.Exception.ID
	if _, err := f.svc.ApproveCredit(f.ctx, id, "treasury:aaaa", strings.Repeat("đ", 2001)); !errors.Is(err, reconciliation.ErrInvalid) || f.rec.count() != 0 {
		t.Fatalf("a note of 2001 characters: %v, %d recorded; want ErrInvalid and nothing recorded", err, f.rec.count())
	}
	note := "a" + strings.Repeat("đ", 1000) // 2001 bytes, 1001 characters
	if _, err := f.svc.ApproveCredit(f.ctx, id, "treasury:aaaa", note); err != nil {
		t.Fatalf("approve with a note of %d bytes: %v", len(note), err)
	}
	var got string
	if err := f.pool.QueryRow(f.ctx, `SELECT note FROM recon_exceptions WHERE id = $1`, id).Scan(&got); err != nil || got != note {
		t.Fatalf("note kept %d bytes (%v), want the %d given", len(got), err, len(note))
	}
}
