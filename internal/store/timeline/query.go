package timeline

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// collector gathers the documents of a timeline as they are offered in
// time order: seeds, then everything about the processes found so far and
// their descendants.
type collector struct {
	f        *Filter
	entities map[string]bool // processes in the story
	parents  map[string]bool // their parents: lifecycle documents only, as context
	files    []string        // files followed (seeds, and where they were renamed to)
	docs     []*Doc
	seen     map[string]bool // stream/seq already taken (two passes)
	// MaxDocs bounds the documents kept, so an unbounded query cannot
	// exhaust memory; Truncated says it was reached.
	maxDocs   int
	truncated bool
	// earliest is the earliest start of a process in the story (or its
	// parent): nothing about them is older. startUnknown: some had none.
	earliest     time.Time
	startUnknown bool
	parentStart  map[string]time.Time // when each parent started: its fork and exec are then
}

func (c *collector) noteStart(p *Proc) {
	if p == nil || p.EntityID == "" {
		return
	}
	if p.Start == nil {
		c.startUnknown = true
		return
	}
	if c.earliest.IsZero() || p.Start.Before(c.earliest) {
		c.earliest = *p.Start
	}
}

func newCollector(f *Filter, maxDocs int) *collector {
	c := &collector{f: f, entities: map[string]bool{}, parents: map[string]bool{}, seen: map[string]bool{}, maxDocs: maxDocs,
		parentStart: map[string]time.Time{}}
	if f.File != "" {
		c.files = []string{f.File}
	}
	return c
}

func (c *collector) isSeed(d *Doc) bool {
	if !c.f.seed(d) {
		// A file renamed away stays the same file.
		if c.f.File == "" || !c.f.seedNoFile(d) {
			return false
		}
		for _, p := range c.files[1:] {
			if underPath(d.File.Path, p) || underPath(d.File.TargetPath, p) {
				return true
			}
		}
		return false
	}
	return true
}

// offer looks at one document; it reports whether it was kept.
func (c *collector) offer(d *Doc) bool {
	if !c.f.inRange(d.Timestamp) {
		return false
	}
	id := d.Process.EntityID
	keep, context := false, false
	switch {
	case c.isSeed(d):
		keep = true
		if d.File.TargetPath != "" && c.f.File != "" && !c.following(d.File.TargetPath) {
			c.files = append(c.files, d.File.TargetPath)
		}
	case id != "" && c.entities[id]:
		keep = c.relevant(d)
	case d.ParentID() != "" && c.entities[d.ParentID()]:
		keep = true // a descendant
	case id != "" && c.parents[id] && isLifecycle(d):
		keep, context = true, true
	}
	if !keep {
		return false
	}
	// Data flows: a file a process in the story writes after reading
	// protected data (a tainted write) is followed like the seed file,
	// so a copy that is renamed and uploaded stays in the story.
	if c.f.File != "" && d.Bansho.File.Tainted && d.File.Path != "" && followable(d.File.Path) && !c.following(d.File.Path) {
		c.files = append(c.files, d.File.Path)
	}
	if !context {
		if id != "" && !c.entities[id] {
			c.entities[id] = true
			delete(c.parents, id)
		}
		if p := d.ParentID(); p != "" && !c.entities[p] {
			c.parents[p] = true
		}
	}
	if !context {
		c.noteStart(&d.Process)
		if p := d.Process.Parent; p != nil && p.EntityID != "" && p.Start != nil {
			c.parentStart[p.EntityID] = *p.Start
		}
	}
	if len(c.docs) >= c.maxDocs {
		c.truncated = true
		return false
	}
	c.docs = append(c.docs, d)
	return true
}

// followable leaves out terminals and kernel files: writing to them is
// not a copy of the data that could move on.
func followable(p string) bool {
	for _, pre := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(p, pre) {
			return false
		}
	}
	return true
}

func (c *collector) following(p string) bool {
	for _, f := range c.files {
		if underPath(p, f) {
			return true
		}
	}
	return false
}

// relevant decides which other documents of a process in the story are
// shown. When the story is about a process or a user, everything it did.
// When it is about a file, what carries the data on: starts and ends,
// writes and sends after reading protected data, content findings and
// alerts, and (as seeds) every access to the file and its copies; not
// every other file a database server opens.
func (c *collector) relevant(d *Doc) bool {
	if c.f.File == "" {
		return true
	}
	my, corp := d.Findings()
	return isLifecycle(d) || d.Event.Kind == "alert" || d.Bansho.File.Tainted || d.Bansho.Network.Tainted ||
		my.Distinct > 0 || corp.Distinct > 0
}

func isLifecycle(d *Doc) bool {
	switch d.Event.Action {
	case "exec", "fork", "end":
		return true
	}
	return false
}

// seedNoFile is seed without the file condition.
func (f *Filter) seedNoFile(d *Doc) bool {
	g := *f
	g.File = ""
	if g.Empty() {
		return true
	}
	return g.seed(d)
}

// DefaultMaxDocs bounds the documents of one timeline.
const DefaultMaxDocs = 200_000

// FromStore selects the documents of a timeline from a store: the events
// and alerts streams, in two passes over the indexes of the segments in
// the time range. The first finds the seeds and follows their processes
// and descendants forward in time; the second picks up what those
// processes did before they were found, and their parents' start and end.
func FromStore(s *store.Store, f Filter, maxDocs int) (*Timeline, error) {
	if maxDocs <= 0 {
		maxDocs = DefaultMaxDocs
	}
	c := newCollector(&f, maxDocs)
	var since, until int64
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}
	if !f.Until.IsZero() {
		until = f.Until.UnixNano()
	}
	var seedKeys, entKeys, parKeys map[uint64]bool
	rebuild := func() {
		seedKeys, entKeys, parKeys = map[uint64]bool{}, map[uint64]bool{}, map[uint64]bool{}
		for _, k := range f.keys() {
			seedKeys[k] = true
		}
		for id := range c.entities {
			entKeys[store.KeyHash(store.KeyEntity, id)] = true
			parKeys[store.KeyHash(store.KeyParent, id)] = true
		}
		for id := range c.parents {
			entKeys[store.KeyHash(store.KeyEntity, id)] = true
		}
		for _, p := range c.files[min(1, len(c.files)):] {
			seedKeys[store.KeyHash(store.KeyFile, p)] = true
			seedKeys[store.KeyHash(store.KeyDir, p)] = true
		}
	}
	rebuild()
	nEnt, nPar, nFiles := 0, 0, len(c.files)
	match := func(e *store.IndexEntry) bool {
		if f.Empty() {
			return true
		}
		for _, k := range e.Keys {
			if entKeys[k] || parKeys[k] || seedKeys[k] {
				return true
			}
		}
		return false
	}
	// Segments whose key filter holds none of the keys are skipped.
	var keys func() []uint64
	if !f.Empty() {
		keys = func() []uint64 {
			out := make([]uint64, 0, len(seedKeys)+len(entKeys)+len(parKeys))
			for _, m := range []map[uint64]bool{seedKeys, entKeys, parKeys} {
				for k := range m {
					out = append(out, k)
				}
			}
			return out
		}
	}
	var parseErrs, read int
	var damage []store.Damage
	seenDamage := map[string]bool{}
	onDamage := func(d store.Damage) {
		if k := d.String(); !seenDamage[k] {
			seenDamage[k] = true
			damage = append(damage, d)
		}
	}
	take := func(r store.Record) error {
		key := r.Stream + "/" + strconv.FormatUint(r.Seq, 10)
		if c.seen[key] {
			return nil
		}
		read++
		d, err := Parse(r.Doc)
		if err != nil {
			parseErrs++
			return nil
		}
		d.ord = r.Seq
		if c.offer(d) {
			c.seen[key] = true
			if len(c.entities) != nEnt || len(c.parents) != nPar || len(c.files) != nFiles {
				nEnt, nPar, nFiles = len(c.entities), len(c.parents), len(c.files)
				rebuild()
			}
		}
		return nil
	}
	// Pass 1: forward from the seeds. Routine documents and alerts are
	// separate streams; each is in time order.
	for _, stream := range []string{store.StreamEvents, store.StreamAlerts} {
		if err := s.Scan(store.Query{Stream: stream, Since: since, Until: until, Match: match, Keys: keys, OnDamage: onDamage}, take); err != nil {
			return nil, err
		}
	}
	// Pass 2: what the processes did before they were found (only needed
	// up to the last document taken).
	if !f.Empty() && len(c.docs) > 0 {
		last := int64(0)
		for _, d := range c.docs {
			last = max(last, d.Timestamp.UnixNano())
		}
		// Nothing about a process is older than its start.
		from := since
		if !c.startUnknown && !c.earliest.IsZero() {
			from = max(from, c.earliest.UnixNano())
		}
		for _, stream := range []string{store.StreamEvents, store.StreamAlerts} {
			if err := s.Scan(store.Query{Stream: stream, Since: from, Until: last, Match: match, Keys: keys, OnDamage: onDamage}, take); err != nil {
				return nil, err
			}
		}
		// Parents that started before that (a login shell, sshd): only
		// their start is shown, so only the moment they started is read.
		for id, st := range c.parentStart {
			if st.UnixNano() >= from || !c.parents[id] {
				continue
			}
			key := store.KeyHash(store.KeyEntity, id)
			q := store.Query{Stream: store.StreamEvents, Since: st.UnixNano(), Until: st.Add(2 * time.Second).UnixNano(),
				Match: func(e *store.IndexEntry) bool { return e.Has(key) }, Keys: func() []uint64 { return []uint64{key} }, OnDamage: onDamage}
			if err := s.Scan(q, take); err != nil {
				return nil, err
			}
		}
	}
	t := build(c, &f)
	t.ParseErrors = parseErrs
	t.Read = read
	t.Damage = store.MergeDamage(damage)
	for _, d := range damage {
		switch {
		case d.NoLoss:
		case d.Records() > 0:
			t.DamagedRecords += d.Records()
		default:
			t.DamageUnknown++
		}
	}
	return t, nil
}

// keys are the index keys of the filter's seeds.
func (f *Filter) keys() []uint64 {
	var out []uint64
	if f.EntityID != "" {
		out = append(out, store.KeyHash(store.KeyEntity, f.EntityID))
	}
	if f.PID != 0 {
		out = append(out, store.KeyHash(store.KeyPID, strconv.Itoa(f.PID)))
	}
	if f.File != "" {
		p := strings.TrimSuffix(f.File, "/")
		out = append(out, store.KeyHash(store.KeyFile, p), store.KeyHash(store.KeyDir, p))
	}
	if f.User != "" {
		out = append(out, store.KeyHash(store.KeyUser, f.User))
	}
	// Several conditions: a seed must meet all, but any one key finds the
	// candidates (the document check does the rest).
	return out
}

// FromJSONLines selects the documents of a timeline from ECS JSON lines
// (an events.json output file, an export). Lines that are not JSON
// documents (or longer than store.MaxDocument) are counted in ParseErrors,
// listed in BadLines and skipped. Any My Number in a document (any string
// field, or a number value) is masked as the sensor masks it
// (ecs.RedactJSON), since such a file need not come from the sensor.
func FromJSONLines(r io.Reader, f Filter, maxDocs int) (*Timeline, error) {
	if maxDocs <= 0 {
		maxDocs = DefaultMaxDocs
	}
	var all []*Doc
	var ord uint64
	parseErrs := 0
	var bad []BadLine
	skip := func(line int, reason string) {
		parseErrs++
		if len(bad) < MaxBadLines {
			bad = append(bad, BadLine{Line: line, Reason: reason})
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for lineNo := 1; ; lineNo++ {
		b, err := br.ReadSlice('\n')
		long := false
		if err == bufio.ErrBufferFull {
			// A long line: gather it, within store.MaxDocument.
			buf = append(buf[:0], b...)
			for err == bufio.ErrBufferFull && len(buf) <= store.MaxDocument {
				b, err = br.ReadSlice('\n')
				buf = append(buf, b...)
			}
			b = buf
			if len(b) > store.MaxDocument {
				long = true
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
			}
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		switch line := strings.TrimSpace(string(b)); {
		case long:
			skip(lineNo, fmt.Sprintf("longer than %d bytes", store.MaxDocument))
		case line == "":
		default:
			// Documents from a file may come from anywhere: mask any My
			// Number in them before they are shown, as the sensor does.
			masked, _, perr := ecs.RedactJSON([]byte(line))
			var d *Doc
			if perr == nil {
				d, perr = Parse(masked)
			}
			if perr != nil {
				if err == io.EOF {
					skip(lineNo, fmt.Sprintf("not a JSON document, the last line cut short? (%v)", perr))
				} else {
					skip(lineNo, fmt.Sprintf("not a JSON document (%v)", perr))
				}
				break
			}
			ord++
			d.ord = ord
			if f.inRange(d.Timestamp) {
				all = append(all, d)
			}
		}
		if err == io.EOF {
			break
		}
	}
	sortDocs(all)
	c := newCollector(&f, maxDocs)
	taken := make([]bool, len(all))
	for i, d := range all {
		taken[i] = c.offer(d)
	}
	if !f.Empty() {
		for i, d := range all {
			if !taken[i] {
				c.offer(d)
			}
		}
	}
	t := build(c, &f)
	t.ParseErrors = parseErrs
	t.BadLines = bad
	return t, nil
}
