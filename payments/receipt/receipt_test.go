package receipt_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/civicpay/civicpay/internal/testkit/pdftest"
	"github.com/civicpay/civicpay/payments/receipt"
)

// Vietnamese text whose every diacritic must survive into the PDF.
const (
	agency  = "Sở Tư pháp Thành phố Hồ Chí Minh"
	service = "Lệ phí cấp phiếu lý lịch tư pháp"
	payer   = "Ng*** T** Ánh" // "Nguyễn Thị Ánh" as the page masks it
)

func sample() receipt.Receipt {
	return receipt.Receipt{
		Reference: "RF18 1234 5678 9012 345", Agencies: []string{agency, "Bưu điện Việt Nam"},
		Payer: payer, NationalID: "079*********34", Description: "Cấp phiếu số 2 — ưu tiên", Status: "Đã thanh toán",
		Lines: []receipt.Line{
			{Service: service, Kind: "Lệ phí", Agency: agency, Amount: "200.000\u00a0₫"},
			{Service: "Cước chuyển phát", Kind: "Phí", Agency: "Bưu điện Việt Nam", Amount: "35.000\u00a0₫"},
		},
		Total: "235.000\u00a0₫", PaidAt: "14:30 ngày 24/11/2026 (GMT+7)",
		Gateway: "MoMo", Method: "Ví điện tử", GatewayRef: "4088123456",
		Code: "7K3M-9QXA-2BHD-5RTW", VerifyURL: "https://pay.example.gov.vn/receipts/RF18123456789012345/verify",
		Issued: time.Date(2026, 11, 24, 7, 31, 0, 0, time.UTC),
	}
}

func render(t testing.TB, r receipt.Receipt, lang string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := receipt.Render(&buf, r, lang); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", buf.Bytes()[:min(16, buf.Len())])
	}
	return buf.Bytes()
}

func text(t testing.TB, pdf []byte) string {
	t.Helper()
	s, err := pdftest.Text(pdf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVietnameseSurvives reads the text back out of the PDF's content streams
// (pure Go), checks the fonts are the embedded Unicode ones and not a core
// font, and that the embedded subsets have a real glyph for every character.
func TestVietnameseSurvives(t *testing.T) {
	t.Parallel()
	r := sample()
	pdf := render(t, r, receipt.VI)
	got := text(t, pdf)
	for _, want := range []string{
		"Biên lai thanh toán", agency, service, payer, "200.000\u00a0₫", "235.000\u00a0₫", r.PaidAt,
		"MoMo · Ví điện tử", r.GatewayRef, r.Code, r.VerifyURL, r.Reference, "Cấp phiếu số 2 — ưu tiên",
		"Người nộp", "Thời gian thanh toán", "Mã xác thực",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("text:\n%s", got)
	}

	fonts, err := pdftest.Fonts(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if len(fonts) != 2 {
		t.Errorf("fonts %+v, want DejaVu Sans regular and bold", fonts)
	}
	for _, f := range fonts {
		if f.Subtype != "Type0" || f.Encoding != "Identity-H" || !strings.Contains(strings.ToLower(f.BaseFont), "dejavu") {
			t.Errorf("font %+v: want an embedded DejaVu Type0 font, Identity-H (no core font)", f)
		}
	}
	if bytes.Contains(pdf, []byte("/Helvetica")) || bytes.Contains(pdf, []byte("/Type1")) {
		t.Error("the PDF names a core (Type1) font")
	}

	maps, err := pdftest.GlyphMaps(pdf)
	if err != nil {
		t.Fatal(err)
	}
	// The subsets hold the characters printed: every one of these is.
	for _, s := range []string{agency, service, payer, "Cấp phiếu số 2 — ưu tiên", "₫"} {
		for _, ch := range s {
			if ch == ' ' {
				continue
			}
			found := false
			for _, gid := range maps {
				found = found || gid(ch) != 0
			}
			if !found {
				t.Errorf("no embedded font has a glyph for %q (U+%04X)", ch, ch)
			}
		}
	}
}

// TestPdftotext has poppler read the PDF back, when it is installed.
func TestPdftotext(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext (Debian's poppler-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, render(t, sample(), receipt.VI), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{agency, service, payer, "Biên lai thanh toán", "7K3M-9QXA-2BHD-5RTW"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pdftotext does not read %q; it read:\n%s", want, out)
		}
	}
}

// TestQRDecodesToVerifyURL takes the QR image out of the PDF and decodes it.
func TestQRDecodesToVerifyURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"https://pay.example.gov.vn/receipts/RF18123456789012345/verify",
		"http://localhost:8080/receipts/RF47123456789012345/verify",
	} {
		r := sample()
		r.VerifyURL = url
		imgs, err := pdftest.GrayImages(render(t, r, receipt.EN))
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 {
			t.Fatalf("%d grey images in the PDF, want the QR code", len(imgs))
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(imgs[0])
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("decode the QR code: %v", err)
		}
		if res.GetText() != url {
			t.Errorf("QR code reads %q, want %q", res.GetText(), url)
		}
	}
}

func TestEnglish(t *testing.T) {
	t.Parallel()
	r := sample()
	r.Refunded, r.RefundedAt, r.Void = "235,000\u00a0₫", "25 Nov 2026, 09:00 (GMT+7)", true
	got := text(t, render(t, r, receipt.EN))
	for _, want := range []string{"Payment receipt", "Payer", "Paid at", "Verification code", "Payment gateway",
		"Gateway reference", "Refunded", "refunded in full", agency} {
		if !strings.Contains(got, want) {
			t.Errorf("the English PDF lacks %q", want)
		}
	}
	if strings.Contains(got, "Biên lai thanh toán") {
		t.Error("the English PDF has the Vietnamese title")
	}
	if vi := text(t, render(t, sample(), "fr")); !strings.Contains(vi, "Biên lai thanh toán") || strings.Contains(vi, "refunded in full") {
		t.Error("an unknown language is not Vietnamese, or a receipt not void says it is")
	}
}

// TestLeftOut: empty fields print no label, so nothing suggests data exists.
func TestLeftOut(t *testing.T) {
	t.Parallel()
	r := sample()
	r.NationalID, r.Description, r.Gateway, r.Method, r.GatewayRef = "", "", "", "", ""
	got := text(t, render(t, r, receipt.VI))
	for _, gone := range []string{"Số định danh", "Nội dung", "Cổng thanh toán", "Mã giao dịch của cổng", "Đã hoàn trả"} {
		if strings.Contains(got, gone) {
			t.Errorf("the PDF prints the label %q for an empty field", gone)
		}
	}
}

func TestIncomplete(t *testing.T) {
	t.Parallel()
	for name, drop := range map[string]func(*receipt.Receipt){
		"reference": func(r *receipt.Receipt) { r.Reference = "" },
		"total":     func(r *receipt.Receipt) { r.Total = "" },
		"paid at":   func(r *receipt.Receipt) { r.PaidAt = "" },
		"code":      func(r *receipt.Receipt) { r.Code = "" },
		"verify":    func(r *receipt.Receipt) { r.VerifyURL = "" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := sample()
			drop(&r)
			var buf bytes.Buffer
			if err := receipt.Render(&buf, r, receipt.VI); !errors.Is(err, receipt.ErrIncomplete) || buf.Len() != 0 {
				t.Errorf("Render = %v with %d bytes written, want ErrIncomplete and nothing", err, buf.Len())
			}
		})
	}
}

// TestOddText: characters the font subset cannot address, control
// characters and invalid UTF-8 neither fail nor break the document.
func TestOddText(t *testing.T) {
	t.Parallel()
	r := sample()
	r.Payer = "Ng*** T** Ánh 😀\x00\xff(\\)"
	got := text(t, render(t, r, receipt.VI))
	if !strings.Contains(got, "Ng*** T** Ánh \uFFFD\uFFFD\uFFFD(\\)") {
		t.Errorf("odd payer name printed wrong; text:\n%s", got)
	}
}

// TestManyLines: a long order flows onto a second page, the total and the
// verification code after the last line.
func TestManyLines(t *testing.T) {
	t.Parallel()
	r := sample()
	r.Lines = nil
	for i := range 60 {
		r.Lines = append(r.Lines, receipt.Line{Service: fmt.Sprintf("%s %d", service, i+1), Kind: "Lệ phí", Agency: agency, Amount: "1.000\u00a0₫"})
	}
	pdf := render(t, r, receipt.VI)
	if n := pdftest.Pages(pdf); n < 2 {
		t.Errorf("%d pages for 60 lines, want at least 2", n)
	}
	got := text(t, pdf)
	last, total, code := strings.Index(got, service+" 60"), strings.Index(got, "Tổng cộng"), strings.Index(got, r.Code)
	if last < 0 || total < last || code < total {
		t.Errorf("last line at %d, total at %d, code at %d: want them in that order", last, total, code)
	}
}

// BenchmarkRender measures one receipt, fonts parsed and subset each time.
func BenchmarkRender(b *testing.B) {
	r := sample()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := receipt.Render(&buf, r, receipt.VI); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/pdf")
}
