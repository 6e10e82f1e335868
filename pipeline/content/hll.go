package content

import (
	"math"
	"math/bits"
)

// hll is a HyperLogLog sketch with 2^10 one-byte registers: it estimates
// how many distinct numbers a stream held once there are more than the
// distinct set keeps, in a fixed 1 KiB (standard error about 3%).
type hll [1 << hllBits]uint8

const hllBits = 10

// add records x, a uniformly distributed 64-bit hash.
func (h *hll) add(x uint64) {
	i := x >> (64 - hllBits)
	r := uint8(bits.LeadingZeros64(x<<hllBits|1<<(hllBits-1))) + 1
	if r > h[i] {
		h[i] = r
	}
}

// estimate returns the estimated number of distinct values added.
func (h *hll) estimate() float64 {
	const m = float64(len(h))
	sum, zeros := 0.0, 0
	for _, r := range h {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small counts
	}
	return e
}
