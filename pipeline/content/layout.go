package content

import "bytes"

// Where a match sits in its line: alone, in a delimited field, or in text.
// Several matches in one column of a CSV, or one per line, are how lists
// of numbers are stored, and count as evidence.

// unitAt reads the character unit at absolute offset a: a byte, or a
// UTF-16 code unit. ok is false outside the bytes held.
func (s *Stream) unitAt(a int64, unit int8, be bool) (uint16, bool) {
	if unit == 1 {
		if i := a - s.winBase; i >= 0 && i < int64(len(s.win)) {
			return uint16(s.win[i]), true
		}
		if i := int64(len(s.hist)) - (s.winBase - a); a < s.winBase && i >= 0 {
			return uint16(s.hist[i]), true
		}
		return 0, false
	}
	lo := s.winBase - int64(len(s.hist))
	hi := s.winBase + int64(len(s.win))
	if a < lo || a+2 > hi {
		return 0, false
	}
	get := func(a int64) byte {
		if a >= s.winBase {
			return s.win[a-s.winBase]
		}
		return s.hist[int64(len(s.hist))-(s.winBase-a)]
	}
	x, y := get(a), get(a+1)
	if be {
		return uint16(x)<<8 | uint16(y), true
	}
	return uint16(y)<<8 | uint16(x), true
}

func isDelim(c uint16) bool { return c == ',' || c == '\t' || c == ';' }

// Neighbour classes.
const (
	nbText  = iota
	nbEdge  // line start or end, or start or end of data
	nbDelim // a field delimiter, possibly past a quote
)

// place classifies m's layout and updates the layout evidence.
func (s *Stream) place(m *match, ks *kindState) {
	u := int64(m.unit)
	// Before: the data start, a line start or a delimiter, maybe past an
	// opening quote.
	before, bd := nbText, uint16(0)
	a := m.start - u
	for q := 0; q < 2; q++ {
		if a < 0 {
			before = nbEdge
			break
		}
		c, ok := s.unitAt(a, m.unit, m.be)
		if !ok {
			break
		}
		if c == '\n' || c == '\r' {
			before = nbEdge
		} else if isDelim(c) {
			before, bd = nbDelim, c
		} else if (c == '"' || c == '\'') && q == 0 {
			a -= u
			continue
		}
		break
	}
	after, ad := nbText, uint16(0)
	a = m.end
	end := s.winBase + int64(len(s.win))
	for q := 0; q < 2; q++ {
		if a >= end { // Only a stream's real end is ever this close.
			after = nbEdge
			break
		}
		c, ok := s.unitAt(a, m.unit, m.be)
		if !ok {
			break
		}
		if c == '\n' || c == '\r' {
			after = nbEdge
		} else if isDelim(c) {
			after, ad = nbDelim, c
		} else if (c == '"' || c == '\'') && q == 0 {
			a += u
			continue
		}
		break
	}
	switch {
	case before == nbEdge && after == nbEdge:
		ks.lays |= layLine
		ks.alone++
	case before != nbText && after != nbText:
		ks.lays |= layCSVField
		d := bd
		if before == nbEdge {
			d = ad
		}
		// Three lines in one column are all the evidence there is to
		// have; past that, spare finding each line's start.
		if ks.colLines < 3 {
			if idx, line, ok := s.column(m, d); ok {
				ks.column(d, idx, line)
			}
		}
	default:
		ks.lays |= layInline
	}
}

// column finds the start of m's line and counts the delimiters d before m
// on it. ok is false if the line start is more than lineLookback back.
func (s *Stream) column(m *match, d uint16) (idx int32, line int64, ok bool) {
	u := int64(m.unit)
	stop := m.start - lineLookback
	if u == 1 && max(stop, 0) >= s.winBase { // all in the chunk: the fast way
		seg := s.win[max(stop, 0)-s.winBase : m.start-s.winBase]
		i := bytes.LastIndexByte(seg, '\n')
		if i < 0 && stop > 0 {
			return 0, 0, false
		}
		return int32(bytes.Count(seg[i+1:], []byte{byte(d)})), m.start - int64(len(seg)-i-1), true
	}
	for a := m.start - u; ; a -= u {
		if a < 0 {
			return idx, 0, true
		}
		if a < stop {
			return 0, 0, false
		}
		c, ok := s.unitAt(a, m.unit, m.be)
		if !ok {
			return 0, 0, false
		}
		if c == '\n' {
			return idx, a + u, true
		}
		if c == d {
			idx++
		}
	}
}

// column counts one more line with a match in column (d, idx).
func (ks *kindState) column(d uint16, idx int32, line int64) {
	low := 0
	for i := range ks.cols {
		e := &ks.cols[i]
		if e.lines > 0 && e.delim == d && e.idx == idx {
			if e.last != line {
				e.lines++
				e.last = line
				ks.colLines = max(ks.colLines, e.lines)
			}
			return
		}
		if e.lines < ks.cols[low].lines {
			low = i
		}
	}
	ks.cols[low] = colEntry{delim: d, idx: idx, lines: 1, last: line}
}

// confidence grades the evidence gathered for one kind.
func (ks *kindState) confidence(k Kind) (Confidence, []string) {
	if ks.occurrences == 0 {
		return ConfidenceNone, []string{}
	}
	reasons := []string{"checksum"}
	colLines := ks.colLines
	column := colLines >= 2
	list := ks.alone >= 2
	// Random digits pass the check one time in ten, real numbers always.
	ratioHigh := ks.candidates >= 3 && ks.occurrences*10 >= ks.candidates*9
	ratioLow := ks.candidates >= 5 && ks.occurrences*2 < ks.candidates
	if ks.kwHit {
		reasons = append(reasons, "keyword")
	}
	if column {
		reasons = append(reasons, "layout:csv-column")
	}
	if list {
		reasons = append(reasons, "layout:one-per-line")
	}
	if ks.grouped {
		reasons = append(reasons, sepGroupReason(k))
	}
	if ks.full {
		reasons = append(reasons, "format:full-width")
	}
	if ratioHigh {
		reasons = append(reasons, "checksum-ratio:high")
	}
	if ratioLow {
		reasons = append(reasons, "checksum-ratio:low")
	}
	layoutOK := (column && int(colLines) >= 3) || (list && ks.alone >= 3)
	switch {
	case ratioLow && ks.kwHit:
		return ConfidenceMedium, reasons
	case ratioLow:
		return ConfidenceLow, reasons
	case ks.kwHit:
		return ConfidenceHigh, reasons
	case layoutOK && ratioHigh:
		return ConfidenceHigh, reasons
	case column || list || ks.grouped || ks.full:
		return ConfidenceMedium, reasons
	}
	return ConfidenceLow, reasons
}
