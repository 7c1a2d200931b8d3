package reconciliation

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/civicpay/civicpay/internal/domain/audit"
	"github.com/civicpay/civicpay/internal/foundation/problem"
	"github.com/civicpay/civicpay/internal/testkit/pgtest"
	"github.com/civicpay/civicpay/reconciliation/rawfile"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// FuzzUploadedFile: whatever the content type and body, finding the file
// in an upload ends in the body, a part of it, or an error — never a panic.
func FuzzUploadedFile(f *testing.F) {
	f.Add("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xml\"\r\n\r\n<x/>\r\n--b--\r\n")
	f.Add("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--b--\r\n")
	f.Add("multipart/form-data", "--b\r\n")
	f.Add("multipart/form-data; boundary=\"\"", "")
	f.Add("application/xml", "<Document/>")
	f.Add("text/csv; charset=utf-8; ;", "a,b\n")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r, name, err := uploadedFile(contentType, "given", strings.NewReader(body))
		if err != nil {
			if r != nil {
				t.Fatalf("error %v with a reader", err)
			}
			return
		}
		got, err := io.ReadAll(io.LimitReader(r, int64(len(body))+1))
		if err == nil && len(got) > len(body) {
			t.Fatalf("read %d bytes out of a %d-byte body", len(got), len(body))
		}
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/form-data") && (name != "given" || string(got) != body) {
			t.Fatalf("a plain body came back as %q (%q)", got, name)
		}
	})
}

// TestAnUploadNameIsText: a file name (X-Filename, or a multipart part's
// filename, RFC 2231 escapes decoded) that PostgreSQL text cannot keep is
// refused naming where it came from, before the body is read. On main a NUL
// or a byte that is not UTF-8 there was a 500 once the file had been stored.
func TestAnUploadNameIsText(t *testing.T) {
	t.Parallel()
	part := func(disposition string) string {
		return "--b\r\nContent-Disposition: form-data; name=\"file\"; " + disposition + "\r\n\r\n<x/>\r\n--b--\r\n"
	}
	tests := []struct {
		name, contentType, header, body string
		status                          int
		field                           string
	}{
		{"header ok", "text/csv", "statement é.csv", "a", 0, ""},
		{"header not UTF-8", "text/csv", "a\xff.csv", "a", 400, "header.X-Filename"},
		{"multipart ok", "multipart/form-data; boundary=b", "", part(`filename="a.xml"`), 0, ""},
		{"multipart NUL", "multipart/form-data; boundary=b", "", part(`filename*=UTF-8''a%00b.xml`), 422, "body.file.filename"},
		{"multipart not UTF-8", "multipart/form-data; boundary=b", "", part("filename=\"a\xff.xml\""), 400, "body.file.filename"},
	}
	for _, tt := range tests {
		r, _, err := uploadedFile(tt.contentType, tt.header, strings.NewReader(tt.body))
		if tt.status == 0 {
			if err != nil || r == nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		p := problem.From(err, nil)
		if err == nil || r != nil || p.Status != tt.status || len(p.Errors) != 1 || p.Errors[0].Field != tt.field {
			t.Errorf("%s: %v, want %d naming %s", tt.name, err, tt.status, tt.field)
		}
	}
}

// TestAnUploadLargerThanTheBodyLimitStreams runs the upload handler on a
// server that streams request bodies (Fiber's StreamRequestBody, with the
// service's 1 MiB body limit): a 3 MiB file goes through whole, as a raw
// body and as a multipart part.
func TestAnUploadLargerThanTheBodyLimitStreams(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	// Plain values (this package's own tests cannot import
	// internal/app/config, which has the service's): files up to 2 GiB.
	cfg := Config{MaxFileBytes: 2 << 30, SettlementDays: 3, FetchTimeout: time.Minute, QueryTimeout: 10 * time.Second,
		QueryConcurrency: 4, WorkMem: "128MB", Cutoff: NoSchedule}
	svc := New(pool, cfg, slog.New(slog.DiscardHandler), Deps{})
	svc.SetJobs(nopJobs{})
	app := fiber.New(fiber.Config{StreamRequestBody: true, BodyLimit: 1 << 20})
	app.Post("/statements", func(c *fiber.Ctx) error {
		body, name, err := uploadBody(c)
		if err != nil {
			return err
		}
		f, err := svc.Import(audit.System(c.UserContext(), "test"), body, rawfile.Meta{Name: name, Source: rawfile.SourceUpload, ReceivedBy: "test"})
		if err != nil {
			return err
		}
		return c.JSON(f)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln) //nolint:errcheck // ends when the app shuts down
	t.Cleanup(func() { _ = app.Shutdown() })

	var csv bytes.Buffer
	csv.WriteString("vnp_SettlementFileId,vnp_SettlementDate,vnp_TransactionNo,vnp_TxnRef,vnp_TransactionType,vnp_Amount,vnp_FeeAmount,vnp_NetAmount,vnp_CurrCode,vnp_PayDate\r\n")
	for i := 0; csv.Len() < 3<<20; i++ {
		fmt.Fprintf(&csv, "STL-VNPAY-20261123-R1,20261123,%d,ATT%d,01,10000000,220000,9780000,VND,20261123091806\r\n", 14000000+i, i)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "big.csv")
	fw.Write(csv.Bytes()) //nolint:errcheck // a bytes.Buffer
	mw.Close()
	for _, c := range []struct {
		name, contentType string
		body              []byte
		duplicate         bool
	}{
		{"raw", "text/csv", csv.Bytes(), false},
		{"multipart", mw.FormDataContentType(), form.Bytes(), true},
	} {
		res, err := http.Post("http://"+ln.Addr().String()+"/statements", c.contentType, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(fmt.Sprintf(`"size":%d`, csv.Len()))) ||
			bytes.Contains(out, []byte(`"duplicate":true`)) != c.duplicate {
			t.Fatalf("%s upload of %d bytes = %d %s", c.name, csv.Len(), res.StatusCode, out)
		}
		if !bytes.Contains(out, []byte(string(statement.KindVNPAYSettlement))) {
			t.Fatalf("%s: kind not detected: %s", c.name, out)
		}
	}
}

// nopJobs takes jobs and drops them.
type nopJobs struct{}

func (nopJobs) InsertTx(context.Context, pgx.Tx, river.JobArgs, *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return &rivertype.JobInsertResult{Job: &rivertype.JobRow{}}, nil
}
