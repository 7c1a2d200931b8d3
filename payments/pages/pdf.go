package pages

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/receipt"
)

// Payments tells which payment paid an order, for the PDF receipt.
type Payments interface {
	// PaidBy returns the gateway's payment that paid o; found=false when
	// there is none to name (an order marked paid by other means).
	PaidBy(ctx context.Context, o payments.Order) (p Payment, found bool, err error)
}

// Payment is the gateway's side of a paid order.
type Payment struct {
	Choice
	// GatewayRef is the gateway's own reference for the transaction (its
	// transaction number), what the payer's bank or wallet shows.
	GatewayRef string
}

// receiptPDF is the receipt as a PDF download: the same order, access rules
// and refusals as the receipt page (an order never paid is the page's 404),
// and the same content — the payer's name masked and a sensitive service not
// named; a proof of possession is never asked for and nothing hidden is shown.
func (h *Handler) receiptPDF(c *fiber.Ctx) error {
	r := h.begin(c, "receipt.title")
	defer r.cancel()
	o, err := h.paidOrder(r)
	if err != nil {
		return h.fail(r, err)
	}
	rc := h.printable(r.ctx, o, r.v.Order, r.v.VerifyURL, r.v.Lang)
	select { // a render takes tens of milliseconds of CPU and megabytes of memory
	case h.pdfSlots <- struct{}{}:
		defer func() { <-h.pdfSlots }()
	case <-r.ctx.Done():
		return h.fail(r, fmt.Errorf("%w: no turn to draw a PDF receipt: %w", errBusy, r.ctx.Err()))
	}
	var buf bytes.Buffer
	if err := receipt.Render(&buf, rc, r.v.Lang); err != nil {
		return h.fail(r, err)
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+pdfName(o.Reference, r.v.Lang)+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	return c.Status(http.StatusOK).Send(buf.Bytes())
}

// pdfName is the download's file name: "bien-lai-RF18….pdf" or
// "receipt-RF18….pdf", of letters, digits and dashes only.
func pdfName(ref, lang string) string {
	prefix := "bien-lai-"
	if lang == langEN {
		prefix = "receipt-"
	}
	return prefix + strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, ref) + ".pdf"
}

// PDFReceipt returns o's receipt as receipt.Render prints it in lang ("vi" or
// "en"), with what the public receipt page shows and no more: the payer's
// name masked, a sensitive service under its generic label, the national ID
// masked. It is false when o was never paid (it has no receipt). The staff
// console renders the same document with it.
func (h *Handler) PDFReceipt(ctx context.Context, o payments.Order, lang string) (receipt.Receipt, bool) {
	if !isPaid(o) {
		return receipt.Receipt{}, false
	}
	if lang != langEN {
		lang = langVI
	}
	v := newOrderView(o, h.lookupNames(ctx, o), lang, false)
	if o.AmountRefunded.IsPositive() {
		v.RefundedAt = formatTime(h.refundedAt(ctx, o), lang)
	}
	return h.printable(ctx, o, v, h.cfg.PublicURL+"/receipts/"+o.Reference+"/verify", lang), true
}

// printable is the receipt of the paid order o as its (masked) view v shows it.
func (h *Handler) printable(ctx context.Context, o payments.Order, v *orderView, verifyURL, lang string) receipt.Receipt {
	code, _ := h.ReceiptCode(o)
	rc := receipt.Receipt{
		Reference: v.RefDisplay, Agencies: []string{v.Agency},
		Payer: v.Payer, NationalID: v.NationalID, Description: v.Desc, Status: v.Status,
		Total: v.Total, PaidAt: v.PaidAt, Refunded: v.Refunded, RefundedAt: v.RefundedAt,
		Void: o.Status == payments.StatusRefunded,
		Code: code, VerifyURL: verifyURL, Issued: h.cfg.Clock.Now(),
	}
	for _, l := range v.Lines {
		rc.Lines = append(rc.Lines, receipt.Line{Service: l.Service, Kind: l.Kind, Agency: l.Agency, Amount: l.Amount})
		if !slices.Contains(rc.Agencies, l.Agency) {
			rc.Agencies = append(rc.Agencies, l.Agency)
		}
	}
	if h.deps.Payments != nil {
		p, found, err := h.deps.Payments.PaidBy(ctx, o)
		switch {
		case err != nil: // best effort: the receipt stands without the gateway's name
			h.cfg.Log.WarnContext(ctx, "pages: payment of a receipt", "reference", o.Reference, "error", err)
		case found:
			rc.Gateway, rc.GatewayRef = gatewayName(p.Gateway), p.GatewayRef
			if p.Method != "" {
				rc.Method = trOr(lang, "method."+string(p.Method), string(p.Method))
			}
		}
	}
	return rc
}
