package content

import "crypto/sha256"

// distinctSet remembers up to a bound of distinct numbers by fingerprint
// (Detector.fingerprint). When full it keeps the smallest fingerprints (a
// bottom-k sample), so which numbers it holds does not depend on the order
// they came in. The HMACs are computed from the fingerprints when a Result
// is made, so a number that is seen and later evicted costs no hashing.
//
// The table is open addressing with linear probing; fingerprints are well
// mixed, so their low bits index it.
//
// Each slot also keeps its number's HMAC once a Result computed it, so a
// stream's later Results do not hash it again (32 bytes a number; the
// HMACs are what Results report anyway), and the slots' order by HMAC
// while the set is unchanged; only while the set holds at most cachedSums
// numbers, so that the cache adds at most 4.7 KiB to a set (a set
// past it hashes its numbers for each Result, as a few large ones do).
type distinctSet struct {
	table   []int32  // slot+1, 0 empty; len a power of two, at least twice len(keys)
	heap    []int32  // slots, a max-heap by fingerprint
	keys    []uint64 // slot → fingerprint
	sums    []slotSum
	order   []int32 // every slot; by HMAC if ordered
	ordered bool
	max     int // the table's size for the bound: it grows up to this
}

// cachedSums bounds the sets whose numbers' HMACs are kept.
const cachedSums = 128

// slotSum is the HMAC of a slot's number, if ok.
type slotSum struct {
	sum [sha256.Size]byte
	ok  bool
}

// init makes a set for at most bound fingerprints. The table starts
// small and doubles as fingerprints come: a stream that never holds a
// number (most of them) keeps 64 bytes, not the 8 KiB of a full table;
// with 4,096 streams that was 46 MiB of the sensor's live heap.
func (d *distinctSet) init(bound int) {
	n := 16
	for n < 2*bound {
		n *= 2
	}
	d.max = n
	d.table = make([]int32, min(16, n))
	d.heap, d.keys, d.sums, d.order = nil, nil, nil, nil
	d.ordered = false
}

// grow doubles the table and places every fingerprint again.
func (d *distinctSet) grow() {
	t := make([]int32, 2*len(d.table))
	mask := len(t) - 1
	for slot, k := range d.keys {
		i := int(k) & mask
		for t[i] != 0 {
			i = (i + 1) & mask
		}
		t[i] = int32(slot + 1)
	}
	d.table = t
}

func (d *distinctSet) reset() {
	if len(d.keys) > 0 {
		clear(d.table)
	}
	d.heap = d.heap[:0]
	d.keys = d.keys[:0]
	d.sums = d.sums[:0]
	d.order = d.order[:0]
	d.ordered = false
}

func (d *distinctSet) len() int { return len(d.keys) }

// find returns the table index holding key, or the empty index where it
// would go.
func (d *distinctSet) find(key uint64) (int, bool) {
	mask := len(d.table) - 1
	for i := int(key) & mask; ; i = (i + 1) & mask {
		s := d.table[i]
		if s == 0 {
			return i, false
		}
		if d.keys[s-1] == key {
			return i, true
		}
	}
}

func (d *distinctSet) has(key uint64) bool {
	_, ok := d.find(key)
	return ok
}

// maxKey is the largest fingerprint held; the set must not be empty.
func (d *distinctSet) maxKey() uint64 { return d.keys[d.heap[0]] }

// add inserts a fingerprint the set does not hold and has room for.
func (d *distinctSet) add(key uint64) {
	if 2*(len(d.keys)+1) > len(d.table) && len(d.table) < d.max {
		d.grow()
	}
	slot := int32(len(d.keys))
	d.keys = append(d.keys, key)
	if len(d.keys) <= cachedSums {
		d.sums = append(d.sums, slotSum{})
		d.order = append(d.order, slot)
	} else if d.sums != nil {
		d.sums, d.order = nil, nil // past the bound: no cache
	}
	d.ordered = false
	i, _ := d.find(key)
	d.table[i] = slot + 1
	d.heap = append(d.heap, slot)
	h := d.heap
	for i := len(h) - 1; i > 0; { // sift up
		p := (i - 1) / 2
		if d.keys[h[p]] >= d.keys[h[i]] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// replaceMax evicts the largest fingerprint for key, which is smaller.
func (d *distinctSet) replaceMax(key uint64) {
	h := d.heap
	slot := h[0]
	d.remove(d.keys[slot])
	d.keys[slot] = key
	if int(slot) < len(d.sums) {
		d.sums[slot] = slotSum{}
	}
	d.ordered = false
	i, _ := d.find(key)
	d.table[i] = slot + 1
	for i := 0; ; { // sift down
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

// remove deletes key from the table, shifting back the entries after it
// that probed past its place, so every lookup still finds its entry.
func (d *distinctSet) remove(key uint64) {
	mask := len(d.table) - 1
	i, ok := d.find(key)
	if !ok {
		return
	}
	for j := (i + 1) & mask; d.table[j] != 0; j = (j + 1) & mask {
		home := int(d.keys[d.table[j]-1]) & mask
		// Move j back to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			d.table[i] = d.table[j]
			i = j
		}
	}
	d.table[i] = 0
}
