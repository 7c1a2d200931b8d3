package pages

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/civicpay/civicpay/payments"
)

func TestMaskName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"three words", "Nguyễn Văn An", "Ng*** V** An"},
		{"diacritics everywhere", "Trần Thị Bình", "Tr*** T** Bình"},
		{"đ and stacked marks", "Đặng Hữu Lộc", "Đặ*** H** Lộc"},
		{"decomposed input (NFD) is composed first", norm.NFD.String("Nguyễn Ánh"), "Ng*** Ánh"},
		{"four words", "Tôn Nữ Thị Ngọc", "Tô*** N** T** Ngọc"},
		{"two-letter family name keeps one", "Lê An", "L*** An"},
		{"one-letter first word keeps none", "Ư Hoa", "*** Hoa"},
		{"one-letter middle word keeps none", "Phan Y Linh", "Ph*** ** Linh"},
		{"one word is never shown whole", "Hoa", "Ho***"},
		{"one short word", "An", "A***"},
		{"one letter", "Y", "***"},
		{"extra white space", "  Nguyễn \t Văn\u00a0 An  ", "Ng*** V** An"},
		{"business name", "Công ty TNHH Ánh Dương", "Cô*** t** T** Á** Dương"},
		{"empty", "", ""},
		{"only spaces", "   ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MaskName(tc.in); got != tc.want {
				t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// A combining mark is never cut from its letter, whatever the input form.
	if got := MaskName("Nu\u0303\u0301ng An"); got != norm.NFC.String("Nu\u0303\u0301")+"*** An" {
		t.Errorf("mark cut from its letter: %q", got)
	}
}

func TestProofFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		payer        payments.Payer
		kind, answer string
		right, wrong []string
	}{
		{"phone", payments.Payer{Phone: "0901234567"}, proofPhone, "4567", []string{"4567", " 45 67 ", "4-5-6-7"}, []string{"567", "1234", "", "45678"}},
		{"international phone", payments.Payer{Phone: "+84901234567"}, proofPhone, "4567", []string{"4567"}, []string{"+84"}},
		{"phone wins over email", payments.Payer{Phone: "0901234567", Email: "an@example.vn"}, proofPhone, "4567", []string{"4567"}, []string{"an@example.vn"}},
		{"email when no phone", payments.Payer{Email: "Binh.Tran@Example.vn"}, proofEmail, "binh.tran@example.vn",
			[]string{"binh.tran@example.vn", " BINH.TRAN@EXAMPLE.VN "}, []string{"bin", "binh.tran", "binh.tran@example.com", ""}},
		{"phone too short, email used", payments.Payer{Phone: "123", Email: "an@example.vn"}, proofEmail, "an@example.vn", []string{"an@example.vn"}, []string{"123"}},
		{"neither", payments.Payer{Name: "Nguyễn Văn An"}, "", "", nil, []string{"", "0000", "an@example.vn"}},
		{"email without @ is no proof", payments.Payer{Email: "nobody"}, "", "", nil, []string{"nobody"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kind, answer := proofFor(tc.payer)
			if kind != tc.kind || answer != tc.answer {
				t.Errorf("proofFor = %q %q, want %q %q", kind, answer, tc.kind, tc.answer)
			}
			for _, typed := range tc.right {
				if !proofMatches(tc.payer, typed) {
					t.Errorf("%q refused", typed)
				}
			}
			for _, typed := range tc.wrong {
				if proofMatches(tc.payer, typed) {
					t.Errorf("%q accepted", typed)
				}
			}
		})
	}
}

// TestSensitiveOrderHiddenUntilProof: the pay page and the receipt of an order
// for a criminal-record certificate show neither the payer's full name nor the
// service (its name, code or the order's description) to whoever holds the
// reference; a wrong proof shows nothing more; the right one shows both, on a
// page that is not cached. On main the pages showed both to anyone.
func TestSensitiveOrderHiddenUntilProof(t *testing.T) {
	t.Parallel()
	secret := []string{testPayer, testSensitiveService, "STP-LLTP", testSensitiveDesc, "Lý lịch", "lý lịch"}
	tests := []struct {
		name         string
		status       payments.Status
		path, reveal string
		phone, email string
		right, wrong string
		field        string // the proof input's type
	}{
		{"pay page, phone", payments.StatusOpen, "/pay/%s", "/pay/%s/reveal", "0901234567", "", "4567", "4568", `type="text"`},
		{"pay page, email", payments.StatusOpen, "/pay/%s", "/pay/%s/reveal", "", "hoa.nguyen@example.vn", "Hoa.Nguyen@example.vn", "hoa@example.vn", `type="email"`},
		{"receipt, phone", payments.StatusPaid, "/receipts/%s", "/receipts/%s/reveal", "+84901234567", "an@example.vn", "4567", "an@example.vn", `type="text"`},
		{"receipt, email", payments.StatusPartiallyRefunded, "/receipts/%s", "/receipts/%s/reveal", "", "hoa.nguyen@example.vn", "hoa.nguyen@example.vn", "0000", `type="email"`},
	}
	for i, tc := range tests {
		for _, lang := range []string{langVI, langEN} {
			t.Run(tc.name+" "+lang, func(t *testing.T) {
				t.Parallel()
				o := sensitiveOrder(t, fmt.Sprintf("1200000000000%d%d", i, len(lang)), tc.status, tc.phone, tc.email)
				e := newEnv(t, allClosed, o)
				q := "?lang=" + lang
				generic := "<td>" + map[string]string{langVI: "Dịch vụ công", langEN: "Public service"}[lang] + "</td>"

				r := e.get(t, fmt.Sprintf(tc.path, o.Reference)+q)
				if r.status != http.StatusOK {
					t.Fatalf("GET: status %d", r.status)
				}
				text := html.UnescapeString(r.body)
				mustNotContain(t, text, secret...)
				mustContain(t, text, testPayerMasked, generic, testJusticeAgency, "150", "200", `id="proof-form"`, tc.field,
					`action="`+fmt.Sprintf(tc.reveal, o.Reference)+q+`"`)

				r = e.post(t, fmt.Sprintf(tc.reveal, o.Reference)+q, url.Values{"proof": {tc.wrong}})
				if r.status != http.StatusForbidden {
					t.Fatalf("wrong proof: status %d, want 403", r.status)
				}
				text = html.UnescapeString(r.body)
				mustNotContain(t, text, secret...)
				mustContain(t, text, testPayerMasked, `id="proof-error"`, map[string]string{langVI: "không khớp", langEN: "does not match"}[lang])

				r = e.post(t, fmt.Sprintf(tc.reveal, o.Reference)+q, url.Values{"proof": {tc.right}})
				if r.status != http.StatusOK {
					t.Fatalf("right proof: status %d, want 200", r.status)
				}
				text = html.UnescapeString(r.body)
				mustContain(t, text, testPayer, testSensitiveService, testSensitiveDesc, testJusticeAgency, `id="revealed"`)
				mustNotContain(t, text, testPayerMasked, generic, `id="proof-form"`, testNationalID)
				if cc := r.header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("revealed page Cache-Control %q, want no-store", cc)
				}
				// Nothing is remembered: the next GET is masked again.
				mustNotContain(t, html.UnescapeString(e.get(t, fmt.Sprintf(tc.path, o.Reference)+q).body), secret...)
			})
		}
	}
}

// TestSensitiveOtherPagesHidden: the return page, the QR page and an order with
// neither phone nor email (whose detail is never shown publicly) hide the
// name and the service too; with the catalogue down, no service is named.
func TestSensitiveOtherPagesHidden(t *testing.T) {
	t.Parallel()
	secret := []string{testPayer, testSensitiveService, "STP-LLTP", testSensitiveDesc}
	o := sensitiveOrder(t, "130000000000001", payments.StatusOpen, "0901234567", "")
	e := newEnv(t, allClosed, o)
	e.flow.answer = func(StartRequest) Started { return Started{QRPayload: "000201010212"} }
	for _, r := range []response{
		e.get(t, "/return/"+o.Reference),
		e.post(t, "/pay/"+o.Reference, url.Values{"method": {"bank_transfer:vietqr"}}),
	} {
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		mustNotContain(t, html.UnescapeString(r.body), secret...)
		mustContain(t, html.UnescapeString(r.body), testPayerMasked, "Dịch vụ công")
	}

	t.Run("no phone, no email", func(t *testing.T) {
		t.Parallel()
		o := sensitiveOrder(t, "130000000000002", payments.StatusOpen, "", "")
		e := newEnv(t, allClosed, o)
		r := e.get(t, "/pay/"+o.Reference+"?lang=en")
		mustNotContain(t, html.UnescapeString(r.body), append(secret, `id="proof-form"`)...)
		mustContain(t, html.UnescapeString(r.body), "only the agency can give the full details")
		for _, guess := range []string{"", "0000", "an@example.vn"} {
			r := e.post(t, "/pay/"+o.Reference+"/reveal", url.Values{"proof": {guess}})
			if r.status != http.StatusForbidden {
				t.Errorf("proof %q: status %d, want 403", guess, r.status)
			}
			mustNotContain(t, html.UnescapeString(r.body), secret...)
		}
	})

	t.Run("catalogue down", func(t *testing.T) {
		t.Parallel()
		o := sensitiveOrder(t, "130000000000003", payments.StatusOpen, "0901234567", "")
		e := newEnvDeps(t, func(d *Deps) { d.Catalogue = failingCatalogue{} }, Config{PublicURL: testPublicURL}, allClosed, o)
		r := e.get(t, "/pay/"+o.Reference)
		if r.status != http.StatusOK {
			t.Fatalf("status %d", r.status)
		}
		mustNotContain(t, html.UnescapeString(r.body), append(secret, "POSTAGE")...)
	})

	t.Run("service that is not sensitive stays named", func(t *testing.T) {
		t.Parallel()
		o := testOrder(t, "130000000000004", payments.StatusOpen)
		o.Payer.Phone = "0901234567"
		text := html.UnescapeString(newEnv(t, allClosed, o).get(t, "/pay/"+o.Reference).body)
		mustContain(t, text, "Lệ phí cấp hộ chiếu", "Cấp hộ chiếu phổ thông", testPayerMasked, `id="proof-form"`)
		mustNotContain(t, text, testPayer, "Dịch vụ công")
	})
}

// TestProofAttemptsLimited: after 5 wrong proofs within 15 minutes every proof
// for that reference is refused with 429 and Retry-After — even the right one —
// while other references are unaffected; once the oldest failure is 15 minutes
// old, a proof is checked again. The clock is the limiter's, moved by the test.
func TestProofAttemptsLimited(t *testing.T) {
	t.Parallel()
	a := sensitiveOrder(t, "140000000000001", payments.StatusOpen, "0901234567", "")
	b := sensitiveOrder(t, "140000000000002", payments.StatusOpen, "0901234567", "")
	e := newEnv(t, allClosed, a, b)
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	e.h.proofs.now = func() time.Time { return now }
	prove := func(o payments.Order, proof string) response {
		t.Helper()
		return e.post(t, "/pay/"+o.Reference+"/reveal?lang=en", url.Values{"proof": {proof}})
	}
	for i := range 5 {
		if r := prove(a, fmt.Sprintf("%04d", i)); r.status != http.StatusForbidden {
			t.Fatalf("wrong proof %d: status %d, want 403", i+1, r.status)
		}
		now = now.Add(time.Minute)
	}
	r := prove(a, "4567")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("6th proof (right): status %d, want 429", r.status)
	}
	if ra := r.header.Get("Retry-After"); ra != "600" { // the first failure leaves the window 10 minutes from now
		t.Errorf("Retry-After %q, want 600", ra)
	}
	text := html.UnescapeString(r.body)
	mustContain(t, text, "Too many wrong attempts", "10 minutes")
	mustNotContain(t, text, testPayer, testSensitiveService)

	if r := prove(b, "4567"); r.status != http.StatusOK {
		t.Errorf("another reference: status %d, want 200", r.status)
	}
	now = now.Add(9*time.Minute + 59*time.Second)
	if r := prove(a, "4567"); r.status != http.StatusTooManyRequests {
		t.Errorf("1s before the window ends: status %d, want 429", r.status)
	}
	now = now.Add(time.Second)
	r = prove(a, "4567")
	if r.status != http.StatusOK {
		t.Fatalf("after the window: status %d, want 200", r.status)
	}
	mustContain(t, html.UnescapeString(r.body), testPayer, testSensitiveService)
	// The other four failures are still in the window: one more wrong proof locks again.
	if r := prove(a, "0000"); r.status != http.StatusForbidden {
		t.Fatalf("wrong proof: %d", r.status)
	}
	if r := prove(a, "4567"); r.status != http.StatusTooManyRequests {
		t.Errorf("after a fifth failure in the window: status %d, want 429", r.status)
	}
}

func TestProofLimiterTableFull(t *testing.T) {
	t.Parallel()
	l := newProofLimiter(2, time.Minute, 2)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	l.fail("A")
	l.fail("B")
	if ok, _ := l.allow("C"); ok {
		t.Error("a third reference was allowed with the table full of live failures")
	}
	if ok, _ := l.allow("A"); !ok {
		t.Error("a reference already counted was refused before its limit")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.allow("C"); !ok {
		t.Error("expired failures were not swept")
	}
}

// TestVerifyRefunded: a receipt of a refunded order verifies as refunded, with
// the amount and date, and is said not to be proof of payment; a partly
// refunded one verifies as valid, partly refunded, with amount and date. On main
// both verified as plainly valid.
func TestVerifyRefunded(t *testing.T) {
	t.Parallel()
	refundedAt := time.Date(2026, 12, 1, 2, 5, 0, 0, time.UTC) // 09:05 in Hanoi
	full := testOrder(t, "150000000000001", payments.StatusRefunded)
	full.AmountRefunded = full.AmountPaid
	part := testOrder(t, "150000000000002", payments.StatusPartiallyRefunded)
	paid := testOrder(t, "150000000000003", payments.StatusPaid)
	e := newEnvDeps(t, func(d *Deps) { d.Refunds = fixedRefunds{refundedAt} }, Config{PublicURL: testPublicURL}, allClosed, full, part, paid)
	tests := []struct {
		name   string
		o      payments.Order
		result string
		vi, en string
	}{
		{"refunded", full, "refunded",
			"Đã hoàn trả: khoản 200.000" + nbsp + "₫ thanh toán lúc 14:30 ngày 24/11/2026 (GMT+7) đã được hoàn trả 200.000" + nbsp + "₫ lúc 09:05 ngày 01/12/2026 (GMT+7). Biên lai này không còn là bằng chứng đã nộp tiền.",
			"Refunded: the payment of 200,000" + nbsp + "₫ made at 24 Nov 2026, 14:30 (GMT+7) was refunded, 200,000" + nbsp + "₫ on 1 Dec 2026, 09:05 (GMT+7). This receipt is no longer proof of payment."},
		{"partially refunded", part, "partially_refunded",
			"Hợp lệ: biên lai khớp với khoản 200.000" + nbsp + "₫ đã thanh toán lúc 14:30 ngày 24/11/2026 (GMT+7). Đã hoàn trả một phần: 50.000" + nbsp + "₫ lúc 09:05 ngày 01/12/2026 (GMT+7).",
			"Valid: this receipt matches a payment of 200,000" + nbsp + "₫ made at 24 Nov 2026, 14:30 (GMT+7). Partially refunded: 50,000" + nbsp + "₫ on 1 Dec 2026, 09:05 (GMT+7)."},
		{"paid", paid, "ok", "Hợp lệ: biên lai khớp", "Valid: this receipt matches"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _ := e.h.ReceiptCode(tc.o)
			for lang, want := range map[string]string{langVI: tc.vi, langEN: tc.en} {
				r := e.get(t, "/receipts/"+tc.o.Reference+"/verify?lang="+lang+"&code="+url.QueryEscape(code))
				if r.status != http.StatusOK {
					t.Fatalf("status %d", r.status)
				}
				mustContain(t, html.UnescapeString(r.body), want, `data-result="`+tc.result+`"`)
				if tc.result == "refunded" {
					mustNotContain(t, html.UnescapeString(r.body), "Hợp lệ", "Valid:")
				}
			}
			// A wrong code is wrong whatever was refunded.
			bad := e.get(t, "/receipts/"+tc.o.Reference+"/verify?code=AAAA-AAAA-AAAA-AAAA")
			mustContain(t, bad.body, `data-result="bad"`)
		})
	}
	t.Run("receipt says when", func(t *testing.T) {
		t.Parallel()
		text := html.UnescapeString(e.get(t, "/receipts/"+full.Reference+"?lang=en").body)
		mustContain(t, text, "200,000"+nbsp+"₫ · 1 Dec 2026, 09:05 (GMT+7)", `id="refunded-notice"`, "no longer proof of payment")
		mustNotContain(t, html.UnescapeString(e.get(t, "/receipts/"+part.Reference).body), `id="refunded-notice"`)
	})
}

// Without Refunds, the order's last update dates the refund.
func TestRefundDateFallsBackToUpdate(t *testing.T) {
	t.Parallel()
	o := testOrder(t, "150000000000004", payments.StatusRefunded)
	o.AmountRefunded = o.AmountPaid
	o.UpdatedAt = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	e := newEnv(t, allClosed, o)
	code, _ := e.h.ReceiptCode(o)
	r := e.get(t, "/receipts/"+o.Reference+"/verify?lang=en&code="+code)
	mustContain(t, html.UnescapeString(r.body), "on 2 Dec 2026, 10:00 (GMT+7)", `data-result="refunded"`)
}
