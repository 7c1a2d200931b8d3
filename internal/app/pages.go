package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/internal/foundation/ratelimit"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/catalogue"
	"github.com/civicpay/civicpay/payments/pages"
)

// wirePages mounts the citizen pages (/pay, /return, /receipts) on the
// orders, the paying flow, the gateways' breakers and the catalogue. It
// returns them: the staff console prints their PDF receipt (console.Deps).
func wirePages(f *foundation, w *wiring, orders *payments.Orders, paying *payments.Paying, router *gateways.Router,
	catalog *catalogue.Store) (*pages.Handler, error) {
	secret := []byte(f.cfg.ReceiptSecret)
	if len(secret) == 0 {
		// Only in development (Validate refuses it in production): receipts
		// made now will not verify after a restart, hence the warning.
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
		f.log.Warn("CIVICPAY_RECEIPT_SECRET is not set: using a random secret, receipt codes will not verify after a restart")
	}
	var old [][]byte
	for _, s := range f.cfg.OldReceiptSecrets {
		old = append(old, []byte(s))
	}
	h, err := pages.New(pages.Deps{Orders: orders, Attempts: citizenFlow{paying}, Breakers: router, Catalogue: catalog,
		Refunds: citizenFlow{paying}, Payments: citizenFlow{paying}},
		pages.Config{PublicURL: f.cfg.PublicURL, ReceiptSecret: secret, OldReceiptSecrets: old, Log: f.log, Clock: f.clock, Guards: []fiber.Handler{
			ratelimit.New(ratelimit.Rule{Name: "per client IP on the citizen pages", Max: f.cfg.Limits.PagesPerIP,
				Key: ratelimit.ClientIP}),
			ratelimit.New(ratelimit.Rule{Name: "per payment reference", Max: f.cfg.Limits.PagesPerRef,
				Key: pages.ReferenceKey}),
		}})
	if err != nil {
		return nil, fmt.Errorf("app: citizen pages: %w", err)
	}
	w.public = append(w.public, h)
	return h, nil
}

// citizenFlow adapts the payment flow to what the citizen pages need.
type citizenFlow struct{ f *payments.Paying }

func (c citizenFlow) Start(ctx context.Context, o payments.Order, r pages.StartRequest) (pages.Started, error) {
	at, err := c.f.StartAttempt(ctx, o, "citizen", payments.AttemptRequest{
		Method: r.Method, Gateway: r.Gateway, Locale: r.Locale, ClientIP: r.ClientIP,
	})
	return pages.Started{RedirectURL: at.RedirectURL, QRPayload: at.QRPayload}, err
}

func (c citizenFlow) Latest(ctx context.Context, o payments.Order) (pages.Attempt, bool, error) {
	at, found, err := c.f.Latest(ctx, o.ID)
	if err != nil || !found {
		return pages.Attempt{}, found, err
	}
	st := gateways.Status(at.Status)
	if at.Status == payments.AttemptExpired {
		st = gateways.StatusFailed
	}
	return pages.Attempt{Choice: pages.Choice{Method: at.Method, Gateway: at.Gateway}, Status: st, CreatedAt: at.CreatedAt}, true, nil
}

// PaidBy is the attempt that paid o — succeeded, and not an overpayment — as
// the PDF receipt names it: its gateway, method and the gateway's transaction
// number.
func (c citizenFlow) PaidBy(ctx context.Context, o payments.Order) (pages.Payment, bool, error) {
	attempts, err := c.f.Attempts(ctx, o.ID)
	if err != nil {
		return pages.Payment{}, false, err
	}
	for _, at := range slices.Backward(attempts) { // newest first
		if at.Status == payments.AttemptSucceeded && at.Outcome == payments.OutcomePayment {
			return pages.Payment{Choice: pages.Choice{Method: at.Method, Gateway: at.Gateway}, GatewayRef: at.GatewayTxnID}, true, nil
		}
	}
	return pages.Payment{}, false, nil
}

// LastRefundAt is when o's newest refund asked for by staff (not an
// overpayment's) was confirmed by the gateway: the date the receipt pages give
// for a refund.
func (c citizenFlow) LastRefundAt(ctx context.Context, o payments.Order) (time.Time, bool, error) {
	refunds, err := c.f.Refunds(ctx, o.ID)
	if err != nil {
		return time.Time{}, false, err
	}
	var last time.Time
	for _, rf := range refunds {
		if rf.Kind == payments.RefundKindRefund && rf.Status == payments.RefundSucceeded && rf.CompletedAt != nil && rf.CompletedAt.After(last) {
			last = *rf.CompletedAt
		}
	}
	return last, !last.IsZero(), nil
}
