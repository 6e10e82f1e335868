package store

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Damage is records a reader could not return, or a file that says
// records were lost: what a command that hands documents over must name.
type Damage struct {
	Stream string
	File   string // the segment, or the file that tells of the loss
	// First and Last are the sequence numbers of the records lost, when
	// known (First 0: not known; Last 0: up to an unknown end).
	First, Last uint64
	Offset      int64 // in File; -1: not about one place
	Message     string
	// NoLoss is set on a note about derived data (an index that could
	// not be used): every record was still read.
	NoLoss bool
	// minTime, maxTime: when the records lost were written, where known
	// (0: not known), so a query for another time range is not told.
	minTime, maxTime int64
}

// Records is how many records were lost (0: not known).
func (d Damage) Records() uint64 {
	if d.First == 0 || d.Last < d.First {
		return 0
	}
	return d.Last - d.First + 1
}

func (d Damage) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Offset >= 0 {
		fmt.Fprintf(&b, ": offset %d", d.Offset)
	}
	switch {
	case d.First > 0 && d.Last == d.First:
		fmt.Fprintf(&b, ": record %d", d.First)
	case d.First > 0 && d.Last > d.First:
		fmt.Fprintf(&b, ": records %d to %d", d.First, d.Last)
	case d.First > 0:
		fmt.Fprintf(&b, ": records from %d on", d.First)
	}
	b.WriteString(": ")
	b.WriteString(d.Message)
	return b.String()
}

// inRange reports whether the damage may touch records of [since, until]
// (0: open).
func (d Damage) inRange(since, until int64) bool {
	if d.minTime == 0 && d.maxTime == 0 {
		return true
	}
	return (since == 0 || d.maxTime == 0 || d.maxTime >= since) && (until == 0 || d.minTime == 0 || d.minTime <= until)
}

// Damage lists what a read-only store found lost in a stream when it was
// opened, without reading every record: segments that cannot be read,
// sequence numbers no segment holds (a segment removed), an index left
// without its segment, a torn tail, damaged data moved aside earlier.
// Damage inside a sealed segment is found only when its records are read
// (Scan's OnDamage) or by Verify.
func (s *Store) Damage(stream string) []Damage {
	st, ok := s.streams[stream]
	if !ok {
		return nil
	}
	return append([]Damage(nil), st.damage...)
}

// findDamage fills st.damage after a read-only open: gaps between the
// segments, indexes without a segment, .damaged files. Unreadable
// segments and torn tails were added by loadSegment.
func (s *Store) findDamage(st *stream, paths []string) {
	// Damage that runs to the end of a segment ends where the next
	// segment starts.
	for i := range st.damage {
		d := &st.damage[i]
		if d.First == 0 || d.Last != 0 {
			continue
		}
		for _, sg := range st.segs {
			if sg.first > d.First {
				d.Last = sg.first - 1
				break
			}
		}
	}
	// An index whose segment is gone: the segment was removed.
	ents, _ := os.ReadDir(st.dir)
	have := map[string]bool{}
	for _, p := range paths {
		have[filepath.Base(p)] = true
	}
	var orphans []Damage
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".damaged") {
			st.damage = append(st.damage, Damage{Stream: st.name, File: filepath.Join(st.dir, n), Offset: -1,
				Message: "damaged data moved aside at an earlier start; the records in it were lost (remove the file once it has been looked at)"})
			continue
		}
		base, ok := strings.CutSuffix(n, ".idx")
		if !ok || have[base+".seg"] {
			continue
		}
		first, err := strconv.ParseUint(base, 10, 64)
		if err != nil || first == 0 {
			continue
		}
		d := Damage{Stream: st.name, File: filepath.Join(st.dir, base+".seg"), First: first, Offset: -1,
			Message: "segment file missing (its index is still there): its records are gone"}
		if count, minT, maxT, ok := idxFooter(filepath.Join(st.dir, n), first); ok && count > 0 {
			d.Last, d.minTime, d.maxTime = first+count-1, minT, maxT
		}
		orphans = append(orphans, d)
	}
	// Sequence numbers between two segments that no segment holds.
	for i := 1; i < len(st.segs); i++ {
		a, b := st.segs[i-1], st.segs[i]
		want := a.first + a.count
		if b.first <= want {
			continue
		}
		if st.explained(want, b.first-1) {
			continue
		}
		d := Damage{Stream: st.name, File: st.dir, First: want, Last: b.first - 1, Offset: -1,
			Message: fmt.Sprintf("no segment holds these records (between %s and %s): a segment was removed", a.name(), b.name()),
			minTime: a.maxTime, maxTime: b.minTime}
		for _, o := range orphans {
			if o.First >= want && o.First < b.first {
				d.File, d.Message = o.File, "segment file missing (its index is still there): its records are gone"
			}
		}
		st.damage = append(st.damage, d)
	}
	// Orphans past the last segment.
	for _, o := range orphans {
		inGap := false
		for i := 1; i < len(st.segs); i++ {
			if o.First >= st.segs[i-1].first+st.segs[i-1].count && o.First < st.segs[i].first {
				inGap = true
			}
		}
		// One before the first segment is what retention leaves when it
		// stops between removing a segment and its index.
		if !inGap && !st.explained(o.First, o.First) && len(st.segs) > 0 && o.First > st.segs[0].first {
			st.damage = append(st.damage, o)
		}
	}
}

// explained reports whether damage already found covers a record of
// [first, last].
func (st *stream) explained(first, last uint64) bool {
	for _, d := range st.damage {
		if d.First != 0 && d.First <= last && (d.Last == 0 || d.Last >= first) {
			return true
		}
	}
	return false
}

// idxFooter reads the record count and time range from the footer of a
// sealed index file.
func idxFooter(path string, first uint64) (count uint64, minT, maxT int64, ok bool) {
	seg := &segment{path: strings.TrimSuffix(path, ".idx") + ".seg", first: first}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < idxHdrSize+idxFooterSize {
		return 0, 0, 0, false
	}
	f := b[len(b)-idxFooterSize:]
	if binary.LittleEndian.Uint32(f) != idxFooterMark || binary.LittleEndian.Uint64(b[16:]) != seg.first ||
		crc32.Checksum(f[:idxFooterSize-4], crcTable) != binary.LittleEndian.Uint32(f[idxFooterSize-4:]) {
		return 0, 0, 0, false
	}
	return binary.LittleEndian.Uint64(f[4:]), int64(binary.LittleEndian.Uint64(f[12:])), int64(binary.LittleEndian.Uint64(f[20:])), true
}

// MergeDamage sorts a list of damage by stream and record and makes the
// adjacent records of one file and message (the records of one damaged
// frame, reported one by one) one range.
func MergeDamage(list []Damage) []Damage {
	ds := append([]Damage(nil), list...)
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Stream != ds[j].Stream {
			return ds[i].Stream < ds[j].Stream
		}
		return ds[i].First < ds[j].First
	})
	var out []Damage
	for _, d := range ds {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.Stream == d.Stream && p.File == d.File && p.Message == d.Message && p.Offset == d.Offset &&
				p.First > 0 && p.Last > 0 && d.First == p.Last+1 {
				p.Last = d.Last
				continue
			}
		}
		out = append(out, d)
	}
	return out
}
