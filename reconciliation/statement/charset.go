package statement

import (
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
)

// The declared encodings ParseCAMT reads.
const (
	charsetOther = iota
	charsetUTF8
	charsetASCII
	charsetLatin1
)

// charset tells which of the encodings ParseCAMT reads the label of an XML
// declaration names, by any of its IANA names ("ISO-8859-1", "latin1",
// "l1", "US-ASCII", "us", …), and the unregistered "ASCII", "UTF8" and
// "latin-1" seen in the wild.
func charset(label string) int {
	label = strings.TrimSpace(label)
	switch strings.ToLower(label) { // names in use that IANA does not register
	case "ascii":
		return charsetASCII
	case "utf8":
		return charsetUTF8
	case "latin-1":
		return charsetLatin1
	}
	e, err := ianaindex.IANA.Encoding(label)
	if err != nil || e == nil {
		return charsetOther
	}
	switch e {
	case charmap.ISO8859_1:
		return charsetLatin1
	case unicode.UTF8:
		return charsetUTF8
	}
	if name, err := ianaindex.IANA.Name(e); err == nil && name == "US-ASCII" {
		return charsetASCII
	}
	return charsetOther
}
