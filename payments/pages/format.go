package pages

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/civicpay/civicpay/internal/foundation/bizday"
	"github.com/civicpay/civicpay/internal/foundation/money"
)

// FormatAmount writes an amount the way a reader in lang expects:
// Vietnamese "200.000 ₫" and "1.234,50 USD", English "200,000 ₫" and
// "1,234.50 USD", with a no-break space before the symbol. An amount in a
// currency civicpay collects shows that currency's decimals; one in another
// currency (never an order's) shows the digits it has. Digits are never
// rounded away: an amount with more decimals than its currency allows shows
// them all.
func FormatAmount(d decimal.Decimal, currency, lang string) string {
	group, point := ".", ","
	if lang == langEN {
		group, point = ",", "."
	}
	s := d.String()
	if c, err := money.Lookup(currency); err == nil && c.Collected && c.Fits(d) {
		s = d.StringFixed(c.Decimals)
	}
	grouped := money.GroupedString(s, group, point)
	symbol := currency
	if currency == money.VND {
		symbol = "₫"
	}
	return grouped + "\u00a0" + symbol
}

// formatTime shows t in Vietnam time: "14:30 ngày 24/11/2026 (GMT+7)" or
// "24 Nov 2026, 14:30 (GMT+7)".
func formatTime(t time.Time, lang string) string {
	t = t.In(bizday.Zone) // times on the pages are shown in Vietnam's time
	if lang == langEN {
		return t.Format("2 Jan 2006, 15:04") + " (GMT+7)"
	}
	return t.Format("15:04 ngày 02/01/2006") + " (GMT+7)"
}
