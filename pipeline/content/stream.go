package content

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"math"
	"slices"
	"strings"
)

const (
	// preCtx is the context kept before a start being decided. Reading a
	// cluster from a point inside it, it ends no sooner than read from its
	// start; only a CP932 alignment misjudged for want of bytes before the
	// buffer (parityLookback) can end it sooner, and what follows such a
	// split still lies within preCtx.
	preCtx = 64
	// margin is how many bytes must follow a start before it is decided:
	// more than the longest match (a 1-4-4-4 number in UTF-8 full-width
	// digits with 3-byte separators is 48 bytes) plus the look-ahead that
	// decides whether a cluster continues, and the layout's.
	margin = 96
	// lineLookback bounds the search back for a match's line start.
	lineLookback = 2048
	// never is "long before the data": no match or keyword there.
	never = math.MinInt64 / 4
)

// Stream scans consecutive chunks of one stream of data, such as the
// writes to one file: a number split across two Writes is found, and the
// keyword and layout evidence spans chunks. Memory is bounded: a history of
// a few KiB, two sketches of 1 KiB and at most Config.MaxHashes remembered
// numbers per kind. A Stream is not safe for concurrent use.
type Stream struct {
	d    *Detector
	mac  hash.Hash
	st   state  // decided so far
	cur  *state // &st, or a copy while Result evaluates the undecided tail
	sets [numKinds]distinctSet

	// provisional is set while Result evaluates the undecided tail as if
	// the data ended there; numbers new to the sets go to overlay.
	provisional bool
	overlay     [numKinds][]uint64

	hist    []byte // the data just before pos; at least the last histCap bytes, cap up to about 2*histCap
	pos     int64  // bytes written
	win     []byte // the chunk being scanned, at winBase; hist ends at winBase
	winBase int64
	scratch []byte
	macBuf  [sha256.Size]byte

	onMatch   func(m match, provisional bool) // tests: every match decided, valid or not
	onKeyword func(k Kind, end int64)         // tests: every keyword occurrence read
}

// state is everything about a stream that Result copies to evaluate the
// undecided tail without disturbing it.
type state struct {
	kinds [numKinds]kindState
	kw    kwState
	und   int64 // every match starting before und has been decided
	encs  encoding
}

type kindState struct {
	candidates, occurrences int
	overflow                bool // a distinct number did not fit in the set
	encs                    encoding
	lays                    layout
	grouped, full           bool
	kwHit                   bool
	kwReach                 int64 // farthest offset a keyword seen reaches
	cols                    [4]colEntry
	colLines                int32 // the most lines any column has
	alone                   int   // matches alone on their line
	hll                     hll
	inRun                   bool
	runMin, runMax          int64
}

// colEntry counts the lines that hold a match in one column.
type colEntry struct {
	delim uint16
	idx   int32
	lines int32
	last  int64 // the last line's start
}

// NewStream returns an empty Stream.
func (d *Detector) NewStream() *Stream {
	s := &Stream{
		d:   d,
		mac: hmac.New(sha256.New, d.key),
		// hist grows with the stream up to about 2*histCap (remember):
		// a stream of a few small writes does not hold a full history.
		scratch: make([]byte, 0, 2*(preCtx+margin)+preCtx),
	}
	for k := range s.sets {
		s.sets[k].init(d.maxHashes)
	}
	s.Reset()
	return s
}

// Reset empties s for a new stream, keeping its memory.
func (s *Stream) Reset() {
	s.st = state{}
	for k := range s.st.kinds {
		s.st.kinds[k].kwReach = never
		s.sets[k].reset()
	}
	s.cur = &s.st
	s.hist = s.hist[:0]
	s.pos = 0
	s.win = nil
	s.winBase = 0
}

// Write scans p, the next chunk of the stream. It never fails; it returns
// len(p), nil so a Stream is an io.Writer.
func (s *Stream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	st := &s.st
	pos, end := s.pos, s.pos+int64(len(p))
	s.win, s.winBase = p, pos
	// Starts just before and after pos need bytes from both sides: scan
	// them in a small joined copy.
	if pos > 0 && st.und < pos+preCtx {
		from := max(st.und-preCtx, 0)
		k := min(len(p), preCtx+margin)
		buf := append(append(s.scratch[:0], s.hist[len(s.hist)-int(pos-from):]...), p[:k]...)
		s.scratch = buf[:0]
		if lim := min(pos+preCtx, from+int64(len(buf))-margin); lim > st.und {
			s.scan(buf, from, int(st.und-from), int(lim-from))
			st.und = lim
		}
	}
	// The rest of p in place.
	from := max(st.und, pos)
	if pos > 0 {
		from = max(from, pos+preCtx)
	}
	if lim := end - margin; lim > from {
		s.scan(p, pos, int(from-pos), int(lim-pos))
		st.und = lim
	}
	s.flushKeywords(st.und)
	s.remember(p)
	s.pos = end
	s.win = nil
	return len(p), nil
}

// scanAll scans p as the whole of a fresh stream, leaving the stream as
// Write would.
func (s *Stream) scanAll(p []byte) {
	s.win, s.winBase = p, 0
	s.scan(p, 0, 0, len(p))
	s.st.und = int64(len(p))
	s.flushKeywords(s.st.und)
	s.remember(p)
	s.pos = int64(len(p))
	s.win, s.winBase = nil, s.pos
}

// remember keeps the last histCap bytes of the stream in hist.
func (s *Stream) remember(p []byte) {
	hc := s.d.histCap
	if len(p) >= hc {
		s.hist = append(s.hist[:0], p[len(p)-hc:]...)
		return
	}
	if len(s.hist)+len(p) > cap(s.hist) {
		keep := min(len(s.hist), hc-len(p))
		s.hist = s.hist[:copy(s.hist, s.hist[len(s.hist)-keep:])]
	}
	s.hist = append(s.hist, p...)
}

// Result returns what was found so far, as if the stream ended here. It
// does not change what later Writes find.
func (s *Stream) Result() Result {
	// tmp (3 KiB) came from the heap on every Result.
	tmp := s.d.states.Get().(*state)
	defer s.d.states.Put(tmp)
	*tmp = s.st
	s.cur = tmp
	s.provisional = true
	s.win, s.winBase = nil, s.pos
	if tmp.und < s.pos {
		from := max(tmp.und-preCtx, 0)
		buf := s.hist[len(s.hist)-int(s.pos-from):]
		s.scan(buf, from, int(tmp.und-from), len(buf))
		tmp.und = s.pos
	}
	s.flushKeywords(s.pos)
	r := Result{
		MyNumber:        s.finding(MyNumber, &tmp.kinds[MyNumber]),
		CorporateNumber: s.finding(CorporateNumber, &tmp.kinds[CorporateNumber]),
		Encodings:       tmp.encs.names(),
		Bytes:           s.pos,
	}
	s.cur = &s.st
	s.provisional = false
	for k := range s.overlay {
		s.overlay[k] = s.overlay[k][:0]
	}
	return r
}

// scan finds the matches in buf (at absolute offset base) that start in
// [from, to). Every such start must be decidable from buf: at least margin
// bytes follow it, or buf ends where the data ends.
func (s *Stream) scan(buf []byte, base int64, from, to int) {
	n := len(buf)
	lim := min(n, to+minSpan-1)
	// Every match covers minSpan consecutive class bytes, so looking at
	// one byte in minSpan finds it; a byte outside the class rules out
	// every match over it. (i-6 is never before buf: i starts at 11.)
	for i := from + minSpan - 1; i < lim; {
		// A run of minSpan class bytes over i holds all of i..i+5 or all
		// of i-6..i: four more lookups rule most hits out without a
		// branch, before walking the run.
		for i+5 < n && i < lim && cls[buf[i]]&(cls[buf[i+2]]&cls[buf[i+5]]|cls[buf[i-3]]&cls[buf[i-6]]) == 0 {
			i += minSpan
		}
		if i >= lim {
			break
		}
		if cls[buf[i]] == 0 {
			i += minSpan
			continue
		}
		acc := cls[buf[i]]
		rs := i
		for rs > 0 && cls[buf[rs-1]] != 0 {
			rs--
			acc |= cls[buf[rs]]
		}
		re := i + 1
		for re < n && cls[buf[re]] != 0 {
			acc |= cls[buf[re]]
			re++
		}
		if re-rs >= minSpan {
			s.byteRun(buf, base, rs, re, from, to)
			if acc&clsZF != 0 && re-rs >= 2*minSpan-1 {
				s.u16Run(buf, base, rs, re, from, to)
			}
			s.closeRun()
		}
		i = re + minSpan
	}
}

// report records one decided match.
func (s *Stream) report(m *match) {
	if s.onMatch != nil {
		s.onMatch(*m, s.provisional)
	}
	ks := &s.cur.kinds[m.kind]
	ks.candidates++
	if !m.valid {
		return
	}
	ks.occurrences++
	ks.encs |= m.enc
	s.cur.encs |= m.enc
	ks.grouped = ks.grouped || m.grouped
	ks.full = ks.full || m.full
	key := s.d.fingerprint(m.kind, &m.dig)
	ks.hll.add(key)
	s.distinct(m.kind, key)
	s.place(m, ks)
	if !ks.inRun {
		ks.inRun, ks.runMin, ks.runMax = true, m.start, m.end
	} else {
		ks.runMin = min(ks.runMin, m.start)
		ks.runMax = max(ks.runMax, m.end)
	}
}

// distinct adds a number, by fingerprint, to the distinct set of its kind.
func (s *Stream) distinct(k Kind, key uint64) {
	set := &s.sets[k]
	full := set.len() >= s.d.maxHashes
	if full && key > set.maxKey() { // the set keeps the smallest: not in it
		s.cur.kinds[k].overflow = true
		return
	}
	if set.has(key) {
		return
	}
	if s.provisional {
		if !slices.Contains(s.overlay[k], key) {
			s.overlay[k] = append(s.overlay[k], key)
		}
		return
	}
	if !full {
		set.add(key)
		return
	}
	s.cur.kinds[k].overflow = true
	set.replaceMax(key) // key < maxKey, checked above
}

// finding builds the exported summary of one kind.
func (s *Stream) finding(k Kind, ks *kindState) Finding {
	f := Finding{
		Occurrences: ks.occurrences,
		Candidates:  ks.candidates,
		Encodings:   ks.encs.names(),
		Layouts:     ks.lays.names(),
	}
	set := &s.sets[k]
	overflow := ks.overflow
	n := set.len() + len(s.overlay[k])
	var keys []uint64 // the fingerprints reported, when not all of them
	if n > s.d.maxHashes {
		overflow = true
		keys = make([]uint64, 0, n)
		keys = append(append(keys, set.keys...), s.overlay[k]...)
		slices.Sort(keys)
		keys = keys[:s.d.maxHashes]
		n = len(keys)
	}
	// The set alone, as most Results: its hashes in the order it keeps.
	sorted := keys == nil && len(s.overlay[k]) == 0 && len(set.sums) == set.len()
	if sorted && !set.ordered {
		for slot := range set.order {
			s.slotSum(k, set, slot)
		}
		slices.SortFunc(set.order, func(a, b int32) int {
			return bytes.Compare(set.sums[a].sum[:], set.sums[b].sum[:])
		})
		set.ordered = true
	}
	// The hex of every hash in one string, cut into the Hashes.
	var b strings.Builder
	b.Grow(n * 2 * sha256.Size)
	var h [2 * sha256.Size]byte
	for i := range n {
		var sum *[sha256.Size]byte
		switch {
		case sorted:
			sum = &set.sums[set.order[i]].sum
		case keys != nil:
			if j, ok := set.find(keys[i]); ok {
				sum = s.slotSum(k, set, int(set.table[j]-1))
			} else {
				sum = s.sumOf(k, keys[i])
			}
		case i < set.len():
			sum = s.slotSum(k, set, i)
		default:
			sum = s.sumOf(k, s.overlay[k][i-set.len()])
		}
		hex.Encode(h[:], sum[:])
		b.Write(h[:])
	}
	all := b.String()
	f.Hashes = make([]string, n)
	for i := range f.Hashes {
		f.Hashes[i] = all[i*len(h) : (i+1)*len(h)]
	}
	if !sorted {
		slices.Sort(f.Hashes)
	}
	f.Distinct = n
	if overflow {
		f.HashesTruncated = true
		f.DistinctEstimated = true
		f.Distinct = max(n+1, int(math.Round(ks.hll.estimate())))
	}
	f.Confidence, f.Reasons = ks.confidence(k)
	return f
}

// slotSum returns the HMAC of the number in slot of set (of kind k),
// computing it the first time.
func (s *Stream) slotSum(k Kind, set *distinctSet, slot int) *[sha256.Size]byte {
	if slot >= len(set.sums) {
		return s.sumOf(k, set.keys[slot]) // the set is past cachedSums
	}
	ss := &set.sums[slot]
	if !ss.ok {
		ss.sum, ss.ok = *s.sumOf(k, set.keys[slot]), true
	}
	return &ss.sum
}

// sumOf returns the HMAC-SHA256 of the ASCII digits of the number of kind
// k with fingerprint key, in s.macBuf; the digits are rebuilt only to be
// hashed.
func (s *Stream) sumOf(k Kind, key uint64) *[sha256.Size]byte {
	dig := s.d.unfingerprint(k, key)
	n := 12
	if k == CorporateNumber {
		n = 13
	}
	s.mac.Reset()
	s.mac.Write(dig[:n])
	clear(dig[:])
	s.mac.Sum(s.macBuf[:0])
	return &s.macBuf
}
