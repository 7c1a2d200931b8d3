package catalogue

import "github.com/shopspring/decimal"

// jsonDecimal is an optional amount in a request body.
type jsonDecimal struct{ decimal.Decimal }

func (d *jsonDecimal) ptr() *decimal.Decimal {
	if d == nil {
		return nil
	}
	return &d.Decimal
}
