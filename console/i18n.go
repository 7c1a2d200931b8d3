package console

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/civicpay/civicpay/internal/foundation/lang"
)

// The console's languages, as on the citizen pages: Vietnamese by default.
const (
	langVI = lang.VI
	langEN = lang.EN
)

// langCookie remembers an explicit ?lang= choice.
const langCookie = "civicpay_console_lang"

// pickLang: ?lang=vi|en (remembered in a cookie), else the cookie, else
// Accept-Language, else Vietnamese.
func (h *Handler) pickLang(c *fiber.Ctx) string {
	return lang.Chooser{Cookie: langCookie, Path: basePath, Secure: h.secure}.Pick(c)
}

// tr translates key into lang; an unknown key comes back as itself (a test
// checks that every key the templates use exists).
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

type message struct{ vi, en string }

// addMessages adds a page's messages (each feature keeps its own in its own
// file, registered from an init); a key defined twice is a programming
// error.
func addMessages(m map[string]message) {
	for k, v := range m {
		if _, dup := messages[k]; dup {
			panic("console: message " + k + " defined twice")
		}
		messages[k] = v
	}
}

var messages = map[string]message{
	"site.name":  {"Bảng điều khiển cán bộ", "Staff console"},
	"skip":       {"Chuyển đến nội dung chính", "Skip to main content"},
	"lang.nav":   {"Ngôn ngữ", "Language"},
	"lang.other": {"English", "Tiếng Việt"},
	"footer":     {"Mọi thao tác được ghi vào nhật ký kiểm toán. Trang này dùng được không cần JavaScript.", "Every action is recorded in the audit log. This console works without JavaScript."},

	"nav.label":          {"Điều hướng chính", "Main navigation"},
	"nav.dashboard":      {"Tổng quan", "Dashboard"},
	"nav.payments":       {"Thanh toán", "Payments"},
	"nav.revenue":        {"Doanh thu", "Revenue"},
	"nav.reconciliation": {"Đối soát", "Reconciliation"},
	"nav.settings":       {"Cài đặt", "Settings"},
	"nav.admin":          {"Quản trị", "Admin"},
	"nav.sessions":       {"Phiên đăng nhập", "Your sessions"},
	"nav.logout":         {"Đăng xuất", "Sign out"},
	"user.as":            {"Đăng nhập: %s (%s)", "Signed in as %s (%s)"},

	"role.agency":   {"cơ quan %s", "agency %s"},
	"role.treasury": {"kho bạc", "treasury"},
	"role.admin":    {"quản trị", "admin"},

	"login.title":      {"Đăng nhập", "Sign in"},
	"login.heading":    {"Đăng nhập bảng điều khiển", "Sign in to the console"},
	"login.email":      {"Email", "Email"},
	"login.password":   {"Mật khẩu", "Password"},
	"login.submit":     {"Tiếp tục", "Continue"},
	"login.bad":        {"Email hoặc mật khẩu không đúng.", "The email or password is wrong."},
	"login.locked":     {"Có quá nhiều lần đăng nhập sai. Vui lòng thử lại sau ít phút.", "Too many failed sign-ins. Please try again in a few minutes."},
	"login.incomplete": {"Tài khoản chưa hoàn tất thiết lập. Hãy đề nghị quản trị viên cấp đường dẫn thiết lập mới.", "The account's set-up is not finished. Ask an administrator for a new set-up link."},
	"login.expired":    {"Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.", "Your session has ended. Please sign in again."},
	"login.throttled":  {"Có quá nhiều yêu cầu. Vui lòng thử lại sau %d giây.", "Too many attempts. Please try again in %d seconds."},

	"code.title":   {"Mã xác thực", "Verification code"},
	"code.heading": {"Nhập mã xác thực", "Enter your verification code"},
	"code.label":   {"Mã 6 chữ số trong ứng dụng xác thực, hoặc một mã khôi phục", "The 6-digit code from your authenticator app, or a recovery code"},
	"code.hint":    {"Mã khôi phục có dạng XXXX-XXXX-XXXX-XXXX và chỉ dùng được một lần.", "A recovery code looks like XXXX-XXXX-XXXX-XXXX and works once."},
	"code.submit":  {"Đăng nhập", "Sign in"},
	"code.bad":     {"Mã không đúng.", "That code is not right."},

	"setup.title":    {"Thiết lập tài khoản", "Set up your account"},
	"setup.heading":  {"Đặt mật khẩu", "Choose a password"},
	"setup.for":      {"Tài khoản: %s", "Account: %s"},
	"setup.password": {"Mật khẩu mới", "New password"},
	"setup.hint":     {"Ít nhất %d ký tự. Một cụm vài từ dễ nhớ là lựa chọn tốt.", "At least %d characters. A phrase of a few words is a good choice."},
	"setup.confirm":  {"Nhập lại mật khẩu", "Type the password again"},
	"setup.submit":   {"Đặt mật khẩu", "Set password"},
	"setup.short":    {"Mật khẩu cần ít nhất %d ký tự.", "The password needs at least %d characters."},
	"setup.long":     {"Mật khẩu quá dài.", "The password is too long."},
	"setup.mismatch": {"Hai mật khẩu không khớp.", "The two passwords differ."},
	"setup.invalid":  {"Đường dẫn thiết lập không hợp lệ: đã dùng, đã hết hạn hoặc không tồn tại. Hãy đề nghị quản trị viên cấp đường dẫn mới.", "This set-up link is not valid: used, expired or unknown. Ask an administrator for a new one."},

	"enrol.title":   {"Xác thực hai lớp", "Two-step verification"},
	"enrol.heading": {"Thêm tài khoản vào ứng dụng xác thực", "Add the account to your authenticator app"},
	"enrol.intro":   {"Quét mã QR bằng ứng dụng xác thực (ví dụ Google Authenticator, FreeOTP), hoặc nhập khóa bí mật bằng tay.", "Scan the QR code with an authenticator app (such as Google Authenticator or FreeOTP), or type the secret key in by hand."},
	"enrol.qr":      {"Mã QR để thêm tài khoản %s vào ứng dụng xác thực", "QR code to add the account %s to an authenticator app"},
	"enrol.secret":  {"Khóa bí mật", "Secret key"},
	"enrol.uri":     {"Địa chỉ otpauth", "otpauth address"},
	"enrol.code":    {"Mã 6 chữ số ứng dụng đang hiển thị", "The 6-digit code the app shows"},
	"enrol.submit":  {"Xác nhận", "Confirm"},

	"recovery.title":   {"Mã khôi phục", "Recovery codes"},
	"recovery.heading": {"Lưu các mã khôi phục", "Keep your recovery codes"},
	"recovery.intro":   {"Mỗi mã thay cho mã xác thực một lần, khi bạn không có điện thoại. Các mã chỉ hiển thị lần này: hãy in hoặc lưu ở nơi an toàn.", "Each code stands in for a verification code once, when you do not have your phone. They are shown only now: print them or keep them somewhere safe."},
	"recovery.done":    {"Tôi đã lưu các mã — vào bảng điều khiển", "I have kept them — go to the console"},

	"dash.title":                {"Tổng quan", "Dashboard"},
	"dash.heading":              {"Tổng quan", "Dashboard"},
	"dash.scope.all":            {"Mọi cơ quan thu.", "All collecting agencies."},
	"dash.scope":                {"Cơ quan thu: %s.", "Collecting agency: %s."},
	"dash.revenue":              {"Doanh thu (theo ngày làm việc, GMT+7)", "Revenue (business days, GMT+7)"},
	"dash.period":               {"Khoảng thời gian", "Period"},
	"dash.collected":            {"Đã thu", "Collected"},
	"dash.refunded":             {"Đã hoàn trả", "Refunded"},
	"dash.net":                  {"Thực thu", "Net"},
	"dash.today":                {"Hôm nay", "Today"},
	"dash.yesterday":            {"Hôm qua", "Yesterday"},
	"dash.7":                    {"7 ngày gần nhất", "Last 7 days"},
	"dash.30":                   {"30 ngày gần nhất", "Last 30 days"},
	"dash.none":                 {"Chưa có khoản thu nào.", "Nothing collected."},
	"dash.orders":               {"Yêu cầu thanh toán tạo trong 30 ngày gần nhất", "Payment requests created in the last 30 days"},
	"dash.status":               {"Trạng thái", "Status"},
	"dash.count":                {"Số lượng", "Count"},
	"status.open":               {"Chờ thanh toán", "Open"},
	"status.paid":               {"Đã thanh toán", "Paid"},
	"status.expired":            {"Đã hết hạn", "Expired"},
	"status.partially_refunded": {"Đã hoàn một phần", "Partly refunded"},
	"status.refunded":           {"Đã hoàn toàn bộ", "Refunded"},
	"status.cancelled":          {"Đã huỷ", "Cancelled"},
	"dash.same":                 {"Cùng số liệu với GET /v1/revenue.", "The same figures as GET /v1/revenue."},

	"section.soon": {"Phần này chưa được xây dựng.", "This section is not built yet."},

	"sessions.title":   {"Phiên đăng nhập", "Your sessions"},
	"sessions.heading": {"Các phiên đăng nhập của bạn", "Your sessions"},
	"sessions.created": {"Bắt đầu", "Started"},
	"sessions.seen":    {"Hoạt động gần nhất", "Last active"},
	"sessions.from":    {"Từ", "From"},
	"sessions.action":  {"Thao tác", "Action"},
	"sessions.current": {"Phiên này", "This session"},
	"sessions.revoke":  {"Kết thúc phiên bắt đầu lúc %s", "End the session started %s"},
	"sessions.revoked": {"Đã kết thúc phiên.", "The session has ended."},

	"pay.reference":     {"Mã thanh toán", "Payment reference"},
	"pay.status":        {"Trạng thái", "Status"},
	"pay.any":           {"Tất cả", "Any"},
	"pay.from":          {"Từ ngày", "From (date)"},
	"pay.to":            {"Đến ngày", "To (date)"},
	"pay.service":       {"Mã dịch vụ", "Service code"},
	"pay.gateway":       {"Cổng thanh toán", "Gateway"},
	"pay.min":           {"Số tiền từ", "Amount from"},
	"pay.max":           {"Số tiền đến", "Amount to"},
	"pay.name":          {"Tên người nộp (một phần)", "Payer name (any part)"},
	"pay.phone":         {"Số điện thoại người nộp", "Payer phone"},
	"pay.phone.hint":    {"Nhập đầy đủ số điện thoại.", "The whole number."},
	"pay.search":        {"Tìm", "Search"},
	"pay.csv":           {"Tải CSV", "Download CSV"},
	"pay.xlsx":          {"Tải Excel (XLSX)", "Download Excel (XLSX)"},
	"pay.created":       {"Tạo lúc", "Created"},
	"pay.agencies":      {"Cơ quan", "Agencies"},
	"pay.payer":         {"Người nộp", "Payer"},
	"pay.total":         {"Tổng tiền", "Total"},
	"pay.paid":          {"Đã thanh toán", "Paid"},
	"pay.refunded":      {"Đã hoàn", "Refunded"},
	"pay.description":   {"Nội dung", "Description"},
	"pay.none":          {"Không có giao dịch nào phù hợp.", "No orders match."},
	"pay.next":          {"Trang sau", "Next page"},
	"pay.order":         {"Đơn thanh toán", "Order"},
	"pay.notfound":      {"Không có đơn thanh toán này.", "There is no such order."},
	"pay.lines":         {"Các khoản", "Lines"},
	"pay.kind":          {"Loại", "Kind"},
	"pay.amount":        {"Số tiền", "Amount"},
	"pay.attempts":      {"Các lần thanh toán", "Payment attempts"},
	"pay.method":        {"Phương thức", "Method"},
	"pay.result":        {"Kết quả", "Result"},
	"pay.refunds":       {"Hoàn tiền", "Refunds"},
	"pay.reason":        {"Lý do", "Reason"},
	"pay.events":        {"Lịch sử", "History"},
	"pay.at":            {"Lúc", "At"},
	"pay.event":         {"Sự kiện", "Event"},
	"pay.actor":         {"Thực hiện bởi", "By"},
	"pay.data":          {"Chi tiết", "Details"},
	"pay.back":          {"Quay lại danh sách", "Back to the list"},
	"pay.none.attempts": {"Chưa có lần thanh toán nào.", "No payment attempt yet."},
	"pay.none.refunds":  {"Không có hoàn tiền.", "No refund."},
	"pay.bad.status":    {"Trạng thái không hợp lệ.", "Unknown status."},
	"pay.bad.date":      {"Ngày phải có dạng NNNN-TT-NN.", "A date must be written YYYY-MM-DD."},
	"pay.bad.amount":    {"Số tiền phải là một số không âm.", "An amount must be a number, not negative."},
	"pay.bad.cursor":    {"Liên kết trang không hợp lệ.", "The page link is not valid."},

	"e403.title": {"Không được phép", "Not allowed"},
	"e403.body":  {"Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.", "The form has expired or is not valid. Reload the page and try again."},
	"e403.role":  {"Vai trò của bạn không được xem phần này.", "Your role may not see this section."},
	"e404.title": {"Không tìm thấy", "Not found"},
	"e500.title": {"Đã có lỗi xảy ra", "Something went wrong"},
	"e500.body":  {"Chúng tôi chưa xử lý được yêu cầu. Vui lòng thử lại sau ít phút.", "We could not handle the request. Please try again in a few minutes."},
}
