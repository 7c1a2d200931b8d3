package pages

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/lang"
)

// The page languages. Vietnamese is the default.
const (
	langVI = lang.VI
	langEN = lang.EN
)

// langCookie remembers an explicit ?lang= choice, so the page the gateway sends
// the browser back to speaks the same language (return URLs carry no query string).
const langCookie = "civicpay_lang"

// pickLang chooses the page language: ?lang=vi|en, else the cookie an earlier
// ?lang= set, else Accept-Language, else Vietnamese.
func (h *Handler) pickLang(c *fiber.Ctx) string {
	return lang.Chooser{Cookie: langCookie, Path: "/", Secure: h.secure}.Pick(c)
}

// acceptLanguage picks vi or en from an Accept-Language header.
func acceptLanguage(header string) string { return lang.FromAcceptLanguage(header) }

// tr translates a message key into lang, formatting args into it. An unknown key
// comes back as itself (a test checks every key the templates use exists).
func tr(lang, key string, args ...any) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	s := m.vi
	if lang == langEN {
		s = m.en
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// trOr is tr for keys built from data (an order's status, a line's kind):
// a value with no message shows as itself.
func trOr(lang, key, fallback string) string {
	if _, ok := messages[key]; !ok {
		return fallback
	}
	return tr(lang, key)
}

type message struct{ vi, en string }

// messages holds every string the pages show, in both languages.
var messages = map[string]message{
	"site.name":  {"Thanh toán dịch vụ công", "Public service payments"},
	"skip":       {"Chuyển đến nội dung chính", "Skip to main content"},
	"lang.nav":   {"Ngôn ngữ", "Language"},
	"lang.other": {"English", "Tiếng Việt"},
	"footer":     {"Mọi khoản thu được ghi nhận cho cơ quan nhà nước có thẩm quyền. Trang này dùng được không cần JavaScript.", "Every payment is recorded for the public agency it is owed to. This page works without JavaScript."},

	"pay.title":        {"Thanh toán", "Pay"},
	"pay.heading":      {"Thanh toán khoản phải nộp", "Pay what you owe"},
	"pay.pending":      {"Một giao dịch thanh toán cho khoản này đang chờ cổng thanh toán xác nhận. Nếu bạn đã thanh toán, đừng thanh toán lại.", "A payment for this is waiting for the gateway's confirmation. If you have paid, do not pay again."},
	"pay.pending.link": {"Xem trạng thái thanh toán", "See the payment status"},
	"order.summary":    {"Thông tin khoản thu", "Payment details"},
	"order.reference":  {"Mã thanh toán", "Payment reference"},
	"order.payer":      {"Người nộp", "Payer"},
	"order.id":         {"Số định danh", "ID number"},
	"order.desc":       {"Nội dung", "Description"},
	"order.agency":     {"Cơ quan thu", "Collecting agency"},
	"order.expires":    {"Hạn thanh toán", "Pay by"},
	"order.status":     {"Trạng thái", "Status"},
	"order.lines":      {"Chi tiết các khoản", "Items"},
	"line.service":     {"Dịch vụ", "Service"},
	"line.kind":        {"Loại", "Type"},
	"line.agency":      {"Cơ quan", "Agency"},
	"line.amount":      {"Số tiền", "Amount"},
	"order.total":      {"Tổng cộng", "Total"},
	"service.generic":  {"Dịch vụ công", "Public service"},

	"proof.heading": {"Xem đầy đủ thông tin", "See the full details"},
	"proof.intro":   {"Để bảo vệ người nộp, trang này ẩn bớt một số thông tin (họ tên, dịch vụ nhạy cảm). Nếu bạn là người nộp, hãy xác nhận để xem đầy đủ.", "To protect the payer, this page hides some details (the name, a sensitive service). If you are the payer, confirm to see everything."},
	"proof.phone":   {"4 chữ số cuối của số điện thoại đã đăng ký cho khoản này", "The last 4 digits of the phone number given for this payment"},
	"proof.email":   {"Địa chỉ email đã đăng ký cho khoản này", "The email address given for this payment"},
	"proof.submit":  {"Xem đầy đủ", "Show the details"},
	"proof.none":    {"Khoản này không có số điện thoại hay email để xác nhận: thông tin đầy đủ chỉ có tại cơ quan thu.", "This payment has no phone number or email to confirm with: only the agency can give the full details."},
	"proof.wrong":   {"Thông tin xác nhận không khớp.", "That does not match."},
	"proof.limited": {"Đã nhập sai quá nhiều lần. Vui lòng thử lại sau %d phút.", "Too many wrong attempts. Please try again in %d minutes."},
	"proof.shown":   {"Đang hiển thị đầy đủ thông tin. Trang này không được lưu lại; hãy đóng trang khi xong.", "Showing the full details. This page is not stored; close it when you are done."},

	"kind.fee":    {"Phí", "Fee"},
	"kind.charge": {"Lệ phí", "Charge"},
	"kind.tax":    {"Thuế", "Tax"},
	"kind.fine":   {"Tiền phạt", "Fine"},

	"status.open":               {"Chờ thanh toán", "Awaiting payment"},
	"status.paid":               {"Đã thanh toán", "Paid"},
	"status.partially_refunded": {"Đã thanh toán, hoàn trả một phần", "Paid, partly refunded"},
	"status.refunded":           {"Đã thanh toán, đã hoàn trả", "Paid, refunded"},
	"status.cancelled":          {"Đã hủy", "Cancelled"},
	"status.expired":            {"Đã hết hạn", "Expired"},

	"methods.legend":          {"Chọn phương thức thanh toán", "Choose how to pay"},
	"methods.hint":            {"Bạn sẽ được chuyển đến trang của cổng thanh toán, hoặc nhận mã QR để chuyển khoản.", "You will be taken to the payment gateway's page, or given a QR code for a bank transfer."},
	"methods.submit":          {"Tiếp tục thanh toán", "Continue to payment"},
	"methods.none":            {"Hiện chưa có phương thức thanh toán nào khả dụng. Vui lòng thử lại sau ít phút.", "No payment method is available right now. Please try again in a few minutes."},
	"method.card":             {"Thẻ ngân hàng (ATM, Visa, Mastercard)", "Bank card (ATM, Visa, Mastercard)"},
	"method.internet_banking": {"Ngân hàng trực tuyến (Internet Banking)", "Internet banking"},
	"method.qr":               {"Quét mã QR bằng ứng dụng ngân hàng", "Scan a QR code with your banking app"},
	"method.ewallet":          {"Ví điện tử", "E-wallet"},
	"method.bank_transfer":    {"Chuyển khoản ngân hàng", "Bank transfer"},
	"method.via":              {"qua %s", "via %s"},

	"err.title":       {"Có lỗi", "There is a problem"},
	"err.choose":      {"Vui lòng chọn một phương thức thanh toán.", "Please choose a payment method."},
	"err.unavailable": {"Phương thức này tạm thời không khả dụng. Vui lòng chọn phương thức khác.", "That payment method is temporarily unavailable. Please choose another."},
	"err.start":       {"Chưa thể bắt đầu thanh toán. Vui lòng thử lại.", "We could not start the payment. Please try again."},
	"err.attempts":    {"Đã có quá nhiều lần thanh toán đang chờ cho khoản này. Vui lòng hoàn tất một lần đang chờ hoặc thử lại sau ít phút.", "Too many payments are already waiting for this order. Please finish one of them, or try again in a few minutes."},

	"closed.paid":      {"Khoản này đã được thanh toán.", "This has already been paid."},
	"closed.cancelled": {"Yêu cầu thanh toán này đã bị hủy lúc %s nên không thể thanh toán.", "This payment request was cancelled at %s and can no longer be paid."},
	"closed.expired":   {"Yêu cầu thanh toán này đã hết hạn lúc %s. Vui lòng liên hệ cơ quan thu để được cấp yêu cầu mới.", "This payment request expired at %s. Please ask the agency for a new one."},
	"receipt.link":     {"Xem biên lai", "View the receipt"},

	"qr.title":        {"Chuyển khoản VietQR", "VietQR bank transfer"},
	"qr.heading":      {"Chuyển khoản bằng mã VietQR", "Pay by bank transfer with VietQR"},
	"qr.instructions": {"Mở ứng dụng ngân hàng, quét mã QR dưới đây và xác nhận chuyển khoản. Số tiền và nội dung chuyển khoản đã có sẵn trong mã.", "Open your banking app, scan the QR code below and confirm the transfer. The amount and the transfer message are already in the code."},
	"qr.label":        {"Mã QR chuyển khoản %s, nội dung %s", "QR code for a transfer of %s with the message %s"},
	"qr.amount":       {"Số tiền", "Amount"},
	"qr.memo":         {"Nội dung chuyển khoản (ghi chính xác nếu nhập tay)", "Transfer message (type it exactly if you enter it by hand)"},
	"qr.done":         {"Tôi đã chuyển khoản — xem trạng thái", "I have made the transfer — check the status"},

	"return.title":   {"Trạng thái thanh toán", "Payment status"},
	"return.heading": {"Trạng thái thanh toán", "Payment status"},
	"return.pending": {"Đang chờ xác nhận — chúng tôi đang chờ cổng thanh toán xác nhận giao dịch.", "Pending — we are waiting for the gateway's confirmation."},
	"return.refresh": {"Trang này tự cập nhật sau mỗi %d giây. Bạn không cần thanh toán lại.", "This page updates itself every %d seconds. You do not need to pay again."},
	"return.check":   {"Kiểm tra lại ngay", "Check again now"},
	"return.paid":    {"Đã thanh toán — xin cảm ơn.", "Paid — thank you."},
	"return.failed":  {"Giao dịch chưa thành công. Bạn có thể thử lại hoặc chọn phương thức khác.", "The payment did not go through. You can try again or choose another method."},
	"return.none":    {"Chưa có giao dịch thanh toán nào cho khoản này.", "No payment has been started for this yet."},
	"return.pay":     {"Thanh toán", "Pay now"},
	"return.again":   {"Thử lại", "Try again"},
	"return.note":    {"Trạng thái này lấy từ hệ thống của chúng tôi sau khi cổng thanh toán xác nhận, không phải từ thông báo trên trình duyệt.", "This status comes from our records once the gateway confirms, not from what the browser was told."},

	"receipt.title":    {"Biên lai thanh toán", "Payment receipt"},
	"receipt.heading":  {"Biên lai thanh toán", "Payment receipt"},
	"receipt.paid_at":  {"Thời gian thanh toán", "Paid at"},
	"receipt.refunded": {"Đã hoàn trả", "Refunded"},
	"receipt.void":     {"Khoản này đã được hoàn trả toàn bộ: biên lai không còn là bằng chứng đã nộp tiền.", "This payment was refunded in full: the receipt is no longer proof of payment."},
	"receipt.code":     {"Mã xác thực", "Verification code"},
	"receipt.pdf":      {"Tải biên lai PDF", "Download PDF receipt"},
	"receipt.how":      {"Để kiểm tra biên lai này, mở địa chỉ dưới đây và nhập mã xác thực:", "To check this receipt, open the address below and enter the verification code:"},

	"verify.title":     {"Kiểm tra biên lai", "Verify a receipt"},
	"verify.heading":   {"Kiểm tra biên lai", "Verify a receipt"},
	"verify.label":     {"Mã xác thực in trên biên lai", "Verification code printed on the receipt"},
	"verify.hint":      {"16 chữ và số, ví dụ 7K3M-9QXA-2BHD-5RTW. Không phân biệt chữ hoa, chữ thường.", "16 letters and digits, e.g. 7K3M-9QXA-2BHD-5RTW. Upper or lower case."},
	"verify.submit":    {"Kiểm tra", "Verify"},
	"verify.ok":        {"Hợp lệ: biên lai khớp với khoản %s đã thanh toán lúc %s.", "Valid: this receipt matches a payment of %s made at %s."},
	"verify.partial":   {"Hợp lệ: biên lai khớp với khoản %s đã thanh toán lúc %s. Đã hoàn trả một phần: %s lúc %s.", "Valid: this receipt matches a payment of %s made at %s. Partially refunded: %s on %s."},
	"verify.refunded":  {"Đã hoàn trả: khoản %s thanh toán lúc %s đã được hoàn trả %s lúc %s. Biên lai này không còn là bằng chứng đã nộp tiền.", "Refunded: the payment of %s made at %s was refunded, %s on %s. This receipt is no longer proof of payment."},
	"verify.bad":       {"Không hợp lệ: mã xác thực không khớp với khoản thanh toán này.", "Not valid: this code does not match this payment."},
	"verify.malformed": {"Mã xác thực gồm 16 chữ và số. Vui lòng kiểm tra lại.", "A verification code has 16 letters and digits. Please check it."},

	"e400.title":   {"Mã thanh toán không hợp lệ", "Payment reference not valid"},
	"e400.body":    {"Mã thanh toán có dạng RF và các chữ số, ví dụ RF47 1234 5678 9012 345. Vui lòng kiểm tra lại: có thể một ký tự đã bị gõ nhầm.", "A payment reference looks like RF47 1234 5678 9012 345. Please check it: a character may have been mistyped."},
	"e404.title":   {"Không tìm thấy", "Not found"},
	"e404.body":    {"Không có khoản thanh toán nào với mã này.", "There is no payment with this reference."},
	"e404.receipt": {"Chưa có biên lai cho mã này. Biên lai chỉ có sau khi khoản thanh toán được xác nhận.", "There is no receipt for this reference. A receipt exists only once a payment has been confirmed."},
	"e500.title":   {"Đã có lỗi xảy ra", "Something went wrong"},
	"e500.body":    {"Chúng tôi chưa xử lý được yêu cầu. Vui lòng thử lại sau ít phút.", "We could not handle the request. Please try again in a few minutes."},
}
