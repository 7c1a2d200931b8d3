package gatewaysim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// DemoEnv is the service's side of the demo configuration: the environment
// variables that point civicpay's adapters at a simulator serving at
// simBase (e.g. http://127.0.0.1:8090), with cfg's credentials, one
// NAME=value per line. `gatewaysim -print-env` prints it.
func DemoEnv(simBase string, cfg Config) []string {
	base := strings.TrimRight(simBase, "/")
	return []string{
		"CIVICPAY_VNPAY_BASE_URL=" + base + "/vnpay",
		"CIVICPAY_VNPAY_TMN_CODE=" + cfg.VNPAY.TmnCode,
		"CIVICPAY_VNPAY_HASH_SECRET=" + cfg.VNPAY.HashSecret,
		"CIVICPAY_MOMO_BASE_URL=" + base + "/momo",
		"CIVICPAY_MOMO_PARTNER_CODE=" + cfg.MoMo.PartnerCode,
		"CIVICPAY_MOMO_ACCESS_KEY=" + cfg.MoMo.AccessKey,
		"CIVICPAY_MOMO_SECRET_KEY=" + cfg.MoMo.SecretKey,
		"CIVICPAY_ZALOPAY_BASE_URL=" + base + "/zalopay",
		"CIVICPAY_ZALOPAY_APP_ID=" + strconv.FormatInt(cfg.ZaloPay.AppID, 10),
		"CIVICPAY_ZALOPAY_KEY1=" + cfg.ZaloPay.Key1,
		"CIVICPAY_ZALOPAY_KEY2=" + cfg.ZaloPay.Key2,
		"CIVICPAY_VIETQR_BANK_BIN=" + cfg.Bank.BIN,
		"CIVICPAY_VIETQR_ACCOUNT=" + cfg.Bank.Account,
		"CIVICPAY_RECON_SETTLEMENT_URL=" + base + "/admin/settlements/{gateway}/{date}",
		"CIVICPAY_RECON_STATEMENT_URL=" + base + "/bank/statements/camt053/{date}",
	}
}

// ApplyEnv overrides cfg from the environment (getenv is os.Getenv in
// production): the credentials from the same CIVICPAY_* variables the
// service reads (see DemoEnv), so that one environment configures both
// sides, and the fees from GATEWAYSIM_<GATEWAY>_FEE_PERCENT and
// GATEWAYSIM_<GATEWAY>_FEE_FIXED (GATEWAY: VNPAY, MOMO, ZALOPAY). Unset
// variables leave cfg as it is.
func ApplyEnv(cfg *Config, getenv func(string) string) error {
	strs := map[string]*string{
		"CIVICPAY_VNPAY_TMN_CODE": &cfg.VNPAY.TmnCode, "CIVICPAY_VNPAY_HASH_SECRET": &cfg.VNPAY.HashSecret,
		"CIVICPAY_MOMO_PARTNER_CODE": &cfg.MoMo.PartnerCode, "CIVICPAY_MOMO_ACCESS_KEY": &cfg.MoMo.AccessKey,
		"CIVICPAY_MOMO_SECRET_KEY": &cfg.MoMo.SecretKey, "CIVICPAY_ZALOPAY_KEY1": &cfg.ZaloPay.Key1,
		"CIVICPAY_ZALOPAY_KEY2": &cfg.ZaloPay.Key2, "CIVICPAY_VIETQR_BANK_BIN": &cfg.Bank.BIN,
		"CIVICPAY_VIETQR_ACCOUNT": &cfg.Bank.Account,
	}
	for name, dst := range strs {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var errs []error
	if v := getenv("CIVICPAY_ZALOPAY_APP_ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("CIVICPAY_ZALOPAY_APP_ID %q: %w", v, err))
		}
		cfg.ZaloPay.AppID = n
	}
	fees := map[string]*Fee{"VNPAY": &cfg.VNPAY.Fee, "MOMO": &cfg.MoMo.Fee, "ZALOPAY": &cfg.ZaloPay.Fee}
	for name, fee := range fees {
		if v := getenv("GATEWAYSIM_" + name + "_FEE_PERCENT"); v != "" {
			p, err := decimal.NewFromString(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("GATEWAYSIM_%s_FEE_PERCENT %q: %w", name, v, err))
			}
			fee.Percent = p
		}
		if v := getenv("GATEWAYSIM_" + name + "_FEE_FIXED"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("GATEWAYSIM_%s_FEE_FIXED %q: %w", name, v, err))
			}
			fee.Fixed = n
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gatewaysim: environment: %w", err)
	}
	return nil
}
