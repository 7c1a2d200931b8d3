package pages

import (
	"context"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/civicpay/civicpay/gateways"
	"github.com/civicpay/civicpay/payments"
	"github.com/civicpay/civicpay/payments/reference"
)

// view is everything a template may show. Each page fills the part it needs.
type view struct {
	Lang  string
	Title string // message key
	Path  string // this page's path, for the language switch
	// Refresh, when > 0, reloads the page every Refresh seconds.
	Refresh int

	Order *orderView

	// pay form
	Options []optionView
	Error   string // message key of a problem with the form
	Closed  string // why the order cannot be paid, already translated

	// QR transfer
	QR template.HTML

	// return page: "pending", "paid", "failed", "none" or "closed"; on the
	// pay page "pending" puts up a notice that a payment awaits confirmation
	State string

	// proof of possession (privacy.go): ProofAction is where the page's proof
	// form posts ("" when the page offers none); Revealed, that a proof was
	// accepted and the page shows the full detail; ProofError, a message key.
	ProofAction string
	Revealed    bool
	ProofError  string

	// receipt and verification
	Code      string // the receipt's verification code
	VerifyURL string // absolute address of the verify page
	Typed     string // the code as typed on the verify form
	// Result: "ok", "partially_refunded" (the code is right and part of the
	// payment was given back), "refunded" (right, but all of it was given
	// back: no longer proof of payment), "bad" or "malformed"
	Result string

	// error page
	ErrTitle, ErrBody string // message keys
}

// T translates key into the page's language.
func (v *view) T(key string, args ...any) string { return tr(v.Lang, key, args...) }

// Other is the language the switch offers.
func (v *view) Other() string {
	if v.Lang == langEN {
		return langVI
	}
	return langEN
}

// Link is path in the page's language.
func (v *view) Link(path string) string { return path + "?lang=" + v.Lang }

// orderView is an order as a citizen sees it: no full national ID, amounts and
// times formatted for the page's language; unless revealed, the payer's name
// masked and a sensitive service's detail left out (privacy.go).
type orderView struct {
	Ref        string // as in URLs
	RefDisplay string // grouped in fours for reading
	Payer      string // masked unless revealed
	NationalID string // masked
	Desc       string // empty for a sensitive order unless revealed
	Agency     string
	Lines      []lineView
	Total      string
	Expires    string
	Status     string // translated
	StatusCode string // as stored: "paid", "refunded", …
	PaidAt     string
	Refunded   string // empty when nothing was refunded
	RefundedAt string // when the last refund was confirmed; may be empty
	// Hidden: the page leaves something out (the name, a sensitive service) that
	// a proof of possession would show; ProofKind is that proof, "phone",
	// "email", or "" when the order has neither.
	Hidden    bool
	ProofKind string
}

type lineView struct {
	Service, Kind, Agency, Amount string
}

// names are what the catalogue calls an order's agencies and services, and
// which services are sensitive.
type names struct {
	agencies  map[string]string
	services  map[string]string
	sensitive map[string]bool
	// unknown: the catalogue could not say which services are sensitive (it
	// failed): every line is treated as sensitive.
	unknown bool
}

// isSensitive reports whether a line of this service must not be named publicly.
func (n names) isSensitive(code string) bool { return n.unknown || n.sensitive[code] }

func (n names) agency(code string) string {
	if s := n.agencies[code]; s != "" {
		return s
	}
	return code
}

func (n names) service(code string) string {
	if s := n.services[code]; s != "" {
		return s
	}
	return code
}

// lookupNames asks the catalogue, if there is one, for o's names. It is best
// effort: a failure is logged and the codes stand in.
func (h *Handler) lookupNames(ctx context.Context, o payments.Order) names {
	n := names{agencies: map[string]string{}, services: map[string]string{}, sensitive: map[string]bool{}}
	if h.deps.Catalogue == nil {
		return n
	}
	codes := make([]string, 0, len(o.Lines))
	agencies := []string{o.AgencyCode}
	for _, l := range o.Lines {
		codes = append(codes, l.ServiceCode)
		if !slices.Contains(agencies, l.AgencyCode) {
			agencies = append(agencies, l.AgencyCode)
		}
	}
	if svcs, err := h.deps.Catalogue.ServicesByCode(ctx, codes); err != nil {
		h.cfg.Log.WarnContext(ctx, "pages: service names", "reference", o.Reference, "error", err)
		n.unknown = true // fail closed: a service we cannot check is not named
	} else {
		for code, s := range svcs {
			n.services[code] = s.Name
			n.sensitive[code] = s.Sensitive
		}
	}
	for _, code := range agencies {
		a, err := h.deps.Catalogue.Agency(ctx, code)
		if err != nil {
			h.cfg.Log.WarnContext(ctx, "pages: agency name", "agency", code, "error", err)
			continue
		}
		n.agencies[code] = a.Name
	}
	return n
}

// newOrderView shows o in lang. Unless revealed (the visitor proved possession
// of the order), the payer's name is masked and, when any line's service is
// sensitive, the order's description is left out and each sensitive line shows
// the generic label "Dịch vụ công" / "Public service" and no kind: the agency
// and the amount stay.
func newOrderView(o payments.Order, n names, lang string, revealed bool) *orderView {
	kind, _ := proofFor(o.Payer)
	v := &orderView{
		Ref: o.Reference, RefDisplay: reference.Format(o.Reference),
		Payer: o.Payer.Name, NationalID: payments.MaskNationalID(o.Payer.NationalID),
		Desc: o.Description, Agency: n.agency(o.AgencyCode),
		Total:      FormatAmount(o.Total, o.Currency, lang),
		Expires:    formatTime(o.ExpiresAt, lang),
		Status:     trOr(lang, "status."+string(o.Status), string(o.Status)),
		StatusCode: string(o.Status),
		ProofKind:  kind,
	}
	if !revealed {
		if masked := MaskName(o.Payer.Name); masked != o.Payer.Name {
			v.Payer, v.Hidden = masked, true
		}
	}
	for _, l := range o.Lines {
		line := lineView{
			Service: n.service(l.ServiceCode), Kind: trOr(lang, "kind."+l.Kind, l.Kind),
			Agency: n.agency(l.AgencyCode), Amount: FormatAmount(l.Amount, o.Currency, lang),
		}
		if !revealed && n.isSensitive(l.ServiceCode) {
			line.Service, line.Kind, v.Desc, v.Hidden = tr(lang, "service.generic"), "", "", true
		}
		v.Lines = append(v.Lines, line)
	}
	if o.PaidAt != nil {
		v.PaidAt = formatTime(*o.PaidAt, lang)
	}
	if o.AmountRefunded.IsPositive() {
		v.Refunded = FormatAmount(o.AmountRefunded, o.Currency, lang)
	}
	return v
}

// isPaid: the order was paid (a receipt exists), whatever was refunded since.
func isPaid(o payments.Order) bool {
	switch o.Status {
	case payments.StatusPaid, payments.StatusPartiallyRefunded, payments.StatusRefunded:
		return o.PaidAt != nil
	}
	return false
}

// closedText says why o cannot be paid now, or "" when it can. An open order
// past its expiry is expired even before the expiry job has closed it.
func closedText(o payments.Order, now time.Time, lang string) string {
	switch {
	case isPaid(o):
		return tr(lang, "closed.paid")
	case o.Status == payments.StatusCancelled:
		at := o.UpdatedAt
		if o.ClosedAt != nil {
			at = *o.ClosedAt
		}
		return tr(lang, "closed.cancelled", formatTime(at, lang))
	case o.Status != payments.StatusOpen || !now.Before(o.ExpiresAt):
		return tr(lang, "closed.expired", formatTime(o.ExpiresAt, lang))
	}
	return ""
}

// methodOrder is the order methods are listed in on the pay page.
var methodOrder = []gateways.Method{
	gateways.MethodCard, gateways.MethodInternetBanking, gateways.MethodQR,
	gateways.MethodEwallet, gateways.MethodBankTransfer,
}

// offered lists the choices to offer: every (method, gateway) pair whose
// gateway's breaker is not open, methods in methodOrder, gateways in the
// router's order. A half-open breaker is offered: its probe may succeed, and if
// its slot is taken Start says so.
func offered(stats []gateways.BreakerStat) []Choice {
	var out []Choice
	for _, m := range methodOrder {
		for _, s := range stats {
			if s.State != gobreaker.StateOpen.String() && slices.Contains(s.Methods, m) {
				out = append(out, Choice{Method: m, Gateway: s.Name})
			}
		}
	}
	return out
}

// known reports whether some gateway, open or not, supports c.
func known(stats []gateways.BreakerStat, c Choice) bool {
	return slices.ContainsFunc(stats, func(s gateways.BreakerStat) bool {
		return s.Name == c.Gateway && slices.Contains(s.Methods, c.Method)
	})
}

// parseChoice reads a form value "method:gateway".
func parseChoice(s string) (Choice, bool) {
	m, g, ok := strings.Cut(s, ":")
	c := Choice{Method: gateways.Method(strings.Clone(m)), Gateway: strings.Clone(g)}
	return c, ok && c.Method.Valid() && g != ""
}

type optionView struct {
	ID, Value, Method, Gateway string
}

var gatewayNames = map[string]string{"vnpay": "VNPAY", "momo": "MoMo", "zalopay": "ZaloPay", "vietqr": "VietQR"}

func gatewayName(name string) string {
	if s, ok := gatewayNames[name]; ok {
		return s
	}
	return name
}

func optionViews(choices []Choice, lang string) []optionView {
	out := make([]optionView, 0, len(choices))
	for _, c := range choices {
		out = append(out, optionView{
			ID:      "m-" + idSafe(string(c.Method)) + "-" + idSafe(c.Gateway),
			Value:   c.value(),
			Method:  tr(lang, "method."+string(c.Method)),
			Gateway: tr(lang, "method.via", gatewayName(c.Gateway)),
		})
	}
	return out
}

// idSafe keeps the characters an HTML id and a CSS selector take without escaping.
func idSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}
