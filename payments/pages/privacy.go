package pages

import (
	"crypto/subtle"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/civicpay/civicpay/payments"
)

// Less personal data in public. Anyone holding a payment reference can open its
// pages, and references are short enough to be guessed, so by default the pages
// show:
//
//   - the payer's name masked (MaskName);
//   - for a sensitive service (catalogue.Service.Sensitive: one that reveals a
//     legal or criminal matter, such as a criminal-record certificate) a generic
//     label instead of the service's name, no kind, and no order description;
//     the agencies and the amounts stay.
//
// The visitor sees the full name and the service detail after proving
// possession of the order (proofFor): the last four digits of the payer's
// phone, or, when the order has no phone, the whole email address. An order with neither never shows the detail publicly.
// Failed proofs are counted per reference (proofLimiter).

// Name masking stars: fixed counts, so the mask does not tell a word's length.
const (
	firstStars  = "***"
	middleStars = "**"
)

// MaskName hides most of a person's name for a public page:
//
//	"Nguyễn Văn An"  -> "Ng*** V** An"
//	"Trần Thị Bình"  -> "Tr*** T** Bình"
//	"Lê An"          -> "L*** An"
//	"Hoa"            -> "Ho***"
//	""               -> ""
//
// The name is put in NFC and split on white space into words, and each word
// into characters: a letter with any combining marks that follow it (so a
// decomposed "ễ" counts as one character and is never cut from its marks).
// The first word keeps its first two characters, the middle words their first
// character, and each is followed by a fixed number of stars; the last word —
// the given name, in Vietnamese order — is kept whole. Every masked word hides
// at least one character: a one-character first word shows only stars, a
// two-character one its first character. A name of one word is masked like a
// first word (it is never shown whole). A name of only white space is "".
func MaskName(name string) string {
	words := strings.Fields(norm.NFC.String(name))
	if len(words) == 0 {
		return ""
	}
	out := make([]string, len(words))
	for i, w := range words {
		switch {
		case i == 0:
			out[i] = prefixChars(w, 2) + firstStars
		case i == len(words)-1:
			out[i] = w
		default:
			out[i] = prefixChars(w, 1) + middleStars
		}
	}
	return strings.Join(out, " ")
}

// prefixChars returns the first n characters of w (a character being a rune
// and the combining marks after it), but never all of w: at most all but one.
func prefixChars(w string, n int) string {
	var starts []int // byte offset where each character starts
	for i, r := range w {
		if len(starts) == 0 || !unicode.Is(unicode.M, r) {
			starts = append(starts, i)
		}
	}
	n = min(n, len(starts)-1)
	if n <= 0 {
		return ""
	}
	return w[:starts[n]]
}

// phoneDigits is how many of the phone's last digits prove possession.
const phoneDigits = 4

// The kinds of proof of possession an order can ask for.
const (
	proofPhone = "phone" // the last four digits of the payer's phone
	proofEmail = "email" // the payer's whole email address
)

// proofFor returns what proves possession of an order whose payer is p: its
// kind and the expected answer. It is the last four digits of the phone when
// the phone has at least four digits; otherwise the whole email address, in
// lower case; otherwise nothing (kind ""), and then the detail is never shown
// publicly. Only one kind is asked for, so a guesser gets no second chance
// through the other.
//
// Why not fewer characters, or a part of the email: three digits are one guess
// in a thousand, and the start of an email's local part is very often the
// payer's given name, which the masked name shows whole.
func proofFor(p payments.Payer) (kind, answer string) {
	var digits []rune
	for _, r := range p.Phone {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	if len(digits) >= phoneDigits {
		return proofPhone, string(digits[len(digits)-phoneDigits:])
	}
	if email := normEmail(p.Email); strings.Contains(email, "@") {
		return proofEmail, email
	}
	return "", ""
}

func normEmail(s string) string { return strings.ToLower(norm.NFC.String(strings.TrimSpace(s))) }

// proofMatches reports whether typed proves possession of an order whose payer
// is p. For a phone only the digits typed count ("5 6 7 8" is "5678"); for an
// email, case and surrounding space do not matter. The comparison takes the
// same time wherever the first difference is.
func proofMatches(p payments.Payer, typed string) bool {
	kind, want := proofFor(p)
	switch kind {
	case proofPhone:
		typed = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, typed)
	case proofEmail:
		typed = normEmail(typed)
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(typed), []byte(want)) == 1
}
