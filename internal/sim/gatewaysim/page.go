package gatewaysim

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
)

// The pay page: the order, and two buttons in a plain form (no JavaScript).
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Brand}} — {{.T.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d1d1f}
header{background:{{.Color}};color:#fff;padding:1rem 1.5rem}
header h1{margin:0;font-size:1.4rem}
main{max-width:32rem;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:.5rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
.amount{font-size:1.5rem;font-weight:bold}
form{display:flex;gap:1rem;margin-top:1.5rem}
button{flex:1;font-size:1rem;padding:.8rem;border-radius:.4rem;border:2px solid {{.Color}};cursor:pointer}
button[value=success]{background:{{.Color}};color:#fff}button[value=decline]{background:#fff;color:#1d1d1f}
.note{color:#666;font-size:.85rem}.error{color:#b00020}
</style>
</head>
<body>
<header><h1>{{.Brand}}</h1><p class="note" style="color:#fff">{{.T.Simulated}}</p></header>
<main>
{{- if .Error}}
<h2 class="error" role="alert">{{.T.Failed}}</h2>
<p>{{.Error}}</p>
{{- else}}
<h2 id="order">{{.T.Order}}</h2>
<dl aria-labelledby="order">
<dt>{{.T.Merchant}}</dt><dd>{{.Merchant}}</dd>
<dt>{{.T.Reference}}</dt><dd>{{.Ref}}</dd>
<dt>{{.T.Description}}</dt><dd>{{.Description}}</dd>
<dt>{{.T.Amount}}</dt><dd class="amount">{{.Amount}} ₫</dd>
</dl>
{{- if .Pending}}
<form method="post" action="{{.Action}}">
<button type="submit" name="outcome" value="success">{{.T.Approve}}</button>
<button type="submit" name="outcome" value="decline">{{.T.Decline}}</button>
</form>
{{- else}}
<p role="status">{{.T.Done}}: <strong>{{.Status}}</strong></p>
{{- if .ReturnURL}}<p><a href="{{.ReturnURL}}">{{.T.Back}}</a></p>{{end}}
{{- end}}
{{- end}}
</main>
</body>
</html>
`))

// pageTexts are the page's words in one language.
type pageTexts struct {
	Title, Simulated, Order, Merchant, Reference, Description, Amount string
	Approve, Decline, Done, Back, Failed                              string
	Statuses                                                          map[Status]string
}

var texts = map[string]pageTexts{
	"vi": {
		Title: "Thanh toán", Simulated: "Cổng thanh toán mô phỏng — không có tiền thật",
		Order: "Thông tin giao dịch", Merchant: "Đơn vị chấp nhận", Reference: "Mã giao dịch",
		Description: "Nội dung", Amount: "Số tiền", Approve: "Xác nhận thanh toán", Decline: "Từ chối",
		Done: "Giao dịch đã được xử lý", Back: "Quay lại trang của đơn vị", Failed: "Không thể thực hiện giao dịch",
		Statuses: map[Status]string{StatusPending: "đang chờ", StatusSucceeded: "thành công", StatusFailed: "không thành công"},
	},
	"en": {
		Title: "Payment", Simulated: "Simulated payment gateway — no real money",
		Order: "Payment details", Merchant: "Merchant", Reference: "Transaction reference",
		Description: "Description", Amount: "Amount", Approve: "Approve payment", Decline: "Decline",
		Done: "This payment has been processed", Back: "Back to the merchant", Failed: "The payment cannot proceed",
		Statuses: map[Status]string{StatusPending: "pending", StatusSucceeded: "succeeded", StatusFailed: "failed"},
	},
}

// brands are each gateway's name and colour on its page.
var brands = map[string][2]string{
	VNPAY:   {"VNPAY", "#005baa"},
	MoMo:    {"MoMo", "#a50064"},
	ZaloPay: {"ZaloPay", "#0068ff"},
}

type pageData struct {
	Lang, Brand, Color                         string
	T                                          pageTexts
	Merchant, Ref, Description, Amount, Status string
	Pending                                    bool
	Action, ReturnURL, Error                   string
}

// formatVND writes whole VND the Vietnamese way: 1.500.000.
func formatVND(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, '.')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

func lang(r *http.Request, locale string) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "vi" {
		return l
	}
	if locale == "en" {
		return "en"
	}
	return "vi"
}

func (s *Sim) merchant(gateway string) string {
	switch gateway {
	case VNPAY:
		return s.cfg.VNPAY.TmnCode
	case MoMo:
		return s.cfg.MoMo.PartnerCode
	default:
		return "app " + strconv.FormatInt(s.cfg.ZaloPay.AppID, 10)
	}
}

// renderPage writes the pay page of t, or an error page when errMsg is set.
func (s *Sim) renderPage(w http.ResponseWriter, r *http.Request, gateway string, t *Transaction, status int, errMsg string) {
	locale := ""
	if t != nil {
		locale = t.Wire.Locale
	}
	d := pageData{Lang: lang(r, locale), Brand: brands[gateway][0], Color: brands[gateway][1], Error: errMsg}
	d.T = texts[d.Lang]
	if t != nil {
		d.Merchant, d.Ref, d.Description = s.merchant(gateway), t.Ref, t.Description
		d.Amount, d.Status = formatVND(t.Amount), d.T.Statuses[t.Status]
		d.Pending = t.Status == StatusPending
		d.Action = payURL(s.publicBase(r), gateway, t.Ref)
		if !d.Pending {
			d.ReturnURL = s.redirectOf(*t)
		}
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirectOf is the browser redirect of a final transaction (no callback sent).
func (s *Sim) redirectOf(t Transaction) string {
	switch t.Gateway {
	case VNPAY:
		return s.vnpayReturn(t)
	case MoMo:
		return s.momoReturn(t)
	default:
		return s.zalopayReturn(t)
	}
}

// payPageHandler serves GET /{gateway}/pay/{ref}.
func (s *Sim) payPageHandler(gateway string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := s.Transaction(gateway, r.PathValue("ref"))
		if err != nil {
			s.renderPage(w, r, gateway, nil, errorStatus(err), err.Error())
			return
		}
		s.renderPage(w, r, gateway, &t, http.StatusOK, "")
	}
}

// payFormHandler serves the pay page's form: POST /{gateway}/pay/{ref}
// with outcome=success|decline; it redirects the browser (303) to the
// merchant's return URL with the signed result.
func (s *Sim) payFormHandler(gateway string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.renderPage(w, r, gateway, nil, http.StatusBadRequest, "form: "+err.Error())
			return
		}
		res, err := s.Pay(PayRequest{Gateway: gateway, Ref: r.PathValue("ref"), Outcome: r.PostForm.Get("outcome"),
			Code: r.PostForm.Get("code")})
		if err != nil {
			s.renderPage(w, r, gateway, nil, errorStatus(err), err.Error())
			return
		}
		if res.RedirectURL != "" {
			http.Redirect(w, r, res.RedirectURL, http.StatusSeeOther)
			return
		}
		s.renderPage(w, r, gateway, &res.Transaction, http.StatusOK, "")
	}
}
