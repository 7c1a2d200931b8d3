package receipt

// labels are the receipt's fixed words, Vietnamese then English; the ones the
// HTML receipt also shows are worded as it words them (payments/pages/i18n.go).
var labels = map[string][2]string{
	"site":         {"Thanh toán dịch vụ công", "Public service payments"},
	"title":        {"Biên lai thanh toán", "Payment receipt"},
	"void":         {"Khoản này đã được hoàn trả toàn bộ: biên lai không còn là bằng chứng đã nộp tiền.", "This payment was refunded in full: the receipt is no longer proof of payment."},
	"reference":    {"Mã thanh toán", "Payment reference"},
	"agency":       {"Cơ quan thu", "Collecting agency"},
	"payer":        {"Người nộp", "Payer"},
	"id":           {"Số định danh", "ID number"},
	"desc":         {"Nội dung", "Description"},
	"status":       {"Trạng thái", "Status"},
	"paid_at":      {"Thời gian thanh toán", "Paid at"},
	"gateway":      {"Cổng thanh toán", "Payment gateway"},
	"gateway_ref":  {"Mã giao dịch của cổng", "Gateway reference"},
	"refunded":     {"Đã hoàn trả", "Refunded"},
	"lines":        {"Chi tiết các khoản", "Items"},
	"line.service": {"Dịch vụ", "Service"},
	"line.kind":    {"Loại", "Type"},
	"line.agency":  {"Cơ quan", "Agency"},
	"line.amount":  {"Số tiền", "Amount"},
	"total":        {"Tổng cộng", "Total"},
	"code":         {"Mã xác thực", "Verification code"},
	"how":          {"Để kiểm tra biên lai này, quét mã QR hoặc mở địa chỉ dưới đây và nhập mã xác thực:", "To check this receipt, scan the QR code or open the address below and enter the verification code:"},
	"footer":       {"Mọi khoản thu được ghi nhận cho cơ quan nhà nước có thẩm quyền. Biên lai điện tử này có giá trị khi mã xác thực được kiểm tra là hợp lệ.", "Every payment is recorded for the public agency it is owed to. This electronic receipt is valid when its verification code checks as valid."},
}

// label is key's text in lang; an unknown key is itself.
func label(lang, key string) string {
	l, ok := labels[key]
	if !ok {
		return key
	}
	if lang == EN {
		return l[1]
	}
	return l[0]
}
