package statement

import "strings"

const (
	// maxRefTokens is how many adjacent words FindPaymentReference joins into
	// one candidate: a 25-character ISO 11649 reference printed in groups of
	// four is seven words.
	maxRefTokens = 8
	// maxRefLen bounds a candidate's length (ISO 11649: 25; IBAN-like: 34).
	maxRefLen = 35
)

// FindPaymentReference pulls a payment reference out of a transfer's free
// text, where payers and banks put it among other words, grouped in fours,
// split across lines or glued to punctuation ("CK RF18 5390 0754 7034 NOP
// PHI", "MBVCB.123.RF18539007547034.CT tu ...").
//
// The texts are cut into words at every character that is not an ASCII letter
// or digit and upper-cased; each run of up to eight adjacent words (joined
// without separators, at most 35 characters) is a candidate, across line
// boundaries too. valid is the caller's check, check digits included (for
// example reference.Valid from payments/reference).
//
// It answers only when the answer is unambiguous: if two different runs are
// valid — two references, a reference that stays valid with a neighbouring
// word glued on, or a valid run inside a longer valid one — ok is false and a
// person must decide. The same reference
// appearing twice (in Ustrd and in AddtlNtryInf, say) is one answer.
func FindPaymentReference(texts []string, valid func(string) bool) (ref string, ok bool) {
	words := refWords(texts)
	for i := range words {
		joined := ""
		for j := i; j < len(words) && j-i < maxRefTokens; j++ {
			joined += words[j]
			if len(joined) > maxRefLen {
				break
			}
			if !valid(joined) {
				continue
			}
			if ref != "" && ref != joined {
				return "", false
			}
			ref = joined
		}
	}
	return ref, ref != ""
}

// refWords splits texts into upper-cased runs of ASCII letters and digits.
func refWords(texts []string) []string {
	var words []string
	for _, t := range texts {
		words = append(words, strings.FieldsFunc(strings.ToUpper(t), func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		})...)
	}
	return words
}
