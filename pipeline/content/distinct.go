package content

// distinctSet remembers up to a bound of distinct numbers by fingerprint
// (a seeded 64-bit hash), with each one's HMAC. When full it keeps the
// smallest fingerprints (a bottom-k sample), so which numbers it holds
// does not depend on the order they came in. The numbers themselves are
// never kept.
type distinctSet struct {
	idx  map[uint64]int32 // fingerprint → slot
	heap []int32          // slots, a max-heap by fingerprint
	keys []uint64         // slot → fingerprint
	macs [][32]byte       // slot → HMAC
}

func (d *distinctSet) init(n int) {
	d.idx = make(map[uint64]int32, min(n, 64))
	d.heap = make([]int32, 0, min(n, 64))
	d.keys = make([]uint64, 0, min(n, 64))
	d.macs = make([][32]byte, 0, min(n, 64))
}

func (d *distinctSet) reset() {
	clear(d.idx)
	d.heap = d.heap[:0]
	d.keys = d.keys[:0]
	d.macs = d.macs[:0]
}

func (d *distinctSet) len() int { return len(d.keys) }

func (d *distinctSet) has(key uint64) bool {
	_, ok := d.idx[key]
	return ok
}

// maxKey is the largest fingerprint held; the set must not be empty.
func (d *distinctSet) maxKey() uint64 { return d.keys[d.heap[0]] }

// add inserts a fingerprint the set does not hold and has room for.
func (d *distinctSet) add(key uint64, mac *[32]byte) {
	slot := int32(len(d.keys))
	d.keys = append(d.keys, key)
	d.macs = append(d.macs, *mac)
	d.idx[key] = slot
	d.heap = append(d.heap, slot)
	// Sift up.
	h := d.heap
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if d.keys[h[p]] >= d.keys[h[i]] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// replaceMax evicts the largest fingerprint for key, which is smaller.
func (d *distinctSet) replaceMax(key uint64, mac *[32]byte) {
	h := d.heap
	slot := h[0]
	delete(d.idx, d.keys[slot])
	d.keys[slot] = key
	d.macs[slot] = *mac
	d.idx[key] = slot
	// Sift down.
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && d.keys[h[r]] > d.keys[h[l]] {
			c = r
		}
		if d.keys[h[i]] >= d.keys[h[c]] {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
