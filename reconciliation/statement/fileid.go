package statement

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Gateway names, as the gateways package spells them.
const (
	GatewayVNPAY   = "vnpay"
	GatewayMoMo    = "momo"
	GatewayZaloPay = "zalopay"
)

// fileIDGateways maps the gateway part of a settlement file id to the gateway.
var fileIDGateways = map[string]string{"VNPAY": GatewayVNPAY, "MOMO": GatewayMoMo, "ZALOPAY": GatewayZaloPay}

// MaxRevision is the highest revision a settlement file id can carry.
const MaxRevision = 999

// SettlementFileID identifies one settlement file of a gateway for one business
// day. Its text form is
//
//	STL-<GATEWAY>-<YYYYMMDD>-R<revision>     e.g. STL-VNPAY-20261123-R2
//
// with GATEWAY one of VNPAY, MOMO, ZALOPAY, the business day in ICT, and the
// revision 1 for the first issue and 2, 3, … (at most MaxRevision, no leading
// zeros) for corrected re-issues of the same day. The gateway writes it in
// every line of the file and, when it pays the day's net amount into the
// treasury account, in the transfer's remittance information, which is how a
// bank credit is tied to its settlement file.
type SettlementFileID struct {
	Gateway      string    // GatewayVNPAY, GatewayMoMo or GatewayZaloPay
	BusinessDate time.Time // midnight ICT of the business day
	Revision     int
}

// String is the canonical text form.
func (id SettlementFileID) String() string {
	return fmt.Sprintf("STL-%s-%s-R%d", strings.ToUpper(id.Gateway), id.BusinessDate.In(ICT).Format("20060102"), id.Revision)
}

func (id SettlementFileID) validate() error {
	if _, ok := fileIDGateways[strings.ToUpper(id.Gateway)]; !ok || id.Gateway != strings.ToLower(id.Gateway) {
		return fmt.Errorf("%w: %q", ErrUnknownGateway, id.Gateway)
	}
	if id.BusinessDate.IsZero() {
		return formatErr("settlement file id without a business date")
	}
	if id.Revision < 1 || id.Revision > MaxRevision {
		return formatErr("settlement file revision %d outside 1..%d", id.Revision, MaxRevision)
	}
	return nil
}

var canonicalFileID = regexp.MustCompile(`^STL-(VNPAY|MOMO|ZALOPAY)-([0-9]{8})-R([1-9][0-9]{0,2})$`)

// ParseSettlementFileID parses the canonical form exactly (no noise, upper
// case); use FindSettlementFileID for text from a bank.
func ParseSettlementFileID(s string) (SettlementFileID, error) {
	m := canonicalFileID.FindStringSubmatch(s)
	if m == nil {
		return SettlementFileID{}, formatErr("settlement file id %q is not STL-<GATEWAY>-<YYYYMMDD>-R<n>", clip(s))
	}
	return fileIDFromParts(m[1], m[2], m[3])
}

func fileIDFromParts(gateway, date, rev string) (SettlementFileID, error) {
	day, err := time.ParseInLocation("20060102", date, ICT)
	if err != nil {
		return SettlementFileID{}, formatErr("settlement file id date %q is not a calendar date", date)
	}
	n, err := strconv.Atoi(rev)
	if err != nil || len(rev) > 3 || n < 1 || rev[0] == '0' {
		return SettlementFileID{}, formatErr("settlement file id revision %q outside 1..%d", clip(rev), MaxRevision)
	}
	return SettlementFileID{Gateway: fileIDGateways[gateway], BusinessDate: day, Revision: n}, nil
}

// noisyFileID matches a settlement file id in upper-cased bank text: the parts
// in order, separated by up to three characters that are neither letters nor
// digits (banks drop, double or replace the dashes), anything around it.
var noisyFileID = regexp.MustCompile(`STL[^A-Z0-9]{0,3}(VNPAY|MOMO|ZALOPAY)[^A-Z0-9]{0,3}([0-9]{8})[^A-Z0-9]{0,3}R[^A-Z0-9]{0,3}([0-9]+)`)

// FindSettlementFileID looks for a settlement file id in a transfer's free
// text (Ustrd lines, additional information), tolerating what banks do to it:
// any letter case, dashes replaced by spaces, dots, slashes or dropped, text
// before and after ("CK TU VNPAY STL VNPAY 20261123 R2 /REF 88213"). Each
// text is searched alone first; if none holds an id, the texts are joined
// without separators, for an id wrapped across two Ustrd lines. A revision
// followed directly by more digits is not taken (the digits may belong to it).
//
// It answers only when the answer is unambiguous: ok is false when the texts
// name two different ids, or when an id's revision ends a text and the next
// text begins with a digit (a wrapped "R1" + "2" may be R12).
func FindSettlementFileID(texts []string) (SettlementFileID, bool) {
	var found []SettlementFileID
	for i, t := range texts {
		next := ""
		if i+1 < len(texts) {
			next = texts[i+1]
		}
		var cut bool
		if found, cut = appendFileIDs(found, t, next); cut {
			return SettlementFileID{}, false
		}
	}
	if len(found) == 0 && len(texts) > 1 {
		found, _ = appendFileIDs(found, strings.Join(texts, ""), "")
	}
	if len(found) != 1 {
		return SettlementFileID{}, false
	}
	return found[0], true
}

// appendFileIDs adds the distinct ids found in text to found. cut reports an
// id whose revision runs to the end of text when next starts with a digit.
func appendFileIDs(found []SettlementFileID, text, next string) (_ []SettlementFileID, cut bool) {
	upper := strings.ToUpper(text)
	for _, m := range noisyFileID.FindAllStringSubmatchIndex(upper, -1) {
		if m[1] == len(upper) && next != "" && next[0] >= '0' && next[0] <= '9' {
			return found, true
		}
		id, err := fileIDFromParts(upper[m[2]:m[3]], upper[m[4]:m[5]], upper[m[6]:m[7]])
		if err != nil {
			continue
		}
		dup := false
		for _, f := range found {
			dup = dup || f.String() == id.String()
		}
		if !dup {
			found = append(found, id)
		}
	}
	return found, false
}
