package vietqr

import (
	"context"
	"fmt"
	"net/http"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/gateways/internal/wire"
)

// Config is the treasury account citizens transfer to.
type Config struct {
	BankBIN string // the account's bank, 6-digit NAPAS BIN
	Account string // the account number
	Service string // ServiceAccount (default) or ServiceCard
}

// Adapter is the VietQR bank-transfer "gateway". There is no API behind it:
// it makes no calls, so New takes no HTTP client.
type Adapter struct{ cfg Config }

var (
	_ gateways.Gateway        = (*Adapter)(nil)
	_ gateways.OfflineCreator = (*Adapter)(nil)
)

// New checks the account by building a QR without amount for it.
func New(cfg Config) (*Adapter, error) {
	if _, err := Build(Payload{BankBIN: cfg.BankBIN, Account: cfg.Account, Service: cfg.Service}); err != nil {
		return nil, fmt.Errorf("vietqr: config: %w", err)
	}
	return &Adapter{cfg: cfg}, nil
}

// Name is "vietqr".
func (a *Adapter) Name() string { return "vietqr" }

// Methods is bank_transfer.
func (a *Adapter) Methods() []gateways.Method {
	return []gateways.Method{gateways.MethodBankTransfer}
}

// CreatesOffline is true: Create only builds the QR payload.
func (a *Adapter) CreatesOffline() bool { return true }

// Create builds a dynamic QR for the amount, with the order's PaymentRef
// (letters and digits, at most 25) as purpose of transaction. The bank
// statement can only carry what the citizen's bank copied from the QR, so
// GatewayRef is the PaymentRef: every VietQR attempt of one order carries the
// same reference, and the transfer is matched to the order, not to an attempt.
func (a *Adapter) Create(_ context.Context, r gateways.CreateRequest) (gateways.CreateResult, error) {
	vnd, err := wire.VND(r.Amount, r.Currency)
	switch {
	case err != nil:
	case r.Method != gateways.MethodBankTransfer:
		err = fmt.Errorf("method %q: %w", r.Method, gateways.ErrInvalidRequest)
	case r.PaymentRef == "" || len(r.PaymentRef) > maxPurpose || !isAlnum(r.PaymentRef):
		err = fmt.Errorf("payment reference %q: want 1 to %d letters or digits: %w", r.PaymentRef, maxPurpose, gateways.ErrInvalidRequest)
	}
	if err != nil {
		return gateways.CreateResult{}, fmt.Errorf("vietqr: create: %w", err)
	}
	payload, err := Build(Payload{
		Initiation: InitiationOnce, BankBIN: a.cfg.BankBIN, Account: a.cfg.Account, Service: a.cfg.Service,
		Amount: r.Amount.Truncate(0), Purpose: r.PaymentRef,
	})
	if err != nil {
		return gateways.CreateResult{}, fmt.Errorf("vietqr: create: amount %d: %w", vnd, err)
	}
	return gateways.CreateResult{GatewayRef: r.PaymentRef, QRPayload: payload}, nil
}

// ParseCallback returns gateways.ErrUnsupported: a bank transfer has no
// callback. It is confirmed by the treasury account's credit notification
// (camt.054) or statement (camt.053), in reconciliation.
func (a *Adapter) ParseCallback(gateways.CallbackRequest) (gateways.Result, error) {
	return gateways.Result{}, fmt.Errorf("vietqr: callback: %w", gateways.ErrUnsupported)
}

// Reply is 404: there is no callback endpoint to answer for.
func (a *Adapter) Reply(gateways.Ack) (int, string, []byte) {
	return http.StatusNotFound, "text/plain; charset=utf-8", []byte("vietqr has no callbacks\n")
}

// Query cannot know: it always reports StatusPending. Only the bank
// statement confirms a transfer.
func (a *Adapter) Query(_ context.Context, r gateways.QueryRequest) (gateways.Result, error) {
	return gateways.Result{GatewayRef: r.GatewayRef, Currency: wire.CurrencyVND, Status: gateways.StatusPending,
		Message: "confirmed by bank statement (camt.054/camt.053) in reconciliation"}, nil
}

// Refund returns gateways.ErrUnsupported: refunding a bank transfer is an
// outgoing transfer made by treasury staff.
func (a *Adapter) Refund(context.Context, gateways.RefundRequest) (gateways.RefundResult, error) {
	return gateways.RefundResult{}, fmt.Errorf("vietqr: refund: %w", gateways.ErrUnsupported)
}
