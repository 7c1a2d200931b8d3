package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// canon writes values into SHA-256 unambiguously: every string is length
// prefixed and every integer fixed width, so no two different sequences of
// values hash alike. The tag names the structure and its version.
type canon struct {
	h   hash.Hash
	buf [binary.MaxVarintLen64]byte
}

func newCanon(tag string) *canon {
	c := &canon{h: sha256.New()}
	c.str(tag)
	return c
}

func (c *canon) str(s string) {
	n := binary.PutUvarint(c.buf[:], uint64(len(s)))
	c.h.Write(c.buf[:n])
	c.h.Write([]byte(s))
}

func (c *canon) bytes(b []byte) { c.str(string(b)) }

func (c *canon) i64(v int64) {
	binary.BigEndian.PutUint64(c.buf[:8], uint64(v))
	c.h.Write(c.buf[:8])
}

func (c *canon) sum() []byte { return c.h.Sum(nil) }

// contentHash identifies what an entry says (not who recorded it or when):
// posting the same key twice is a replay only if the content hashes agree.
// Amounts are hashed in shortest form, so 100 and 100.00 are the same amount.
func contentHash(e NewEntry, reverses int64) []byte {
	c := newCanon("civicpay/ledger/entry-content/v1")
	c.str(string(e.Kind))
	c.str(e.Reference)
	c.str(e.Description)
	c.i64(e.EffectiveAt.UnixMicro())
	c.i64(reverses)
	c.i64(int64(len(e.Postings)))
	for _, p := range e.Postings {
		c.str(p.Account)
		c.str(string(p.Direction))
		c.str(p.Amount.String())
		c.str(p.Currency)
		c.str(p.ServiceCode)
		c.str(p.Channel)
	}
	return c.sum()
}
