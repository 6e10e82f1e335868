package pipeline

import (
	"container/list"
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/content"
)

// ContentScanner runs the content detector over the data samples the
// kernel took of writes and sends by tainted processes, attaches what it
// found (counts, keyed hashes, confidence) and drops the sample, so the raw
// bytes never reach an encoder, an output or a store.
//
// Detector state is kept per stream (a process's file or socket), so a
// number split across two writes is found; the findings on an event are
// cumulative for its stream up to and including it. Streams are bounded:
// the least recently used are forgotten, which also retires the streams of
// processes that exited (a stream's key has the process start time, so it
// is never confused with a later process of the same pid).
type ContentScanner struct {
	Detector   *content.Detector
	MaxStreams int // default 4096
	// SampleBytes bounds what is read back from a file for an in-kernel
	// copy (copy_file_range, sendfile, splice), whose data never passed
	// through userspace.
	SampleBytes int
	// Rest, when set, is told of every event once it is scanned, and
	// scans at rest the files whose writes the samples did not cover.
	Rest *RestScanner

	streams map[streamKey]*list.Element
	lru     list.List
	buf     []byte

	Scanned  atomic.Uint64 // events scanned
	ReadBack atomic.Uint64 // in-kernel copies read back from the file
	Failed   atomic.Uint64 // read-backs that failed
	// Events whose stream has at least one My Number / corporate number
	// so far (findings are cumulative per stream), for the metrics.
	MyNumberHits  atomic.Uint64
	CorporateHits atomic.Uint64
}

type streamKey struct {
	pid   uint32
	start uint64
	fd    int32
	ino   uint64
}

type streamEntry struct {
	key streamKey
	s   *content.Stream
	pii map[string]bool // kinds of personal information seen in the stream
}

// Scan processes ev in place. Events without data are left alone.
func (c *ContentScanner) Scan(ev *event.Event) {
	c.scan(ev)
	if c.Rest != nil {
		c.Rest.Note(ev)
	}
}

func (c *ContentScanner) scan(ev *event.Event) {
	data := ev.Sample
	ev.Sample = nil
	if data == nil && !c.needsReadBack(ev) {
		return
	}
	if data == nil {
		data = c.readBack(ev.File)
		if data == nil {
			return
		}
	}
	se := c.stream(ev)
	st := se.s
	st.Write(data)
	r := st.Result()
	ev.Content = &event.Content{
		MyNumber:        finding(r.MyNumber),
		CorporateNumber: finding(r.CorporateNumber),
		SampledBytes:    len(data),
		Truncated:       int64(len(data)) < written(ev),
	}
	// What else went with the numbers: looked for in the samples of a
	// stream once it holds numbers (the heading is usually in the same
	// first sample as the first rows).
	if r.MyNumber.Found() || r.CorporateNumber.Found() {
		for _, k := range content.PIITypes(data) {
			if se.pii == nil {
				se.pii = map[string]bool{}
			}
			se.pii[k] = true
		}
		for _, k := range content.PIIKinds {
			if se.pii[k] {
				ev.Content.PIITypes = append(ev.Content.PIITypes, k)
			}
		}
	}
	c.Scanned.Add(1)
	if r.MyNumber.Distinct > 0 {
		c.MyNumberHits.Add(1)
	}
	if r.CorporateNumber.Distinct > 0 {
		c.CorporateHits.Add(1)
	}
}

func written(ev *event.Event) int64 {
	switch {
	case ev.File != nil:
		return ev.File.Ret
	case ev.Net != nil:
		return ev.Net.Ret
	}
	return 0
}

// needsReadBack: a tainted in-kernel copy to an unprotected regular file.
func (c *ContentScanner) needsReadBack(ev *event.Event) bool {
	return ev.File != nil && ev.Has(event.FlagCopy) && ev.Has(event.FlagTainted) &&
		!ev.Has(event.FlagProtected) && ev.File.Ret > 0 && ev.File.Pos >= 0 && ev.File.Path != "" &&
		ev.File.IMode&unix.S_IFMT == unix.S_IFREG
}

// readBack reads the range an in-kernel copy wrote, from the destination.
func (c *ContentScanner) readBack(f *event.File) []byte {
	n := int64(c.SampleBytes)
	if n <= 0 {
		n = 4096
	}
	if f.Ret < n {
		n = f.Ret
	}
	fd, err := os.OpenFile(f.Path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOATIME, 0)
	if err != nil {
		// O_NOATIME needs ownership; retry without it.
		fd, err = os.OpenFile(f.Path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		c.Failed.Add(1)
		return nil
	}
	defer fd.Close()
	if cap(c.buf) < int(n) {
		c.buf = make([]byte, n)
	}
	got, err := fd.ReadAt(c.buf[:n], f.Pos)
	if err != nil && err != io.EOF {
		c.Failed.Add(1)
		return nil
	}
	c.ReadBack.Add(1)
	return c.buf[:got]
}

func (c *ContentScanner) stream(ev *event.Event) *streamEntry {
	if c.streams == nil {
		c.streams = map[streamKey]*list.Element{}
		if c.MaxStreams <= 0 {
			c.MaxStreams = 4096
		}
	}
	k := streamKey{pid: ev.Proc.PID, start: ev.Proc.StartBoot}
	switch {
	case ev.File != nil:
		k.fd, k.ino = ev.File.FD, ev.File.Ino
	case ev.Net != nil:
		k.fd = ev.Net.FD
	}
	if el, ok := c.streams[k]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*streamEntry)
	}
	var s *content.Stream
	if c.lru.Len() >= c.MaxStreams {
		// Reuse the least recently used stream's state.
		el := c.lru.Back()
		old := el.Value.(*streamEntry)
		delete(c.streams, old.key)
		c.lru.Remove(el)
		s = old.s
		s.Reset()
	} else {
		s = c.Detector.NewStream()
	}
	se := &streamEntry{key: k, s: s}
	c.streams[k] = c.lru.PushFront(se)
	return se
}

func finding(f content.Finding) event.Finding {
	return event.Finding{
		Distinct:    f.Distinct,
		Occurrences: f.Occurrences,
		Confidence:  f.Confidence.String(),
		Reasons:     f.Reasons,
		Hashes:      f.Hashes,
		Encodings:   f.Encodings,
		Layouts:     f.Layouts,
	}
}
