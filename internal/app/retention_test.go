package app_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/civicpay/civicpay/internal/app"
	"github.com/civicpay/civicpay/internal/testkit/apptest"
)

// TestRetentionJobPrunesRawFiles: the retention job, run by River, deletes
// the bytes of a settlement file received more than CIVICPAY_RETAIN_RAW_FILES_YEARS
// ago; the API then answers its raw download with a 410 problem and still
// shows its record, marked pruned.
func TestRetentionJobPrunesRawFiles(t *testing.T) {
	t.Parallel()
	e := apptest.New(t)
	r := e.Do(t, "POST", "/v1/statements", e.Treasury, settlementFile(t), "X-Filename", "old.csv")
	if r.Status != http.StatusCreated && r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var file struct{ ID int64 }
	r.JSON(t, &file)
	id := strconv.FormatInt(file.ID, 10)
	if r := e.Do(t, "GET", "/v1/statements/"+id+"/raw", e.Treasury, nil); r.Status != http.StatusOK {
		t.Fatalf("raw before pruning: %d", r.Status)
	}
	// The upload's load runs in a job that holds the file's row; the pruner
	// skips locked rows (it comes back next hour), so wait for the load.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var f struct{ Status string }
		e.Do(t, "GET", "/v1/statements/"+id, e.Treasury, nil).JSON(t, &f)
		if f.Status == "loaded" || f.Status == "refused" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file still %s after 60 s", f.Status)
		}
	}
	ctx := context.Background()
	if _, err := e.Pool.Exec(ctx, `UPDATE recon_files SET received_at = now() - interval '11 years' WHERE id = $1`, file.ID); err != nil {
		t.Fatal(err)
	}
	// A pass skips a file another transaction holds (a reconciliation run
	// reading it): it is pruned by the next pass, so ask again until it is.
	deadline, next := time.Now().Add(60*time.Second), time.Time{}
	for ; ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(next) {
			if _, err := e.App.River.Insert(ctx, app.RetentionArgs{}, nil); err != nil {
				t.Fatal(err)
			}
			next = time.Now().Add(2 * time.Second)
		}
		r := e.Do(t, "GET", "/v1/statements/"+id+"/raw", e.Treasury, nil)
		if r.Status == http.StatusGone {
			break
		}
		if time.Now().After(deadline) {
			var state, errs string
			_ = e.Pool.QueryRow(ctx, `SELECT state, coalesce(errors::text, '') FROM river_job WHERE kind = 'retention.prune'
				ORDER BY id DESC LIMIT 1`).Scan(&state, &errs)
			t.Fatalf("raw file still %d after 60 s; the retention job is %s %s", r.Status, state, errs)
		}
	}
	var got struct {
		PrunedAt *time.Time `json:"pruned_at"`
	}
	if r := e.Do(t, "GET", "/v1/statements/"+id, e.Treasury, nil); r.Status != http.StatusOK {
		t.Fatalf("file record after pruning: %d", r.Status)
	} else if r.JSON(t, &got); got.PrunedAt == nil {
		t.Error("the file's record does not say it was pruned")
	}
}
