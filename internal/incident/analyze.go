package incident

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options select what the report is about.
type Options struct {
	Files   []string // protected files or directories (everything under them); none: every protected file
	User    string   // login user (or acting user) who read them: name or id
	Host    string   // host.name
	AlertID string   // start from this alert's file and process
	Since   time.Time
	Until   time.Time

	Discovered time.Time // default Now
	Malicious  bool
	Now        time.Time
	Inputs     []string

	// AtRest gives the whole content of protected files, by path (any
	// host) or "host:path": from `bansho scan --format json` or a scan of
	// the files when the report is made.
	AtRest map[string]*AtRest
}

// Analyzer gathers documents and makes the Report.
type Analyzer struct {
	opt         Options
	docs        []*Doc
	parseErrors int
	read        int
	unknowns    []Unknown
	n           uint64
}

// New returns an Analyzer.
func New(opt Options) *Analyzer {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.Discovered.IsZero() {
		opt.Discovered = opt.Now
	}
	return &Analyzer{opt: opt}
}

// AddJSON decodes and adds one document; one that does not decode is
// counted as not known.
func (a *Analyzer) AddJSON(b []byte) {
	a.read++
	d, err := Parse(b)
	if err != nil {
		a.parseErrors++
		return
	}
	a.Add(d)
}

// Add adds a decoded document. Documents outside the time range or of
// another host are left out, except health documents a little outside
// it, which tell what was lost inside.
func (a *Analyzer) Add(d *Doc) {
	if a.opt.Host != "" && d.Host.Name != a.opt.Host {
		return
	}
	if d.Bansho.Health == nil && !a.inRange(d.Timestamp) {
		return
	}
	a.n++
	d.ord = a.n
	a.docs = append(a.docs, d)
}

func (a *Analyzer) inRange(t time.Time) bool {
	return (a.opt.Since.IsZero() || !t.Before(a.opt.Since)) && (a.opt.Until.IsZero() || !t.After(a.opt.Until))
}

// Note records something the input could not tell (damaged store
// records, gaps); it is reported under unknowns.
func (a *Analyzer) Note(u Unknown) {
	if u.Count > 0 {
		a.unknowns = append(a.unknowns, u)
	}
}

// ErrNoAlert: --alert names no alert in the input.
var ErrNoAlert = errors.New("incident: no alert with that event.id in the records")

type set map[string]bool

func (s set) add(xs ...string) {
	for _, x := range xs {
		if x != "" {
			s[x] = true
		}
	}
}

func (s set) merge(o set) {
	for k := range o {
		s[k] = true
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pstate is a process that carries the data.
type pstate struct {
	since   time.Time
	via     string // read, child, pipe
	sources set    // host:path of protected files
	read    set    // derived files it read
	dests   map[int]Destination
	last    *Destination // the last connect's destination
	connect []*Doc       // connects, for flows with no send
	start   *time.Time
}

// fstate is a file the data was copied to.
type fstate struct {
	sources set
	read    set
	hashes  set
	corp    set
	maxMy   int
	maxCorp int
	// complete: every write into it was scanned whole.
	complete bool
	pii      set
}

type flowAcc struct {
	Flow
	key          string
	hashes, corp set
	pii          set
	sources      set
	from         set
	events       []string
	maxMy        int
	maxCorp      int
	truncated    bool
	repeatNoScan bool
	hashesCut    bool
	first        *Doc
	unknownProc  bool
	// whole: the flow moved a whole file whose content is known at rest.
	wholeAtRest bool
	// scannedAtRest: the sensor scanned the destination whole after the
	// flow's writes (a content-scan document).
	scannedAtRest bool
	// An HTTPS upload is seen twice: the plaintext handed to SSL_write
	// and the ciphertext sent. The plaintext's bytes count.
	tls                  bool
	tlsBytes, tlsSampled int64
	tlsTruncated         bool
}

type procInfo struct {
	pid                  int
	name, cmd, exe, user string
	parent               string
	entry                string
	ssh                  string
}

type healthPoint struct {
	t     time.Time
	drops int64
	shed  int64
	cut   int64
}

// Report makes the report.
func (a *Analyzer) Report() (*Report, error) {
	opt := a.opt
	sort.SliceStable(a.docs, func(i, j int) bool {
		if !a.docs[i].Timestamp.Equal(a.docs[j].Timestamp) {
			return a.docs[i].Timestamp.Before(a.docs[j].Timestamp)
		}
		return a.docs[i].ord < a.docs[j].ord
	})
	files := append([]string(nil), opt.Files...)
	alertProcs := set{}
	if opt.AlertID != "" {
		var al *Doc
		for _, d := range a.docs {
			if d.Event.ID == opt.AlertID {
				al = d
				break
			}
		}
		if al == nil {
			return nil, ErrNoAlert
		}
		if len(files) == 0 && al.File.Path != "" && al.Bansho.File.Protected {
			files = append(files, al.File.Path)
		}
		if len(files) == 0 {
			// The alert is about a process (a send, a copy written
			// elsewhere): its reads of protected data are the sources.
			alertProcs.add(al.procKey())
		}
	}
	isSource := func(d *Doc) bool {
		if !d.reads() || !d.Bansho.File.Protected {
			return false
		}
		if len(files) > 0 {
			ok := false
			for _, f := range files {
				if under(d.File.Path, f) {
					ok = true
				}
			}
			if !ok {
				return false
			}
		}
		if opt.User != "" && !d.Bansho.LoginUser.Is(opt.User) && !d.User.Is(opt.User) && !d.Process.User.Is(opt.User) {
			return false
		}
		if len(alertProcs) > 0 && !alertProcs[d.procKey()] {
			return false
		}
		return true
	}

	procs := map[string]*pstate{}
	carrierChild := map[string]*pstate{} // parent's key: a carrier among its children
	derived := map[string]*fstate{}      // host:path
	info := map[string]*procInfo{}
	sources := map[string]*Source{}
	flows := map[string]*flowAcc{}
	var order []*flowAcc
	alerts := map[string][]string{} // process key: alert ids
	health := map[string][]healthPoint{}
	var first, last time.Time
	touch := func(t time.Time) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}

	getFlow := func(d *Doc, kind, dest string) *flowAcc {
		k := d.procKey() + "\x00" + kind + "\x00" + dest
		if f, ok := flows[k]; ok {
			return f
		}
		f := &flowAcc{key: k, hashes: set{}, corp: set{}, pii: set{}, sources: set{}, from: set{}, first: d}
		f.Kind = kind
		f.Time = d.Timestamp
		f.Host = d.Host.Name
		f.LoginUser = d.Bansho.LoginUser.String()
		if el := d.Process.EntryLeader; el != nil && el.EntryMeta.Source.IP != "" {
			f.SSHSource = el.EntryMeta.Source.IP
		}
		flows[k] = f
		order = append(order, f)
		return f
	}
	addContent := func(f *flowAcc, d *Doc, bytes int64) {
		f.LastTime = d.Timestamp
		f.events = append(f.events, d.Event.ID)
		if d.Bansho.Network.TLS {
			f.tls = true
			f.tlsBytes += bytes
			if c := d.Bansho.Content; c != nil {
				f.tlsSampled += c.SampledBytes
				if c.Truncated || c.SampledBytes < bytes {
					f.tlsTruncated = true
				}
			} else if bytes > 0 {
				f.tlsTruncated = true
			}
		}
		f.Bytes += bytes
		if d.Bansho.ProcessUnknown.Unknown {
			f.unknownProc = true
		}
		c := d.Bansho.Content
		if c == nil {
			if bytes > 0 {
				f.truncated = true // data not scanned at all (a folded repeat, sampling off)
				if d.Bansho.Repeat != nil {
					f.repeatNoScan = true
				}
			}
			return
		}
		f.SampledBytes += c.SampledBytes
		if c.Truncated || c.SampledBytes < bytes || d.Bansho.Truncated {
			f.truncated = true
		}
		f.hashes.add(c.MyNumber.Hashes...)
		f.corp.add(c.CorporateNumber.Hashes...)
		f.maxMy = max(f.maxMy, c.MyNumber.Distinct)
		f.maxCorp = max(f.maxCorp, c.CorporateNumber.Distinct)
		if c.MyNumber.Distinct > len(c.MyNumber.Hashes) || c.CorporateNumber.Distinct > len(c.CorporateNumber.Hashes) {
			f.hashesCut = true
		}
		f.pii.add(c.PIITypes...)
	}
	srcLabel := func(d *Doc) string { return d.Host.Name + ":" + d.File.Path }
	noteInfo := func(d *Doc) {
		k := d.procKey()
		if k == "" {
			return
		}
		pi := info[k]
		if pi == nil {
			pi = &procInfo{}
			info[k] = pi
		}
		p := &d.Process
		pi.pid = p.PID
		if p.Name != "" {
			pi.name = p.Name
		}
		if p.CommandLine != "" {
			pi.cmd = p.CommandLine
		}
		if p.Executable != "" {
			pi.exe = p.Executable
		}
		if u := p.User.String(); u != "" {
			pi.user = u
		}
		if p.Parent != nil && p.Parent.EntityID != "" {
			pk := d.Host.Name + "/" + p.Parent.EntityID
			pi.parent = pk
			pp := info[pk]
			if pp == nil {
				pp = &procInfo{}
				info[pk] = pp
			}
			if pp.pid == 0 {
				pp.pid = p.Parent.PID
			}
			if pp.name == "" {
				pp.name = p.Parent.Name
			}
			if pp.cmd == "" {
				pp.cmd = p.Parent.CommandLine
			}
			if pp.user == "" {
				pp.user = p.Parent.User.String()
			}
		}
		if el := p.EntryLeader; el != nil && el.EntityID != "" {
			pi.entry = d.Host.Name + "/" + el.EntityID
			if el.EntryMeta.Source.IP != "" {
				pi.ssh = el.EntryMeta.Source.IP
			}
			ek := pi.entry
			if ek != k && info[ek] == nil {
				info[ek] = &procInfo{pid: el.PID, name: el.Name, cmd: el.CommandLine, user: el.User.String()}
			}
		}
	}

	for _, d := range a.docs {
		if h := d.Bansho.Health; h != nil {
			health[d.Host.Name] = append(health[d.Host.Name], healthPoint{t: d.Timestamp, drops: h.Drops["total"],
				shed: h.Counters["content_sample_shed"], cut: h.Counters["content_sample_truncated"]})
			continue
		}
		if !a.inRange(d.Timestamp) {
			continue
		}
		key := d.procKey()
		noteInfo(d)
		if d.Event.Kind == "alert" {
			if key != "" {
				alerts[key] = append(alerts[key], d.Event.ID)
			}
			continue
		}
		if d.Event.Kind != "event" && d.Event.Kind != "" {
			continue
		}
		if c := d.Bansho.Content; c != nil && c.AtRest && d.Event.Action == "content-scan" {
			// The sensor read, whole, a file a tainted process wrote more of
			// than its samples showed: the flows into it (by any writer)
			// get the people of the whole file.
			l := d.Host.Name + ":" + d.File.Path
			cut := c.MyNumber.Distinct > len(c.MyNumber.Hashes) || c.CorporateNumber.Distinct > len(c.CorporateNumber.Hashes)
			known := false
			for _, f := range order {
				if f.Kind != "file" || f.Host != d.Host.Name || f.Destination.Path != d.File.Path {
					continue
				}
				known = true
				f.LastTime = d.Timestamp
				f.events = append(f.events, d.Event.ID)
				f.hashes.add(c.MyNumber.Hashes...)
				f.corp.add(c.CorporateNumber.Hashes...)
				f.maxMy, f.maxCorp = max(f.maxMy, c.MyNumber.Distinct), max(f.maxCorp, c.CorporateNumber.Distinct)
				f.pii.add(c.PIITypes...)
				f.AtRestBytes = c.ScannedBytes
				if f.Via == "archive" {
					// Compressed: the numbers in it cannot be read from its
					// bytes, so what was found stays a lower bound.
					continue
				}
				// Every byte written before the scan was read; writes
				// after it mark the flow cut again.
				f.scannedAtRest = true
				f.truncated, f.repeatNoScan, f.hashesCut = false, false, cut
			}
			if fs := derived[l]; fs != nil && known {
				fs.hashes.add(c.MyNumber.Hashes...)
				fs.corp.add(c.CorporateNumber.Hashes...)
				fs.pii.add(c.PIITypes...)
				fs.maxMy, fs.maxCorp = max(fs.maxMy, c.MyNumber.Distinct), max(fs.maxCorp, c.CorporateNumber.Distinct)
				archived := false
				for _, f := range order {
					if f.Kind == "file" && f.Host == d.Host.Name && f.Destination.Path == d.File.Path && f.Via == "archive" {
						archived = true
					}
				}
				fs.complete = !cut && !archived
			}
			if known {
				touch(d.Timestamp)
			}
			continue
		}
		p := procs[key]
		// Inheritance: a child of a carrier; a process of a carrier's
		// process group the kernel tainted (it read a pipe the carrier
		// wrote to).
		if p == nil && key != "" {
			if pp := procs[d.Host.Name+"/"+d.ParentID()]; pp != nil && d.ParentID() != "" && (d.Event.Action == "fork" || d.Event.Action == "exec" || d.tainted()) {
				p = &pstate{since: d.Timestamp, via: "child", sources: set{}, read: set{}, dests: map[int]Destination{}}
				p.sources.merge(pp.sources)
				p.read.merge(pp.read)
				procs[key] = p
			} else if g := a.pipePeer(d, procs, carrierChild); g != nil {
				p = &pstate{since: d.Timestamp, via: "pipe", sources: set{}, read: set{}, dests: map[int]Destination{}}
				p.sources.merge(g.sources)
				p.read.merge(g.read)
				procs[key] = p
			}
		}
		// Reading the protected files, or a copy of them.
		if key != "" && d.reads() {
			fs := derived[srcLabel(d)]
			if isSource(d) || fs != nil {
				if p == nil {
					p = &pstate{since: d.Timestamp, via: "read", sources: set{}, read: set{}, dests: map[int]Destination{}}
					procs[key] = p
				}
				touch(d.Timestamp)
				if fs != nil {
					p.sources.merge(fs.sources)
					p.read.merge(fs.read)
					p.read.add(d.File.Path)
				} else {
					l := srcLabel(d)
					p.sources.add(l)
					s := sources[l]
					if s == nil {
						s = &Source{Host: d.Host.Name, Path: d.File.Path, FirstRead: d.Timestamp}
						sources[l] = s
					}
					who := d.Bansho.LoginUser.String()
					if who == "" {
						who = d.User.String()
					}
					r := fmt.Sprintf("%s[%d] %s", d.Process.Name, d.Process.PID, who)
					if !containsStr(s.Readers, r) {
						s.Readers = append(s.Readers, r)
					}
				}
			}
		}
		// Renames and links of the data, by whoever makes them; and a
		// carrier's mv of a copy, which the kernel does not report (a
		// copy is not protected data), from its command line.
		moveFrom, moveTo, inferred := "", "", ""
		if (d.Event.Action == "rename" || d.Event.Action == "link") && d.Event.Outcome != "failure" && d.File.TargetPath != "" {
			moveFrom, moveTo = d.File.Path, d.File.TargetPath
		} else if d.Event.Action == "exec" && p != nil && path.Base(d.Process.Executable) == "mv" {
			if src, dst := mvOperands(d.Process.Args, d.Process.WorkingDir); src != "" && derived[d.Host.Name+":"+src] != nil {
				moveFrom, moveTo, inferred = src, dst, "command line"
			}
		}
		if moveFrom != "" {
			action := d.Event.Action
			if inferred != "" {
				action = "rename"
			}
			l := d.Host.Name + ":" + moveFrom
			fs := derived[l]
			isSrc := false
			if fs == nil && d.Bansho.File.Protected {
				for _, f := range files {
					if under(d.File.Path, f) {
						isSrc = true
					}
				}
				if len(files) == 0 && len(alertProcs) == 0 && opt.User == "" {
					isSrc = true
				}
			}
			if fs != nil || isSrc {
				touch(d.Timestamp)
				f := getFlow(d, action, moveTo)
				f.Via = action
				f.Inferred = inferred
				f.Destination.Path = moveTo
				if m := d.Bansho.File.Mount; m != nil {
					f.Destination.FSType, f.Destination.Mount = m.FSType, m.Point
					f.Destination.Removable, f.Destination.NetworkFS = m.Removable, m.Network
				}
				f.from.add(moveFrom)
				addContent(f, d, 0)
				nf := &fstate{sources: set{}, read: set{}, hashes: set{}, corp: set{}, pii: set{}}
				if fs != nil {
					f.sources.merge(fs.sources)
					f.from.merge(fs.read)
					f.hashes.merge(fs.hashes)
					f.corp.merge(fs.corp)
					f.pii.merge(fs.pii)
					f.maxMy, f.maxCorp = max(f.maxMy, fs.maxMy), max(f.maxCorp, fs.maxCorp)
					f.truncated = f.truncated || !fs.complete
					*nf = *fs
					nf.read = set{}
					nf.read.merge(fs.read)
					nf.read.add(moveFrom)
				} else {
					f.sources.add(l)
					nf.sources.add(l)
					nf.complete = false
					f.truncated = true // the whole file moved: known only at rest
					f.wholeAtRest = true
					if sources[l] == nil {
						sources[l] = &Source{Host: d.Host.Name, Path: d.File.Path, FirstRead: d.Timestamp}
					}
				}
				derived[d.Host.Name+":"+moveTo] = nf
				if action == "rename" {
					delete(derived, l)
				}
			}
		}
		if p == nil {
			continue
		}
		if pk := d.ParentID(); pk != "" && carrierChild[d.Host.Name+"/"+pk] == nil {
			carrierChild[d.Host.Name+"/"+pk] = p
		}
		if p.start == nil {
			p.start = d.Process.Start
		}
		touch(d.Timestamp)
		switch d.Event.Action {
		case "write":
			pth := d.File.Path
			if !followable(pth) || d.Bansho.File.Protected && derived[d.Host.Name+":"+pth] == nil {
				break // a terminal, or protected data itself
			}
			f := getFlow(d, "file", pth)
			if f.Via == "" {
				f.Via = viaOf(d, p)
			}
			f.Destination.Path = pth
			if m := d.Bansho.File.Mount; m != nil {
				f.Destination.FSType, f.Destination.Mount = m.FSType, m.Point
				f.Destination.Removable, f.Destination.NetworkFS = m.Removable, m.Network
			}
			bytes := d.Bansho.File.Bytes
			if r := d.Bansho.Repeat; r != nil {
				bytes = int64(r.Bytes)
			}
			addContent(f, d, bytes)
			f.sources.merge(p.sources)
			f.from.merge(p.read)
			fs := derived[d.Host.Name+":"+pth]
			if fs == nil {
				fs = &fstate{sources: set{}, read: set{}, hashes: set{}, corp: set{}, pii: set{}, complete: true}
				derived[d.Host.Name+":"+pth] = fs
			}
			fs.sources.merge(p.sources)
			fs.read.merge(p.read)
			fs.hashes.merge(f.hashes)
			fs.corp.merge(f.corp)
			fs.pii.merge(f.pii)
			fs.maxMy, fs.maxCorp = max(fs.maxMy, f.maxMy), max(fs.maxCorp, f.maxCorp)
			fs.complete = fs.complete && !f.truncated && !f.hashesCut
		case "connect":
			if d.Event.Outcome == "failure" {
				break
			}
			dst := netDest(d)
			if fd := d.Bansho.Network.FD; fd != nil {
				p.dests[*fd] = dst
			}
			p.last = &dst
			p.connect = append(p.connect, d)
		case "send":
			dst := netDest(d)
			if dst.IP == "" {
				if fd := d.Bansho.Network.FD; fd != nil {
					if x, ok := p.dests[*fd]; ok {
						dst = x
					}
				}
				if dst.IP == "" && p.last != nil {
					dst = *p.last
				}
				dst.TLS = d.Bansho.Network.TLS
			}
			f := getFlow(d, "network", dest(dst))
			if f.Destination.IP == "" {
				f.Destination = dst
			}
			if d.Bansho.Network.TLS {
				f.Destination.TLS = true
				f.Via = "tls-upload"
			} else if f.Via == "" {
				f.Via = "send"
			}
			addContent(f, d, d.Bansho.Network.Bytes)
			f.sources.merge(p.sources)
			f.from.merge(p.read)
		}
	}
	// Connections of carriers that sent nothing the sensor saw: a flow
	// whose bytes and people are not known.
	for key, p := range procs {
		for _, d := range p.connect {
			dst := netDest(d)
			if _, ok := flows[key+"\x00network\x00"+dest(dst)]; ok {
				continue
			}
			f := getFlow(d, "network", dest(dst))
			f.Destination = dst
			f.Via = "connect"
			addContent(f, d, 0)
			f.truncated = true
			f.sources.merge(p.sources)
			f.from.merge(p.read)
		}
	}

	rep := &Report{Schema: Schema, Generated: opt.Now.UTC(), DocumentsRead: a.read}
	rep.Query = Query{Files: files, User: opt.User, Host: opt.Host, AlertID: opt.AlertID, Inputs: opt.Inputs}
	if !opt.Since.IsZero() {
		t := opt.Since
		rep.Query.Since = &t
	}
	if !opt.Until.IsZero() {
		t := opt.Until
		rep.Query.Until = &t
	}
	if !first.IsZero() {
		rep.Window.First, rep.Window.Last = &first, &last
	}
	// Sources and what is known of them at rest.
	atRest := func(label string) *AtRest {
		if opt.AtRest == nil {
			return nil
		}
		if r := opt.AtRest[label]; r != nil {
			return r
		}
		if i := strings.IndexByte(label, ':'); i >= 0 {
			return opt.AtRest[label[i+1:]]
		}
		return nil
	}
	for _, l := range sortedKeys(sources) {
		s := sources[l]
		s.AtRest = atRest(l)
		rep.Sources = append(rep.Sources, *s)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].Time.Before(order[j].Time) })
	seen, seenCorp := set{}, set{}
	possible, possibleCorp := set{}, set{}
	pii := set{}
	hosts := set{}
	allComplete, allBounded := true, true
	lowerMy, lowerCorp := 0, 0
	people := map[string]*Person{}
	for i, f := range order {
		f.ID = i + 1
		hosts.add(f.Host)
		// A whole protected file moved: what it holds at rest moved.
		if f.wholeAtRest {
			known := true
			for s := range f.sources {
				if r := atRest(s); r != nil && !r.Truncated {
					f.hashes.add(r.hashes...)
					f.corp.add(r.corp...)
					f.maxMy, f.maxCorp = max(f.maxMy, r.Persons), max(f.maxCorp, r.CorporateNumbers)
				} else {
					known = false
				}
			}
			f.truncated = !known
		}
		if f.tls {
			f.Bytes, f.SampledBytes, f.truncated = f.tlsBytes, f.tlsSampled, f.tlsTruncated
		}
		f.Complete = !f.truncated && !f.hashesCut
		f.Hashes, f.CorporateHashes = f.hashes.sorted(), f.corp.sorted()
		f.PIITypes = orderPII(f.pii)
		f.From = append(sortSourcePaths(f.sources), f.from.sorted()...)
		f.Events = f.events
		f.Alerts = alerts[f.first.procKey()]
		f.Process = a.process(f.first, info)
		// Bounds of this flow.
		var extra, extraCorp set
		bounded := true
		if !f.Complete {
			extra, extraCorp = set{}, set{}
			for s := range f.sources {
				r := atRest(s)
				if r == nil || r.Truncated {
					bounded = false
					break
				}
				extra.add(r.hashes...)
				extraCorp.add(r.corp...)
			}
			if len(f.sources) == 0 {
				bounded = false
			}
		}
		f.Persons = bound(f.hashes, f.maxMy, f.Complete, bounded, extra)
		f.CorporateNumbers = bound(f.corp, f.maxCorp, f.Complete, bounded, extraCorp)
		if f.Complete && f.scannedAtRest {
			f.Persons.Basis = "the whole file, scanned at rest by the sensor once written"
			f.CorporateNumbers.Basis = f.Persons.Basis
		}
		seen.merge(f.hashes)
		seenCorp.merge(f.corp)
		lowerMy, lowerCorp = max(lowerMy, f.maxMy), max(lowerCorp, f.maxCorp)
		if !f.Complete {
			allComplete = false
			if bounded {
				possible.merge(extra)
				possibleCorp.merge(extraCorp)
			} else {
				allBounded = false
			}
		}
		pii.merge(f.pii)
		pk := f.Host + "\x00" + f.LoginUser
		pe := people[pk]
		if pe == nil {
			pe = &Person{Host: f.Host, LoginUser: f.LoginUser}
			people[pk] = pe
		}
		pe.Flows++
		if f.SSHSource != "" && !containsStr(pe.Sources, f.SSHSource) {
			pe.Sources = append(pe.Sources, f.SSHSource)
		}
		rep.Flows = append(rep.Flows, f.Flow)
	}
	for _, k := range sortedKeys(people) {
		rep.People = append(rep.People, *people[k])
	}
	rep.Hosts = hosts.sorted()
	rep.PIITypes = orderPII(pii)
	rep.Persons = total(seen, lowerMy, possible, allComplete, allBounded)
	rep.CorporateNumbers = total(seenCorp, lowerCorp, possibleCorp, allComplete, allBounded)
	rep.Hashes.MyNumber = seen.sorted()
	rep.Hashes.CorporateNumber = seenCorp.sorted()
	for k := range seen {
		delete(possible, k)
	}
	for k := range seenCorp {
		delete(possibleCorp, k)
	}
	rep.Hashes.MyNumberPossible = possible.sorted()
	rep.Hashes.CorporateNumberPossible = possibleCorp.sorted()
	rep.Deadlines = deadlines(opt.Discovered, opt.Malicious)
	rep.Unknowns = a.unknownsOf(rep, order, health, sources, atRest, first, last)
	for _, x := range []*[]string{&rep.Hashes.MyNumber, &rep.Hashes.MyNumberPossible, &rep.Hashes.CorporateNumber, &rep.Hashes.CorporateNumberPossible, &rep.PIITypes, &rep.Hosts} {
		if *x == nil {
			*x = []string{}
		}
	}
	if rep.Flows == nil {
		rep.Flows = []Flow{}
	}
	for i := range rep.Flows {
		f := &rep.Flows[i]
		for _, x := range []*[]string{&f.Hashes, &f.CorporateHashes, &f.PIITypes, &f.From, &f.Events, &f.Alerts} {
			if *x == nil {
				*x = []string{}
			}
		}
	}
	if rep.Sources == nil {
		rep.Sources = []Source{}
	}
	if rep.People == nil {
		rep.People = []Person{}
	}
	return rep, nil
}

// pipePeer: the kernel says d's process read protected data (tainted),
// and it is in the process group of a carrier, or a sibling of one (the
// other end of a shell pipeline): it read a pipe the carrier wrote to.
func (a *Analyzer) pipePeer(d *Doc, procs, carrierChild map[string]*pstate) *pstate {
	if !d.tainted() {
		return nil
	}
	if g := d.GroupID(); g != "" && g != d.Process.EntityID {
		if p := procs[d.Host.Name+"/"+g]; p != nil {
			return p
		}
	}
	if pk := d.ParentID(); pk != "" {
		// Started together, as the commands of one pipeline are.
		if c := carrierChild[d.Host.Name+"/"+pk]; c != nil && c.start != nil && d.Process.Start != nil {
			if dt := d.Process.Start.Sub(*c.start); dt < 2*time.Second && dt > -2*time.Second {
				return c
			}
		}
	}
	return nil
}

// mvOperands reads `mv [OPTION]... SOURCE DEST` (one source; with -t
// DIR or a DEST ending in /, DEST is DIR/base(SOURCE)), with relative
// names made absolute against the working directory. A DEST naming an
// existing directory without a slash cannot be told from a new name.
func mvOperands(args []string, cwd string) (string, string) {
	var ops []string
	target := ""
	opts := true
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case opts && a == "--":
			opts = false
		case opts && (a == "-t" || a == "--target-directory") && i+1 < len(args):
			target = args[i+1]
			i++
		case opts && strings.HasPrefix(a, "--target-directory="):
			target = strings.TrimPrefix(a, "--target-directory=")
		case opts && (a == "-S" || a == "--suffix") && i+1 < len(args):
			i++
		case opts && strings.HasPrefix(a, "-") && a != "-":
		default:
			ops = append(ops, a)
		}
	}
	abs := func(p string) string {
		if p == "" || strings.HasPrefix(p, "/") {
			return path.Clean(p)
		}
		if cwd == "" {
			return ""
		}
		return path.Join(cwd, p)
	}
	var src, dst string
	switch {
	case target != "" && len(ops) == 1:
		src, dst = ops[0], strings.TrimSuffix(target, "/")+"/"+path.Base(ops[0])
	case target == "" && len(ops) == 2:
		src, dst = ops[0], ops[1]
		if strings.HasSuffix(dst, "/") {
			dst += path.Base(src)
		}
	default:
		return "", ""
	}
	src, dst = abs(src), abs(dst)
	if src == "" || dst == "" {
		return "", ""
	}
	return src, dst
}

func bound(h set, maxDistinct int, complete, bounded bool, extra set) Count {
	c := Count{Lower: max(len(h), maxDistinct)}
	switch {
	case complete:
		u := c.Lower
		c.Upper, c.Exact, c.Basis = &u, true, "scanned whole"
	case bounded:
		all := set{}
		all.merge(h)
		all.merge(extra)
		u := max(len(all), c.Lower)
		c.Upper, c.Exact = &u, u == c.Lower
		c.Basis = "lower: scanned sample; upper: source scanned at rest"
	default:
		c.Basis = "lower: scanned sample; upper not known"
	}
	return c
}

func total(seen set, maxDistinct int, possible set, allComplete, allBounded bool) Count {
	c := Count{Lower: max(len(seen), maxDistinct)}
	switch {
	case allComplete:
		u := c.Lower
		c.Upper, c.Exact, c.Basis = &u, true, "every flow scanned whole"
	case allBounded:
		all := set{}
		all.merge(seen)
		all.merge(possible)
		u := max(len(all), c.Lower)
		c.Upper, c.Exact = &u, u == c.Lower
		c.Basis = "lower: distinct hashes in the scanned bytes; upper: with the sources' content at rest"
	default:
		c.Basis = "lower: distinct hashes in the scanned bytes; upper not known (a flow not scanned whole from a source whose content is not known)"
	}
	return c
}

func deadlines(disc time.Time, malicious bool) Deadlines {
	days := 30
	if malicious {
		days = 60
	}
	return Deadlines{Discovered: disc, PreliminaryFrom: disc.AddDate(0, 0, 3), PreliminaryDue: disc.AddDate(0, 0, 5),
		Final: disc.AddDate(0, 0, days), FinalDays: days, Malicious: malicious}
}

func viaOf(d *Doc, p *pstate) string {
	name := d.Process.Name
	if d.Process.Executable != "" {
		name = path.Base(d.Process.Executable)
	}
	if p.via == "pipe" {
		return "pipe"
	}
	switch name {
	case "tar", "zip", "gzip", "bzip2", "xz", "zstd", "7z", "7za", "rar", "pigz", "lz4", "cpio":
		return "archive"
	}
	if d.Bansho.File.Syscall == "copy_file_range" || d.Bansho.File.Syscall == "sendfile" || d.Bansho.File.Syscall == "splice" {
		return "copy"
	}
	switch name {
	case "cp", "rsync", "dd", "install", "cat", "scp":
		return "copy"
	case "mv":
		return "move" // across file systems: a copy, then the original removed
	}
	return "write"
}

func netDest(d *Doc) Destination {
	return Destination{IP: d.Dest.IP, Port: d.Dest.Port, Domain: d.Dest.Domain,
		Class: d.Bansho.Network.DestinationClass, Transport: d.Network.Transport, TLS: d.Bansho.Network.TLS}
}

func dest(d Destination) string {
	return d.IP + " " + strconv.Itoa(d.Port)
}

func (a *Analyzer) process(d *Doc, info map[string]*procInfo) Process {
	p := Process{EntityID: d.Process.EntityID, PID: d.Process.PID, Name: d.Process.Name, Executable: d.Process.Executable,
		CommandLine: d.Process.CommandLine, User: d.Process.User.String()}
	if pi := info[d.procKey()]; pi != nil {
		if p.CommandLine == "" {
			p.CommandLine = pi.cmd
		}
		if p.Executable == "" {
			p.Executable = pi.exe
		}
	}
	seen := set{d.procKey(): true}
	k := ""
	if pi := info[d.procKey()]; pi != nil {
		k = pi.parent
	}
	for len(p.Ancestry) < 16 && k != "" && !seen[k] {
		seen[k] = true
		pi := info[k]
		if pi == nil {
			break
		}
		p.Ancestry = append(p.Ancestry, Ancestor{PID: pi.pid, Name: pi.name, CommandLine: pi.cmd, User: pi.user})
		k = pi.parent
	}
	// The session's entry leader, when the chain did not reach it.
	if el := d.Process.EntryLeader; el != nil && el.EntityID != "" && !seen[d.Host.Name+"/"+el.EntityID] {
		p.Ancestry = append(p.Ancestry, Ancestor{PID: el.PID, Name: el.Name, CommandLine: el.CommandLine, User: el.User.String()})
	}
	if p.Ancestry == nil {
		p.Ancestry = []Ancestor{}
	}
	return p
}

func (a *Analyzer) unknownsOf(rep *Report, order []*flowAcc, health map[string][]healthPoint, sources map[string]*Source,
	atRest func(string) *AtRest, first, last time.Time) []Unknown {
	out := append([]Unknown(nil), a.unknowns...)
	if a.parseErrors > 0 {
		out = append(out, Unknown{Kind: "undecodable-documents", Count: int64(a.parseErrors),
			Detail: "input lines that are not JSON documents were skipped"})
	}
	if first.IsZero() {
		return out
	}
	for _, h := range rep.Hosts {
		pts := health[h]
		var before, after *healthPoint
		for i := range pts {
			if !pts[i].t.After(first) {
				before = &pts[i]
			}
			if !pts[i].t.Before(last) && after == nil {
				after = &pts[i]
			}
		}
		if after == nil {
			out = append(out, Unknown{Kind: "health-missing", Host: h, Count: 1,
				Detail: "no sensor-health document after the last event: events lost at the end of the incident are not known"})
			continue
		}
		base := healthPoint{}
		if before != nil {
			base = *before
		}
		diff := func(a, b int64) int64 {
			if a < b { // the sensor restarted: its counters began again
				return a
			}
			return a - b
		}
		from := "the sensor's start"
		if before != nil {
			from = before.t.UTC().Format(time.RFC3339)
		}
		span := fmt.Sprintf("between %s and %s", from, after.t.UTC().Format(time.RFC3339))
		if n := diff(after.drops, base.drops); n > 0 {
			out = append(out, Unknown{Kind: "events-lost", Host: h, Count: n,
				Detail: "events the sensor counted as dropped " + span + " (bansho.health.drops.total): some accesses or flows may be missing"})
		}
		if n := diff(after.shed, base.shed) + diff(after.cut, base.cut); n > 0 {
			out = append(out, Unknown{Kind: "samples-shed", Host: h, Count: n,
				Detail: "content samples cut or left out by the sensor " + span + " (content_sample_truncated, content_sample_shed)"})
		}
	}
	var cut, unscanned, hcut, unk int64
	for _, f := range order {
		switch {
		case f.Via == "connect":
			unscanned++
		case f.wholeAtRest:
		case f.truncated:
			cut++
		}
		if f.hashesCut {
			hcut++
		}
		if f.unknownProc {
			unk++
		}
	}
	if cut > 0 {
		out = append(out, Unknown{Kind: "samples-cut", Count: cut,
			Detail: "flows of which only part of the bytes was scanned (the first bytes of each write or send): their counts are lower bounds"})
	}
	if unscanned > 0 {
		out = append(out, Unknown{Kind: "connections-without-data", Count: unscanned,
			Detail: "connections of processes that carried the data with no send seen: what was sent is not known"})
	}
	if hcut > 0 {
		out = append(out, Unknown{Kind: "hashes-truncated", Count: hcut,
			Detail: "flows with more distinct numbers than hashes kept per stream (1024): the count is the detector's estimate"})
	}
	if unk > 0 {
		out = append(out, Unknown{Kind: "process-unknown", Count: unk,
			Detail: "flows by processes the sensor had not in its table: ancestry and session may be incomplete"})
	}
	var noRest []string
	for _, l := range sortedKeys(sources) {
		if r := atRest(l); r == nil {
			noRest = append(noRest, l)
		}
	}
	if len(noRest) > 0 && rep.Persons.Upper == nil {
		out = append(out, Unknown{Kind: "source-content-unknown", Count: int64(len(noRest)),
			Detail: "protected files whose whole content is not known (not scanned at rest): no upper bound: " + strings.Join(noRest, ", ")})
	}
	if out == nil {
		out = []Unknown{}
	}
	return out
}

func orderPII(s set) []string {
	var out []string
	for _, k := range []string{"name", "birth_date", "address", "phone", "bank_account"} {
		if s[k] {
			out = append(out, k)
		}
	}
	for _, k := range s.sorted() {
		if !containsStr(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func sortSourcePaths(s set) []string {
	var out []string
	for _, l := range s.sorted() {
		out = append(out, l)
	}
	return out
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
