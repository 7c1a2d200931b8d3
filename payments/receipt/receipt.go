// Package receipt draws a paid order's receipt as a PDF: what the citizen's
// HTML receipt page shows (payments/pages), on one A4 page, in Vietnamese or
// English, with the verification code and a QR code of the address where it
// is checked.
//
// The package decides nothing about what may be printed. A Receipt holds text
// already prepared for a reader — amounts formatted, times in Vietnam's time,
// the payer's name masked, a sensitive service replaced by a generic label —
// and Render lays it out as given. pages builds one from an order exactly as
// its receipt page shows it ((*pages.Handler).PDFReceipt), so the PDF carries
// no more personal data than the page.
//
// Text is set in DejaVu Sans (regular and bold), embedded in the binary and
// subset into each PDF, so Vietnamese diacritics print without any font on the
// reader's machine. The fonts' licence is fonts/LICENSE.
package receipt

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// The languages a receipt is printed in. Anything else is Vietnamese.
const (
	VI = "vi"
	EN = "en"
)

var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

// Fonts returns DejaVu Sans, regular and bold, as embedded here: other PDFs
// of the service (the reconciliation's day report) print Vietnamese with
// them without carrying a second copy in the binary.
func Fonts() (regular, bold []byte) { return fontRegular, fontBold }

// fontFamily is the name the fonts are registered under in each document.
const fontFamily = "DejaVuSans"

// Receipt is what one receipt prints, every field as it is to be read. Empty
// fields are left out (Reference, Total, PaidAt, Code and VerifyURL are
// required).
type Receipt struct {
	// Reference is the payment reference as printed, e.g. grouped in fours.
	Reference string
	// Agencies are the agencies the money is collected for: the order's
	// agency first, then any other line's.
	Agencies []string
	// Payer is the payer's name as the page shows it: masked unless the
	// caller has had the order's possession proved (pages.MaskName).
	Payer string
	// NationalID is the payer's national ID, masked; "" to leave it out.
	NationalID string
	// Description is the order's description; "" for a sensitive service.
	Description string
	// Status is the order's status, translated.
	Status string
	Lines  []Line
	Total  string // formatted with its currency, e.g. "200.000 ₫"
	PaidAt string // e.g. "14:30 ngày 24/11/2026 (GMT+7)"
	// Refunded is what was given back, formatted ("" when nothing was), and
	// RefundedAt when.
	Refunded, RefundedAt string
	// Void: the whole payment was refunded; the receipt says it no longer
	// proves payment.
	Void bool
	// Gateway is who took the payment ("VNPAY"), Method how ("Ví điện tử"),
	// GatewayRef the gateway's own reference for the transaction.
	Gateway, Method, GatewayRef string
	// Code is the verification code; VerifyURL the absolute address where it
	// is checked, drawn as a QR code too.
	Code, VerifyURL string
	// Issued is the PDF's creation date; zero leaves fpdf's (now).
	Issued time.Time
}

// Line is one item: its service, kind and agency, and its amount formatted.
type Line struct {
	Service, Kind, Agency, Amount string
}

// ErrIncomplete: a receipt lacks a field every receipt prints.
var ErrIncomplete = errors.New("receipt: incomplete")

// A4 portrait, in millimetres.
const (
	pageW, pageH = 210.0, 297.0
	margin       = 18.0
	contentW     = pageW - 2*margin
	qrSize       = 38.0 // the QR code's side, quiet zone included
	bottom       = pageH - margin
)

// Render writes r as a PDF to w, its labels in lang (VI or EN). Nothing is
// written when it fails.
func Render(w io.Writer, r Receipt, lang string) error {
	if r.Reference == "" || r.Total == "" || r.PaidAt == "" || r.Code == "" || r.VerifyURL == "" {
		return ErrIncomplete
	}
	if lang != EN {
		lang = VI
	}
	qr, err := qrPNG(r.VerifyURL)
	if err != nil {
		return err
	}
	d := newDoc(lang)
	if !r.Issued.IsZero() {
		d.pdf.SetCreationDate(r.Issued)
		d.pdf.SetModificationDate(r.Issued)
	}
	d.draw(r, qr)
	var buf bytes.Buffer
	if err := d.pdf.Output(&buf); err != nil {
		return fmt.Errorf("receipt %s: %w", r.Reference, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("receipt %s: write: %w", r.Reference, err)
	}
	return nil
}

// doc is one receipt being drawn.
type doc struct {
	pdf  *fpdf.Fpdf
	lang string
}

func newDoc(lang string) *doc {
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(false, margin) // rows break pages themselves (row)
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	pdf.SetLang(lang)
	pdf.SetTitle(label(lang, "title"), true)
	pdf.SetCreator("civicpay", true)
	pdf.AddPage()
	return &doc{pdf: pdf, lang: lang}
}

func (d *doc) t(key string) string { return label(d.lang, key) }

func (d *doc) font(style string, size float64) { d.pdf.SetFont(fontFamily, style, size) }

// draw lays the receipt out: heading, facts, items, verification.
func (d *doc) draw(r Receipt, qr []byte) {
	p := d.pdf
	d.font("B", 9)
	p.SetTextColor(90, 90, 90)
	p.CellFormat(contentW, 5, clean(d.t("site")), "", 1, "L", false, 0, "")
	d.font("B", 18)
	p.SetTextColor(0, 0, 0)
	p.CellFormat(contentW, 10, clean(d.t("title")), "", 1, "L", false, 0, "")
	p.SetDrawColor(0, 0, 0)
	p.SetLineWidth(0.4)
	p.Line(margin, p.GetY()+1, pageW-margin, p.GetY()+1)
	p.Ln(4)

	if r.Void {
		p.SetTextColor(160, 0, 0)
		d.font("B", 10)
		d.paragraph(d.t("void"), 5)
		p.SetTextColor(0, 0, 0)
		p.Ln(2)
	}

	facts := [][2]string{
		{d.t("reference"), r.Reference},
		{d.t("agency"), strings.Join(r.Agencies, "; ")},
		{d.t("payer"), r.Payer},
		{d.t("id"), r.NationalID},
		{d.t("desc"), r.Description},
		{d.t("status"), r.Status},
		{d.t("paid_at"), r.PaidAt},
		{d.t("gateway"), joinNonEmpty(" · ", r.Gateway, r.Method)},
		{d.t("gateway_ref"), r.GatewayRef},
	}
	if r.Refunded != "" {
		facts = append(facts, [2]string{d.t("refunded"), joinNonEmpty(" · ", r.Refunded, r.RefundedAt)})
	}
	for _, f := range facts {
		if strings.TrimSpace(f[1]) == "" {
			continue
		}
		d.row([]cell{{f[0], 50, "L", "", 9.5}, {f[1], contentW - 50, "L", "B", 10}}, 5.5, false)
	}
	p.Ln(4)

	d.font("B", 11)
	p.CellFormat(contentW, 7, clean(d.t("lines")), "", 1, "L", false, 0, "")
	widths := []float64{contentW * 0.40, contentW * 0.14, contentW * 0.26, contentW * 0.20}
	p.SetFillColor(235, 235, 235)
	d.row([]cell{
		{d.t("line.service"), widths[0], "L", "B", 9}, {d.t("line.kind"), widths[1], "L", "B", 9},
		{d.t("line.agency"), widths[2], "L", "B", 9}, {d.t("line.amount"), widths[3], "R", "B", 9},
	}, 6, true)
	for _, l := range r.Lines {
		d.row([]cell{
			{l.Service, widths[0], "L", "", 9.5}, {l.Kind, widths[1], "L", "", 9.5},
			{l.Agency, widths[2], "L", "", 9.5}, {l.Amount, widths[3], "R", "", 9.5},
		}, 5.5, false)
	}
	p.SetLineWidth(0.3)
	p.Line(margin, p.GetY(), pageW-margin, p.GetY())
	d.row([]cell{
		{d.t("total"), widths[0] + widths[1] + widths[2], "R", "B", 10.5},
		{r.Total, widths[3], "R", "B", 10.5},
	}, 7, false)
	p.Ln(6)

	// Verification: the code and how to check it on the left, the QR code on
	// the right, kept together on one page.
	if p.GetY()+qrSize+12 > bottom {
		p.AddPage()
	}
	top := p.GetY()
	textW := contentW - qrSize - 6
	d.font("B", 11)
	p.CellFormat(textW, 7, clean(d.t("code")), "", 1, "L", false, 0, "")
	d.font("B", 16)
	p.CellFormat(textW, 9, clean(r.Code), "", 1, "L", false, 0, "")
	d.font("", 9)
	p.MultiCell(textW, 4.5, clean(d.t("how")), "", "L", false)
	p.SetTextColor(0, 60, 160)
	p.MultiCell(textW, 4.5, clean(r.VerifyURL), "", "L", false)
	p.SetTextColor(0, 0, 0)
	p.RegisterImageOptionsReader("verify-qr", fpdf.ImageOptions{ImageType: "png"}, bytes.NewReader(qr))
	p.ImageOptions("verify-qr", pageW-margin-qrSize, top, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "png"}, 0, r.VerifyURL)
	p.SetY(max(p.GetY(), top+qrSize) + 4)

	if p.GetY()+12 > bottom {
		p.AddPage()
	}
	d.font("", 8)
	p.SetTextColor(90, 90, 90)
	d.paragraph(d.t("footer"), 4)
}

// cell is one column of a row: its text, width, alignment, font style and size.
type cell struct {
	text  string
	w     float64
	align string
	style string
	size  float64
}

// row draws cells side by side, each wrapped to its width, the row as tall as
// its tallest cell; a row that would cross the bottom margin starts a new page.
func (d *doc) row(cells []cell, lineH float64, fill bool) {
	p := d.pdf
	lines := make([][]string, len(cells))
	n := 1
	for i, c := range cells {
		d.font(c.style, c.size)
		lines[i] = p.SplitText(clean(c.text), c.w)
		if len(lines[i]) == 0 {
			lines[i] = []string{""}
		}
		n = max(n, len(lines[i]))
	}
	h := float64(n) * lineH
	if p.GetY()+h > bottom {
		p.AddPage()
	}
	x, y := p.GetX(), p.GetY()
	for i, c := range cells {
		d.font(c.style, c.size)
		if fill {
			p.Rect(x, y, c.w, h, "F")
		}
		for j, l := range lines[i] {
			p.SetXY(x, y+float64(j)*lineH)
			p.CellFormat(c.w, lineH, l, "", 0, c.align, false, 0, "")
		}
		x += c.w
	}
	p.SetXY(margin, y+h)
}

// paragraph writes text across the page, wrapped.
func (d *doc) paragraph(text string, lineH float64) {
	d.pdf.MultiCell(contentW, lineH, clean(text), "", "L", false)
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, s := range parts {
		if strings.TrimSpace(s) != "" {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, sep)
}

// clean makes s safe for the PDF's text: invalid UTF-8, control characters
// and characters beyond the Basic Multilingual Plane (which the font subset
// cannot address) become U+FFFD; tabs and line breaks become spaces.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case r > 0xFFFF || unicode.IsControl(r) || r == 0xFEFF:
			return '\uFFFD'
		}
		return r
	}, s)
}

// qrModule is the side of one QR module in the image, in pixels.
const qrModule = 4

// qrPNG draws url as a QR code (error correction M, quiet zone included) in a
// black-and-white PNG.
func qrPNG(url string) ([]byte, error) {
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("receipt: qr code: %w", err)
	}
	bits := q.Bitmap()
	n := len(bits) * qrModule
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			c := color.Gray{Y: 255}
			if bits[y/qrModule][x/qrModule] {
				c = color.Gray{Y: 0}
			}
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("receipt: qr code: %w", err)
	}
	return buf.Bytes(), nil
}
