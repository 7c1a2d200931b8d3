package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/console"
	"github.com/civicpay/civicpay/internal/app/config"
	"github.com/civicpay/civicpay/internal/domain/auth"
	"github.com/civicpay/civicpay/payments/catalogue"
)

// The demo catalogue: three agencies of the kind the project serves, a dozen
// services. Amounts follow the published fee schedules in spirit, not to the đồng.
// The criminal-record certificate services (STP-LLTP*) are sensitive: public
// citizen pages name them only after the visitor proves possession of the order.
var demoAgencies = []catalogue.Agency{
	{Code: "STP-HCM", Name: "Sở Tư pháp TP. Hồ Chí Minh (HCMC Department of Justice)", TreasuryAccount: "KBNN-HCM-3511"},
	{Code: "CSGT-HN", Name: "Phòng Cảnh sát giao thông, Công an TP. Hà Nội (Hanoi Traffic Police)", TreasuryAccount: "KBNN-HN-3949"},
	{Code: "CCT-DN", Name: "Chi cục Thuế khu vực Đà Nẵng (Da Nang Tax Office)", TreasuryAccount: "KBNN-DN-7111"},
}

func d(v int64) *decimal.Decimal { x := decimal.NewFromInt(v); return &x }

var demoServices = []catalogue.Service{
	{Code: "STP-LLTP", AgencyCode: "STP-HCM", Name: "Cấp Phiếu lý lịch tư pháp (criminal record certificate)", Kind: catalogue.KindFee, FixedAmount: d(200_000), Sensitive: true},
	{Code: "STP-LLTP-COPY", AgencyCode: "STP-HCM", Name: "Bản sao Phiếu lý lịch tư pháp (extra copy)", Kind: catalogue.KindCharge, FixedAmount: d(5_000), Sensitive: true},
	{Code: "STP-CHUNGTHUC", AgencyCode: "STP-HCM", Name: "Chứng thực chữ ký, bản sao (certification)", Kind: catalogue.KindCharge, MinAmount: d(2_000), MaxAmount: d(200_000)},
	{Code: "STP-KETHON-NN", AgencyCode: "STP-HCM", Name: "Đăng ký kết hôn có yếu tố nước ngoài (foreign marriage registration)", Kind: catalogue.KindFee, FixedAmount: d(1_500_000)},
	{Code: "CSGT-TOCDO", AgencyCode: "CSGT-HN", Name: "Phạt vượt quá tốc độ 5-10 km/h, ô tô (speeding fine)", Kind: catalogue.KindFine, MinAmount: d(800_000), MaxAmount: d(1_000_000)},
	{Code: "CSGT-DENDO", AgencyCode: "CSGT-HN", Name: "Phạt vượt đèn đỏ, ô tô (red light fine)", Kind: catalogue.KindFine, MinAmount: d(18_000_000), MaxAmount: d(20_000_000)},
	{Code: "CSGT-NONGDO", AgencyCode: "CSGT-HN", Name: "Phạt vi phạm nồng độ cồn (drink-driving fine)", Kind: catalogue.KindFine, MinAmount: d(2_000_000), MaxAmount: d(40_000_000)},
	{Code: "CSGT-DANGKYXE", AgencyCode: "CSGT-HN", Name: "Lệ phí đăng ký, cấp biển số xe máy (motorbike registration)", Kind: catalogue.KindFee, MinAmount: d(500_000), MaxAmount: d(4_000_000)},
	{Code: "CSGT-TAMGIU", AgencyCode: "CSGT-HN", Name: "Phí trông giữ phương tiện tạm giữ (impound storage charge)", Kind: catalogue.KindCharge, MinAmount: d(10_000), MaxAmount: d(2_000_000)},
	{Code: "CCT-MONBAI", AgencyCode: "CCT-DN", Name: "Lệ phí môn bài bậc 1 (business licence fee)", Kind: catalogue.KindFee, FixedAmount: d(3_000_000)},
	{Code: "CCT-TRUOCBA", AgencyCode: "CCT-DN", Name: "Lệ phí trước bạ nhà, đất (registration tax on property)", Kind: catalogue.KindTax, MinAmount: d(100_000), MaxAmount: d(5_000_000_000)},
	{Code: "CCT-TNCN", AgencyCode: "CCT-DN", Name: "Thuế thu nhập cá nhân nộp thay (personal income tax)", Kind: catalogue.KindTax, MinAmount: d(1_000), MaxAmount: d(10_000_000_000)},
}

// demo seeds the catalogue (idempotent) and makes one key per role; in
// development mode also one staff user of the console per role (demoStaff).
func demo(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, out io.Writer, log *slog.Logger) error {
	cat := catalogue.NewStore(pool)
	for _, a := range demoAgencies {
		if _, err := cat.UpsertAgency(ctx, a); err != nil {
			return err
		}
	}
	for _, s := range demoServices {
		s.Active = true
		if _, err := cat.UpsertService(ctx, s); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "# seeded %d agencies and %d services\n", len(demoAgencies), len(demoServices))
	keys := auth.NewStore(pool)
	for _, k := range []struct {
		role   auth.Role
		agency string
	}{{auth.RoleAdmin, ""}, {auth.RolePortal, ""}, {auth.RoleAgency, "STP-HCM"}, {auth.RoleTreasury, ""}} {
		_, secret, err := keys.Create(ctx, k.role, k.agency, "demo "+string(k.role))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "export %s_KEY=%s\n", upper(string(k.role)), secret)
	}
	if !cfg.Development() {
		fmt.Fprintln(out, "# no staff console users: they are made only in development mode (CIVICPAY_ENV=development); use civicpay users create")
		return nil
	}
	return demoStaff(ctx, cfg, pool, out, log)
}

// demoStaff makes (or resets, on every run) one signed-up staff user per
// role with a random password and TOTP secret, and prints them as shell
// variables for `make run` to show: development mode only, so a newcomer
// can open the console at once. `civicpay users totp-code SECRET` prints
// the current code of a secret.
func demoStaff(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, out io.Writer, log *slog.Logger) error {
	keys, err := cfg.DataKeyring(true, log)
	if err != nil {
		return err
	}
	store := console.NewStore(pool, keys, cfg.Clock, console.Policy{})
	for _, s := range []struct {
		name string
		user console.NewUser
	}{
		{"ADMIN", console.NewUser{Email: "admin@demo.civicpay.vn", Role: console.RoleAdmin}},
		{"TREASURY", console.NewUser{Email: "treasury@demo.civicpay.vn", Role: console.RoleTreasury, CanRefund: true}},
		{"AGENCY", console.NewUser{Email: "agency@demo.civicpay.vn", Role: console.RoleAgency, AgencyCode: "STP-HCM"}},
	} {
		pw := make([]byte, 12)
		if _, err := rand.Read(pw); err != nil {
			return err
		}
		password := base64.RawURLEncoding.EncodeToString(pw)
		u, secret, err := store.DemoUser(ctx, s.user, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "export STAFF_%s_EMAIL=%s STAFF_%s_PASSWORD=%s STAFF_%s_TOTP=%s\n",
			s.name, u.Email, s.name, password, s.name, secret)
	}
	return nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
