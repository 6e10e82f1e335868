package content

// Keyword proximity. A kind has keyword evidence when some keyword of that
// kind lies within the window of some run of its matches: the keyword's
// end plus the window reaches the run's start, and its start is no further
// than the window past the run's end. The window is Config.KeywordWindow
// characters, counted as bytes times the keyword's encoding's typical
// character width (1 for ASCII, 2 for CP932 and UTF-16, 3 for Japanese in
// UTF-8).
//
// Keywords are looked for only near matches: the automaton runs over the
// union of the windows around queued runs, in stream order, lazily and in
// bulk. It never runs past the start of a run not yet queued, so every
// keyword found before a run is queued ends before that run (kwReach
// settles those), and every keyword found while a run is queued is checked
// against it directly.

// kwRun is a run of matches of one kind waiting for the keywords after it.
type kwRun struct {
	min, max int64
	kind     Kind
}

// kwState is the keyword search's progress; part of state, so Result can
// run it ahead on a copy.
type kwState struct {
	dfa      uint16
	searched int64 // the automaton has read the windows' bytes before this
	q        [16]kwRun
	nq       int
}

// closeRun queues the matches of the run just scanned, by kind, in order.
func (s *Stream) closeRun() {
	a, b := &s.cur.kinds[MyNumber], &s.cur.kinds[CorporateNumber]
	switch {
	case !b.inRun:
		if a.inRun {
			s.queueRun(MyNumber, a)
		}
	case !a.inRun:
		s.queueRun(CorporateNumber, b)
	case b.runMin < a.runMin:
		s.queueRun(CorporateNumber, b)
		s.queueRun(MyNumber, a)
	default:
		s.queueRun(MyNumber, a)
		s.queueRun(CorporateNumber, b)
	}
}

func (s *Stream) queueRun(k Kind, ks *kindState) {
	ks.inRun = false
	lo, hi := ks.runMin, ks.runMax
	if ks.kwReach >= lo { // a keyword already read reaches it
		ks.kwHit = true
	}
	kw := &s.cur.kw
	// Runs of one kind closer than two windows merge: a keyword between
	// them is within a window of one or the other anyway.
	for i := kw.nq - 1; i >= 0; i-- {
		if kw.q[i].kind == k {
			if lo-kw.q[i].max <= 2*int64(s.d.window) {
				kw.q[i].max = max(kw.q[i].max, hi)
				return
			}
			break
		}
	}
	if kw.nq == len(kw.q) {
		s.flushKeywords(lo)
	}
	if kw.nq == len(kw.q) {
		// Unreachable: after the flush only runs whose windows reach past
		// lo stay, those end within three windows of lo, and runs of a
		// kind are over two windows apart, so at most two of each kind
		// stay. Stay bounded anyway by merging into the newest run.
		r := &kw.q[kw.nq-1]
		r.max = max(r.max, hi)
		return
	}
	kw.q[kw.nq] = kwRun{lo, hi, k}
	kw.nq++
}

// flushKeywords runs the automaton over the queued runs' windows up to
// limit, which no run still to be queued starts before, and retires the
// runs whose windows it has passed.
func (s *Stream) flushKeywords(limit int64) {
	kw := &s.cur.kw
	w := s.d.wmax
	for i := 0; i < kw.nq; i++ {
		r := kw.q[i]
		if start := r.min - w; start > kw.searched {
			kw.dfa, kw.searched = 0, start // a gap no window covers
		}
		end := min(limit, r.max+w)
		if end > kw.searched {
			s.feed(kw.searched, end)
		}
		if end == limit {
			break
		}
	}
	n := 0
	for _, r := range kw.q[:kw.nq] {
		if r.max+w > kw.searched {
			kw.q[n] = r
			n++
		}
	}
	kw.nq = n
}

// feed runs the keyword automaton over the stream's bytes [a, b), which
// lie in hist and win.
func (s *Stream) feed(a, b int64) {
	kw := &s.cur.kw
	st := kw.dfa
	if lo := s.winBase - int64(len(s.hist)); a < lo {
		// Windows never reach back past the history (histCap covers
		// them); should one, read what is held rather than fail.
		a, st = min(lo, b), 0
	}
	if a < s.winBase && a < b {
		h := s.hist[len(s.hist)-int(s.winBase-a):]
		if b < s.winBase {
			h = h[:b-a]
		}
		st = s.feedBytes(h, a, st)
		a += int64(len(h))
	}
	if a < b {
		st = s.feedBytes(s.win[a-s.winBase:b-s.winBase], a, st)
	}
	kw.dfa, kw.searched = st, b
}

func (s *Stream) feedBytes(p []byte, base int64, st uint16) uint16 {
	d := s.d.kw
	for i := 0; i < len(p); i++ {
		if st == 0 {
			if i = d.skip(p, i); i == len(p) {
				break
			}
		}
		st = d.next[int(st)*d.nclass+int(d.class[p[i]])]
		if d.hasOut[st] {
			s.keyword(&d.out[st], base+int64(i)+1)
		}
	}
	return st
}

// keyword records a keyword occurrence ending at end.
func (s *Stream) keyword(o *kwOut, end int64) {
	kw := &s.cur.kw
	for k := range s.cur.kinds {
		if o.width[k] == 0 {
			continue
		}
		if s.onKeyword != nil {
			s.onKeyword(Kind(k), end)
		}
		ks := &s.cur.kinds[k]
		w := int64(s.d.window) * int64(o.width[k])
		ks.kwReach = max(ks.kwReach, end+w)
		start := end - int64(o.size[k])
		for _, r := range kw.q[:kw.nq] {
			if r.kind == Kind(k) && end+w >= r.min && start <= r.max+w {
				ks.kwHit = true
			}
		}
	}
}
