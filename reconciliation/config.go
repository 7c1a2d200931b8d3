package reconciliation

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/reconciliation/matcher"
	"github.com/civicpay/civicpay/reconciliation/statement"
)

// SourceBank names the treasury account's statements among the sources of a
// run; the other sources are the gateways with a settlement layout.
const SourceBank = "bank"

// Sources lists every source of a run: the gateways, then the bank.
func Sources() []string { return append(statement.Gateways(), SourceBank) }

func validSource(s string) bool {
	for _, x := range Sources() {
		if s == x {
			return true
		}
	}
	return false
}

// Config is how reconciliation behaves. It has no defaults of its own: the
// service's come from internal/app/config (CIVICPAY_RECON_*), and New panics
// on a configuration Check refuses.
type Config struct {
	// MaxFileBytes bounds one statement file.
	MaxFileBytes int64
	// Tol bounds agreement of a line with our record.
	Tol matcher.Tolerances
	// Fees are the gateways' contracted fees; a gateway without one has its
	// fees taken as they come.
	Fees map[string]matcher.Fee
	// SettlementTolerance bounds |bank credit − file net| of a settlement.
	SettlementTolerance decimal.Decimal
	// SettlementDays is how many days after its business day a gateway's
	// payment may reach the bank: a bank credit without a file id is paired
	// with a file of that many days before it at most, and a file still
	// unpaid once the bank's statement of its day plus this many days is in
	// is missing there.
	SettlementDays int
	// Cutoff is the time of day (GMT+7) of the daily run over the previous
	// business day; negative: no daily run (files come by upload or CLI).
	Cutoff time.Duration
	// SettlementURL and StatementURL are where the daily job fetches files
	// from: {gateway} and {date} (YYYY-MM-DD) are replaced. Empty: no fetch.
	SettlementURL, StatementURL string
	// FetchAuthenticated says the fetch proves where a statement came from
	// (https with a credential or a client certificate, or development):
	// only then may a fetched bank statement's credits pay orders at once.
	FetchAuthenticated bool
	// StatementToken and SettlementToken are sent as `Authorization: Bearer`
	// with the bank's and the gateways' fetches (empty: none).
	StatementToken, SettlementToken string
	// Gateways are those whose settlement files the daily job fetches.
	Gateways []string
	// FetchTimeout bounds one fetch; QueryTimeout one status query.
	FetchTimeout, QueryTimeout time.Duration
	// QueryConcurrency bounds the status queries in flight during a run.
	QueryConcurrency int
	// WorkMem is PostgreSQL's work_mem for a run's matching statements.
	WorkMem string
	// MaxExceptionEvents bounds the reconciliation.exception events one run
	// publishes; the completed event says when more were raised.
	MaxExceptionEvents int
	// WriteOffLimit bounds the difference (in VND) a person may write off
	// when resolving an exception (zero: none but an exact match).
	WriteOffLimit decimal.Decimal
	// ApprovalAmount: a resolution that moves more than this (in VND; in any
	// other currency, any amount) waits for a second treasury approver (zero:
	// every resolution that moves money does).
	ApprovalAmount decimal.Decimal
	// Tolerant are the sources (SourceBank, gateways) whose files are loaded
	// under the tolerant rule: a bank statement whose balances or TxsSummry
	// do not add up, or a settlement file whose trailer disagrees with its
	// lines (or is missing), is loaded and flagged with the difference
	// instead of refused. The others are strict.
	Tolerant []string
}

// TolerantFor reports whether source's files are loaded under the tolerant
// rule.
func (c Config) TolerantFor(source string) bool { return contains(c.Tolerant, source) }

// Check refuses what would break a run or is unsafe: a non-positive file
// bound, settlement delay, fetch or query deadline or query concurrency, a
// negative tolerance, window or event cap, a work_mem that is not
// PostgreSQL's NkB/MB/GB (it is written into a SET statement), and a
// tolerant source that is none.
func (c Config) Check() error {
	var bad []string
	for _, p := range []struct {
		name string
		ok   bool
	}{
		{"MaxFileBytes must be positive", c.MaxFileBytes > 0},
		{"SettlementDays must be positive", c.SettlementDays > 0},
		{"FetchTimeout must be positive", c.FetchTimeout > 0},
		{"QueryTimeout must be positive", c.QueryTimeout > 0},
		{"QueryConcurrency must be positive", c.QueryConcurrency > 0},
		{"Tol.Window must not be negative", c.Tol.Window >= 0},
		{"MaxExceptionEvents must not be negative", c.MaxExceptionEvents >= 0},
		{"tolerances must not be negative", !c.Tol.Amount.IsNegative() && !c.Tol.Fee.IsNegative() && !c.SettlementTolerance.IsNegative()},
		{"WriteOffLimit and ApprovalAmount must not be negative", !c.WriteOffLimit.IsNegative() && !c.ApprovalAmount.IsNegative()},
		{fmt.Sprintf("WorkMem %q is not NkB, NMB or NGB", c.WorkMem), workMemRE.MatchString(c.WorkMem)},
	} {
		if !p.ok {
			bad = append(bad, p.name)
		}
	}
	for _, src := range c.Tolerant {
		if !validSource(src) {
			bad = append(bad, fmt.Sprintf("tolerant source %q is not one of %s", src, strings.Join(Sources(), ", ")))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("reconciliation: %s", strings.Join(bad, "; "))
	}
	return nil
}

var workMemRE = regexp.MustCompile(`^[1-9][0-9]{0,6}(kB|MB|GB)$`)

var feeRE = regexp.MustCompile(`^([a-z][a-z0-9_-]*)=([0-9]+(?:\.[0-9]+)?)%(?:\+([0-9]+(?:\.[0-9]+)?))?$`)

// ParseFees reads a fee schedule: comma-separated gateway=P%[+F], P percent
// of the gross plus F fixed ("vnpay=1.1%+1650,momo=1.5%"). Empty is none.
func ParseFees(s string) (map[string]matcher.Fee, error) {
	out := map[string]matcher.Fee{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		m := feeRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("reconciliation: fee %q is not gateway=P%%[+F]", part)
		}
		f := matcher.Fee{Percent: decimal.RequireFromString(m[2]), Fixed: decimal.Zero}
		if m[3] != "" {
			f.Fixed = decimal.RequireFromString(m[3])
		}
		if f.Percent.GreaterThanOrEqual(decimal.NewFromInt(100)) {
			return nil, fmt.Errorf("reconciliation: fee %q: percent must be below 100", part)
		}
		out[m[1]] = f
	}
	return out, nil
}

// NoSchedule is the Cutoff that turns the daily run off.
const NoSchedule time.Duration = -1

// ParseCutoff reads a time of day "HH:MM" (GMT+7), or "off" (NoSchedule).
func ParseCutoff(s string) (time.Duration, error) {
	if s == "off" {
		return NoSchedule, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("reconciliation: cut-off %q is not HH:MM", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// CheckURLTemplate checks a fetch URL template: empty, or an absolute http(s)
// URL.
func CheckURLTemplate(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(strings.NewReplacer("{gateway}", "g", "{date}", "2006-01-02").Replace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("reconciliation: fetch URL %q is not an absolute http(s) URL", s)
	}
	return nil
}
