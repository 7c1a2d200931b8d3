package vietqr

import (
	"fmt"
	"strconv"
	"strings"
)

// CRC16 is CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no
// reflection, no final XOR. CRC16([]byte("123456789")) is 0x29B1.
func CRC16(data []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, b := range data {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// tlv writes EMVCo data objects: a two-digit ID, a two-digit length and the
// value. Values are ASCII, so bytes are characters.
type tlv struct{ b strings.Builder }

func (t *tlv) add(id, value string) *tlv {
	fmt.Fprintf(&t.b, "%s%02d%s", id, len(value), value)
	return t
}

func (t *tlv) String() string { return t.b.String() }

// parseTLV splits s into data objects. IDs and lengths must be two digits and
// no ID may repeat.
func parseTLV(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		if len(s) < 4 {
			return nil, fmt.Errorf("truncated data object %q", s)
		}
		id, n := s[:2], s[2:4]
		if !isDigits(id) || !isDigits(n) {
			return nil, fmt.Errorf("data object %q: ID and length must be digits", s[:4])
		}
		size, _ := strconv.Atoi(n) // two digits: cannot fail
		if len(s) < 4+size {
			return nil, fmt.Errorf("data object %s: length %d runs past the end", id, size)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("data object %s repeated", id)
		}
		out[id] = s[4 : 4+size]
		s = s[4+size:]
	}
	return out, nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
