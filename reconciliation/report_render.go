package reconciliation

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/money"
	"github.com/civicpay/civicpay/payments/receipt"
)

// The day report's two forms: a PDF to read and file (DejaVu Sans, embedded,
// so Vietnamese prints anywhere) and an XLSX workbook to compute with, whose
// cells hold numbers, not formatted text. Both say the same: the closing,
// per gateway ours/theirs/bank with fees, per agency, per source the counts
// per class, and every exception with its resolution.

// Report languages; anything else is Vietnamese.
const (
	ReportVI = "vi"
	ReportEN = "en"
)

var reportLabels = map[string][2]string{
	"title":        {"Báo cáo đối soát ngày %s", "Reconciliation report, business day %s"},
	"closed":       {"Khóa sổ bởi %s lúc %s (GMT+7)", "Closed by %s at %s (GMT+7)"},
	"note":         {"Ghi chú", "Note"},
	"gateways":     {"Theo cổng thanh toán", "Per gateway"},
	"agencies":     {"Theo cơ quan thu", "Per agency"},
	"sources":      {"Theo nguồn đối soát", "Per source"},
	"bank":         {"Tài khoản kho bạc (bút toán đã hạch toán)", "Treasury account (booked entries)"},
	"exceptions":   {"Ngoại lệ và cách xử lý", "Exceptions and their resolutions"},
	"summary":      {"Tóm tắt", "Summary"},
	"gateway":      {"Cổng", "Gateway"},
	"currency":     {"Tiền tệ", "Currency"},
	"ours.count":   {"Số GD (hệ thống)", "Our count"},
	"ours.amount":  {"Số tiền (hệ thống)", "Our amount"},
	"their.count":  {"Số dòng (cổng)", "Their lines"},
	"their.amount": {"Số tiền (cổng)", "Their gross"},
	"fees":         {"Phí", "Fees"},
	"net":          {"Thực nhận", "Net"},
	"bank.amount":  {"Ngân hàng ghi có", "Bank credit"},
	"agree":        {"Khớp", "Agree"},
	"yes":          {"có", "yes"},
	"no":           {"không", "no"},
	"agency":       {"Cơ quan", "Agency"},
	"gross":        {"Đã thu", "Collected"},
	"refunds":      {"Hoàn tiền", "Refunded"},
	"adjustments":  {"Điều chỉnh", "Adjustments"},
	"postings":     {"Số bút toán", "Postings"},
	"source":       {"Nguồn", "Source"},
	"run":          {"Lần chạy", "Run"},
	"lines":        {"Số dòng", "Lines"},
	"class":        {"Phân loại", "Class"},
	"count":        {"Số lượng", "Count"},
	"total":        {"Tổng", "Total"},
	"credits":      {"Ghi có", "Credits"},
	"debits":       {"Ghi nợ", "Debits"},
	"id":           {"Mã", "Id"},
	"status":       {"Trạng thái", "Status"},
	"amount":       {"Số tiền", "Amount"},
	"resolution":   {"Xử lý", "Resolution"},
	"by":           {"Người xử lý", "By"},
	"carried":      {"chuyển sang ngày sau: %s", "carried forward: %s"},
	"exc.counts":   {"Ngoại lệ: %d (đã xử lý %d, tự động %d, tự hết %d, chuyển sang ngày sau %d, còn mở %d)", "Exceptions: %d (resolved %d, automatically %d, cleared %d, carried forward %d, open %d)"},
	"exc.more":     {"Chỉ liệt kê %d trên %d ngoại lệ.", "%d of %d exceptions listed."},
	"none":         {"Không có.", "None."},
	"date":         {"Ngày", "Business day"},
	"closed.by":    {"Người khóa sổ", "Closed by"},
	"closed.at":    {"Thời điểm khóa sổ (GMT+7)", "Closed at (GMT+7)"},
}

func reportLabel(lang, key string, args ...any) string {
	l, ok := reportLabels[key]
	if !ok {
		return key
	}
	s := l[0]
	if lang == ReportEN {
		s = l[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// reportAmount writes an amount with grouped thousands, in lang's way.
func reportAmount(d decimal.Decimal, lang string) string {
	group, point := ".", ","
	if lang == ReportEN {
		group, point = ",", "."
	}
	return money.Grouped(d, group, point)
}

func yesNo(ok bool, lang string) string {
	if ok {
		return reportLabel(lang, "yes")
	}
	return reportLabel(lang, "no")
}

func optAmount(d *decimal.Decimal, lang string) string {
	if d == nil {
		return "—"
	}
	return reportAmount(*d, lang)
}

func optSide(s *Side, lang string) (string, string) {
	if s == nil {
		return "—", "—"
	}
	return strconv.FormatInt(s.Count, 10), reportAmount(s.Amount, lang)
}

func sideAmount(s *Side) *decimal.Decimal {
	if s == nil {
		return nil
	}
	return &s.Amount
}

// exceptionResolution says how an exception stands: its resolution with its
// note, or its carry.
func exceptionResolution(e DayException, lang string) (text, by string) {
	switch {
	case e.Resolution != "":
		return strings.TrimSpace(e.Resolution + ": " + e.Note), e.ResolvedBy
	case e.Carry != nil && (e.Status == ExceptionOpen || e.Status == ExceptionAwaitingApproval):
		return reportLabel(lang, "carried", e.Carry.Note), e.Carry.By
	}
	return e.Detail, ""
}

func exceptionAmount(e DayException) *decimal.Decimal {
	if e.AmountThere != nil {
		return e.AmountThere
	}
	return e.AmountHere
}

func closedAt(t time.Time) string { return t.In(bizday.Zone).Format("2006-01-02 15:04:05") }

// WriteDayReportPDF writes r as a PDF, its labels in lang (ReportVI or
// ReportEN). Nothing is written when it fails.
func WriteDayReportPDF(w io.Writer, r DayReport, lang string) error {
	if lang != ReportEN {
		lang = ReportVI
	}
	regular, bold := receipt.Fonts()
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "L", UnitStr: "mm", SizeStr: "A4"})
	pdf.SetMargins(12, 12, 12)
	pdf.SetAutoPageBreak(true, 12)
	pdf.AddUTF8FontFromBytes("DejaVuSans", "", regular)
	pdf.AddUTF8FontFromBytes("DejaVuSans", "B", bold)
	pdf.SetLang(lang)
	title := reportLabel(lang, "title", r.Date)
	pdf.SetTitle(title, true)
	pdf.SetCreator("civicpay", true)
	pdf.SetCreationDate(r.Closing.ClosedAt)
	pdf.SetModificationDate(r.Closing.ClosedAt)
	pdf.AddPage()
	d := &reportDoc{pdf: pdf, lang: lang}

	d.font("B", 15)
	pdf.MultiCell(0, 8, pdfText(title), "", "L", false)
	d.font("", 10)
	pdf.MultiCell(0, 5.5, pdfText(reportLabel(lang, "closed", r.Closing.ClosedBy, closedAt(r.Closing.ClosedAt))), "", "L", false)
	if r.Closing.Note != "" {
		pdf.MultiCell(0, 5.5, pdfText(reportLabel(lang, "note")+": "+r.Closing.Note), "", "L", false)
	}
	c := r.Totals.Exceptions
	pdf.MultiCell(0, 5.5, pdfText(reportLabel(lang, "exc.counts", c.Total, c.Resolved, c.AutoResolved, c.Cleared, c.CarriedForward,
		c.Open+c.AwaitingApproval)), "", "L", false)

	d.heading("gateways")
	widths := []float64{28, 16, 24, 34, 24, 34, 28, 34, 34, 17}
	d.row(widths, true, d.t("gateway"), d.t("currency"), d.t("ours.count"), d.t("ours.amount"), d.t("their.count"),
		d.t("their.amount"), d.t("fees"), d.t("net"), d.t("bank.amount"), d.t("agree"))
	for _, g := range r.Totals.Gateways {
		tc, ta := optSide(g.Theirs, lang)
		d.row(widths, false, g.Gateway, g.Currency, strconv.FormatInt(g.Ours.Count, 10), reportAmount(g.Ours.Amount, lang),
			tc, ta, optAmount(g.Fees, lang), optAmount(g.Net, lang), optAmount(sideAmount(g.Bank), lang), yesNo(g.Agree, lang))
	}
	if len(r.Totals.Gateways) == 0 {
		d.line(d.t("none"))
	}

	d.heading("agencies")
	widths = []float64{50, 20, 40, 40, 40, 40, 30}
	d.row(widths, true, d.t("agency"), d.t("currency"), d.t("gross"), d.t("refunds"), d.t("adjustments"), d.t("net"), d.t("postings"))
	for _, a := range r.Totals.Agencies {
		d.row(widths, false, a.Agency, a.Currency, reportAmount(a.Gross, lang), reportAmount(a.Refunds, lang),
			reportAmount(a.Adjustments, lang), reportAmount(a.Net, lang), strconv.FormatInt(a.Postings, 10))
	}
	if len(r.Totals.Agencies) == 0 {
		d.line(d.t("none"))
	}

	d.heading("sources")
	widths = []float64{30, 24, 24, 50, 20, 30, 40}
	d.row(widths, true, d.t("source"), d.t("run"), d.t("lines"), d.t("class"), d.t("currency"), d.t("count"), d.t("total"))
	for _, s := range r.Totals.Sources {
		if len(s.Classes) == 0 {
			d.row(widths, false, s.Source, runText(s.RunID), strconv.FormatInt(s.Lines, 10), "—", "", "", "")
		}
		for i, cl := range s.Classes {
			src, run, lines := "", "", ""
			if i == 0 {
				src, run, lines = s.Source, runText(s.RunID), strconv.FormatInt(s.Lines, 10)
			}
			d.row(widths, false, src, run, lines, string(cl.Class), cl.Currency, strconv.FormatInt(cl.Count, 10), reportAmount(cl.Total, lang))
		}
	}

	d.heading("bank")
	widths = []float64{20, 30, 40, 30, 40}
	d.row(widths, true, d.t("currency"), d.t("credits"), d.t("amount"), d.t("debits"), d.t("amount"))
	for _, b := range r.Totals.Bank {
		d.row(widths, false, b.Currency, strconv.FormatInt(b.Credits.Count, 10), reportAmount(b.Credits.Amount, lang),
			strconv.FormatInt(b.Debits.Count, 10), reportAmount(b.Debits.Amount, lang))
	}
	if len(r.Totals.Bank) == 0 {
		d.line(d.t("none"))
	}

	d.heading("exceptions")
	widths = []float64{16, 22, 30, 26, 34, 100, 45}
	d.row(widths, true, d.t("id"), d.t("source"), d.t("class"), d.t("status"), d.t("amount"), d.t("resolution"), d.t("by"))
	for _, e := range r.Exceptions {
		text, by := exceptionResolution(e, lang)
		amount := "—"
		if a := exceptionAmount(e); a != nil {
			amount = reportAmount(*a, lang) + " " + e.Currency
		}
		d.row(widths, false, strconv.FormatInt(e.ID, 10), e.Source, string(e.Class), e.Status, amount, text, by)
	}
	if len(r.Exceptions) == 0 {
		d.line(d.t("none"))
	}
	if int64(len(r.Exceptions)) < r.ExceptionCount {
		d.line(reportLabel(lang, "exc.more", len(r.Exceptions), r.ExceptionCount))
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return fmt.Errorf("reconciliation: report of %s: %w", r.Date, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("reconciliation: report of %s: write: %w", r.Date, err)
	}
	return nil
}

func runText(id int64) string {
	if id == 0 {
		return "—"
	}
	return "#" + strconv.FormatInt(id, 10)
}

// reportDoc is a report being drawn.
type reportDoc struct {
	pdf  *fpdf.Fpdf
	lang string
}

func (d *reportDoc) t(key string) string { return reportLabel(d.lang, key) }

func (d *reportDoc) font(style string, size float64) { d.pdf.SetFont("DejaVuSans", style, size) }

func (d *reportDoc) heading(key string) {
	d.pdf.Ln(3)
	d.font("B", 12)
	d.pdf.MultiCell(0, 7, pdfText(d.t(key)), "", "L", false)
	d.font("", 8.5)
}

func (d *reportDoc) line(s string) {
	d.font("", 8.5)
	d.pdf.MultiCell(0, 5, pdfText(s), "", "L", false)
}

// row draws one table row; each cell wraps, and the row is as tall as its
// tallest cell (a new page first when it would not fit).
func (d *reportDoc) row(widths []float64, header bool, cells ...string) {
	p := d.pdf
	style := ""
	if header {
		style = "B"
	}
	d.font(style, 8.5)
	const lh = 4.2
	lines := 1
	for i, c := range cells {
		if n := len(p.SplitText(pdfText(c), widths[i]-1)); n > lines {
			lines = n
		}
	}
	h := float64(lines)*lh + 1.5
	_, pageH := p.GetPageSize()
	_, _, _, bottom := p.GetMargins()
	if p.GetY()+h > pageH-bottom {
		p.AddPage()
		d.font(style, 8.5)
	}
	x, y := p.GetX(), p.GetY()
	for i, c := range cells {
		p.SetXY(x, y)
		p.MultiCell(widths[i]-1, lh, pdfText(c), "", "L", false)
		x += widths[i]
	}
	border := 0.1
	if header {
		border = 0.3
	}
	p.SetLineWidth(border)
	left, _, _, _ := p.GetMargins()
	p.Line(left, y+h, x, y+h)
	p.SetXY(left, y+h)
}

// pdfText makes s safe for the embedded font: valid UTF-8, no control
// characters, nothing beyond the Basic Multilingual Plane.
func pdfText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r > 0xFFFF || r == utf8.RuneError:
			return '?'
		}
		return r
	}, s)
}

// WriteDayReportXLSX writes r as an XLSX workbook, its labels in lang: a
// summary sheet, then one sheet per table, amounts as numbers.
func WriteDayReportXLSX(w io.Writer, r DayReport, lang string) error {
	if lang != ReportEN {
		lang = ReportVI
	}
	t := func(k string) string { return reportLabel(lang, k) }
	f := excelize.NewFile()
	defer f.Close()
	sheets := []struct {
		name string
		rows [][]any
	}{
		{t("summary"), summaryRows(r, lang)},
		{t("gateways"), gatewayRows(r, t)},
		{t("agencies"), agencyRows(r, t)},
		{t("sources"), sourceRows(r, t)},
		{t("bank"), bankRows(r, t)},
		{t("exceptions"), exceptionRows(r, lang, t)},
	}
	for i, sh := range sheets {
		name := sheetName(sh.name)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				return fmt.Errorf("reconciliation: report xlsx: %w", err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			return fmt.Errorf("reconciliation: report xlsx: %w", err)
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			return fmt.Errorf("reconciliation: report xlsx: %w", err)
		}
		for j, row := range sh.rows {
			cell, _ := excelize.CoordinatesToCellName(1, j+1)
			if err := sw.SetRow(cell, row); err != nil {
				return fmt.Errorf("reconciliation: report xlsx: %w", err)
			}
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("reconciliation: report xlsx: %w", err)
		}
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("reconciliation: report xlsx: %w", err)
	}
	return nil
}

// sheetName fits an Excel sheet name: at most 31 characters, none of []:*?/\.
func sheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 31 {
		s = string([]rune(s)[:31])
	}
	return s
}

// num is an amount as a spreadsheet number (an exact decimal amount of
// money fits a float64 at VND's and the usual currencies' sizes).
func num(d decimal.Decimal) any {
	f, _ := d.Float64()
	return f
}

func optNum(d *decimal.Decimal) any {
	if d == nil {
		return nil
	}
	return num(*d)
}

func summaryRows(r DayReport, lang string) [][]any {
	t := func(k string) string { return reportLabel(lang, k) }
	c := r.Totals.Exceptions
	return [][]any{
		{reportLabel(lang, "title", r.Date)},
		{t("date"), r.Date},
		{t("closed.by"), r.Closing.ClosedBy},
		{t("closed.at"), closedAt(r.Closing.ClosedAt)},
		{t("note"), r.Closing.Note},
		{reportLabel(lang, "exc.counts", c.Total, c.Resolved, c.AutoResolved, c.Cleared, c.CarriedForward, c.Open+c.AwaitingApproval)},
	}
}

func gatewayRows(r DayReport, t func(string) string) [][]any {
	rows := [][]any{{t("gateway"), t("currency"), t("ours.count"), t("ours.amount"), t("their.count"), t("their.amount"),
		t("fees"), t("net"), t("bank.amount"), t("agree")}}
	for _, g := range r.Totals.Gateways {
		var tc, ta any
		if g.Theirs != nil {
			tc, ta = g.Theirs.Count, num(g.Theirs.Amount)
		}
		rows = append(rows, []any{g.Gateway, g.Currency, g.Ours.Count, num(g.Ours.Amount), tc, ta, optNum(g.Fees), optNum(g.Net),
			optNum(sideAmount(g.Bank)), g.Agree})
	}
	return rows
}

func agencyRows(r DayReport, t func(string) string) [][]any {
	rows := [][]any{{t("agency"), t("currency"), t("gross"), t("refunds"), t("adjustments"), t("net"), t("postings")}}
	for _, a := range r.Totals.Agencies {
		rows = append(rows, []any{a.Agency, a.Currency, num(a.Gross), num(a.Refunds), num(a.Adjustments), num(a.Net), a.Postings})
	}
	return rows
}

func sourceRows(r DayReport, t func(string) string) [][]any {
	rows := [][]any{{t("source"), t("run"), t("lines"), t("class"), t("currency"), t("count"), t("total")}}
	for _, s := range r.Totals.Sources {
		if len(s.Classes) == 0 {
			rows = append(rows, []any{s.Source, s.RunID, s.Lines})
		}
		for _, c := range s.Classes {
			rows = append(rows, []any{s.Source, s.RunID, s.Lines, string(c.Class), c.Currency, c.Count, num(c.Total)})
		}
	}
	return rows
}

func bankRows(r DayReport, t func(string) string) [][]any {
	rows := [][]any{{t("currency"), t("credits"), t("amount"), t("debits"), t("amount")}}
	for _, b := range r.Totals.Bank {
		rows = append(rows, []any{b.Currency, b.Credits.Count, num(b.Credits.Amount), b.Debits.Count, num(b.Debits.Amount)})
	}
	return rows
}

func exceptionRows(r DayReport, lang string, t func(string) string) [][]any {
	rows := [][]any{{t("id"), t("source"), t("class"), t("status"), t("amount"), t("currency"), t("resolution"), t("by")}}
	for _, e := range r.Exceptions {
		text, by := exceptionResolution(e, lang)
		rows = append(rows, []any{e.ID, e.Source, string(e.Class), e.Status, optNum(exceptionAmount(e)), e.Currency, text, by})
	}
	return rows
}
