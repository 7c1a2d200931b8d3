package ledger

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// AccountKind is the accounting class of an account; it fixes the account's
// normal side (debit for assets and expenses, credit for liabilities and revenue).
type AccountKind string

// The four account kinds.
const (
	AssetAccount     AccountKind = "asset"
	LiabilityAccount AccountKind = "liability"
	RevenueAccount   AccountKind = "revenue"
	ExpenseAccount   AccountKind = "expense"
)

// Account is one account of the chart. Accounts are created by the first
// posting to them; their kind and currency never change.
type Account struct {
	Code      string      `json:"code"`
	Kind      AccountKind `json:"kind"`
	Currency  string      `json:"currency"`
	CreatedAt time.Time   `json:"created_at"`
}

// The chart of accounts: each code is a template whose "*"
// segments are names (a gateway, an agency code, a treasury bank account).
var chart = []struct {
	template []string
	kind     AccountKind
}{
	{[]string{"gateway", "*", "clearing"}, AssetAccount}, // owed to us by the gateway until it settles
	{[]string{"gateway", "*", "fees"}, ExpenseAccount},   // the gateway's fee, taken out of a settlement
	{[]string{"agency", "*", "collected"}, LiabilityAccount},
	{[]string{"treasury", "*", "bank"}, AssetAccount},
	{[]string{"overpayments"}, LiabilityAccount},
	{[]string{"suspense"}, LiabilityAccount}, // bank credits no order claims yet
	{[]string{"revenue", "*"}, RevenueAccount},
	{[]string{"expense", "*"}, ExpenseAccount},
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// KindOf returns the kind of the account code, or an error if the code is not
// in the chart of accounts.
func KindOf(code string) (AccountKind, error) {
	segs := strings.Split(code, ":")
next:
	for _, c := range chart {
		if len(c.template) != len(segs) {
			continue
		}
		for i, t := range c.template {
			if t == "*" && !segmentRE.MatchString(segs[i]) || t != "*" && t != segs[i] {
				continue next
			}
		}
		return c.kind, nil
	}
	return "", fmt.Errorf("account %q is not in the chart of accounts (gateway:<name>:clearing|fees, agency:<code>:collected, treasury:<account>:bank, overpayments, suspense, revenue:<name>, expense:<name>)", code)
}

// NormalBalance turns a net amount (debits minus credits) into the balance on
// the account's normal side: positive when an asset holds money or a
// liability is owed.
func (k AccountKind) NormalBalance(net decimal.Decimal) decimal.Decimal {
	if k == LiabilityAccount || k == RevenueAccount {
		return net.Neg()
	}
	return net
}

// Account code constructors for the chart, used by the posting rules.

// GatewayClearing is what the gateway owes us for successful payments.
func GatewayClearing(gateway string) string { return "gateway:" + gateway + ":clearing" }

// GatewayFees is the gateway's fee expense.
func GatewayFees(gateway string) string { return "gateway:" + gateway + ":fees" }

// AgencyCollected is what we hold on behalf of an agency.
func AgencyCollected(agency string) string { return "agency:" + agency + ":collected" }

// TreasuryBank is a treasury bank account.
func TreasuryBank(account string) string { return "treasury:" + account + ":bank" }

// Overpayments and Suspense are single accounts.
const (
	Overpayments = "overpayments"
	Suspense     = "suspense"
)

// agencyOf returns the agency code of an agency:<code>:collected account.
func agencyOf(code string) (string, bool) {
	rest, ok := strings.CutPrefix(code, "agency:")
	if !ok {
		return "", false
	}
	agency, ok := strings.CutSuffix(rest, ":collected")
	return agency, ok && agency != "" && !strings.Contains(agency, ":")
}

// matchRegexp turns an account pattern into an anchored regular expression. A
// pattern is a prefix of account codes in which "*" stands for any run of
// characters within one segment: "agency:HCM-TP:" is everything of one
// agency, "gateway:*:clearing" every gateway's clearing account, "gateway:"
// every gateway account.
func matchRegexp(pattern string) (string, error) {
	if pattern == "" || len(pattern) > 200 {
		return "", fmt.Errorf("an account pattern has 1 to 200 characters")
	}
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return "^" + strings.Join(parts, "[^:]*"), nil
}
