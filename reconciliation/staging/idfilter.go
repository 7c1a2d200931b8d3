package staging

import "hash/maphash"

// idFilter is a Bloom filter of the gateway transaction ids read so far in a
// settlement file: addSeen tells whether an id may have come before (always
// when it has; by chance, rarely, when it has not). A line it says no to
// is certainly the first of its id, so the matcher numbers the occurrences
// of the candidates only (recon_settlement_lines.repeat_candidate, migration
// 00038). Its size is fixed, 4 MiB: about 0.4% false candidates at a
// million lines, more in a larger file (still correct, less sparing).
type idFilter struct {
	seed maphash.Seed
	bits []uint64
}

const idFilterBits = 1 << 25

func newIDFilter() *idFilter {
	return &idFilter{seed: maphash.MakeSeed(), bits: make([]uint64, idFilterBits/64)}
}

// addSeen adds id and reports whether both of its bits were set already.
func (f *idFilter) addSeen(id string) bool {
	h := maphash.String(f.seed, id)
	a, b := h&(idFilterBits-1), (h>>32)&(idFilterBits-1)
	seen := f.bits[a/64]&(1<<(a%64)) != 0 && f.bits[b/64]&(1<<(b%64)) != 0
	f.bits[a/64] |= 1 << (a % 64)
	f.bits[b/64] |= 1 << (b % 64)
	return seen
}
