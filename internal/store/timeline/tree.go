package timeline

import (
	"sort"
	"time"

	"github.com/bansho-sec/bansho/internal/store"
)

// Timeline is the story: root processes with their descendants, each with
// its documents in time order.
type Timeline struct {
	Filter      Filter
	Roots       []*Node
	Docs        int // documents shown
	First, Last time.Time
	// Truncated is set when the document limit was reached.
	Truncated   bool
	ParseErrors int
	// BadLines are the input lines that were not documents
	// (FromJSONLines; the first MaxBadLines, ParseErrors counts all).
	BadLines []BadLine
	// Damage is what the store could not return: damaged or missing
	// records the story may lack (FromStore). DamagedRecords counts
	// them, DamageUnknown the losses of an unknown number of records.
	Damage         []store.Damage
	DamagedRecords uint64
	DamageUnknown  int
	// Read is how many documents the query read from the store (the
	// index selects them; the documents then decide).
	Read int
}

// BadLine is an input line that was skipped: its number (from 1) and why.
type BadLine struct {
	Line   int
	Reason string
}

// MaxBadLines bounds Timeline.BadLines.
const MaxBadLines = 1000

// Node is one process.
type Node struct {
	Proc     Proc
	Context  bool // shown only as the parent of a process in the story
	Events   []*Doc
	Children []*Node
	login    User
	first    time.Time
}

func build(c *collector, f *Filter) *Timeline {
	t := &Timeline{Filter: *f, Truncated: c.truncated, Docs: len(c.docs)}
	sortDocs(c.docs)
	nodes := map[string]*Node{}
	var order []*Node
	var orphans []*Doc // documents without a process (sensor state, health)
	node := func(id string) *Node {
		n := nodes[id]
		if n == nil {
			n = &Node{Proc: Proc{EntityID: id}}
			nodes[id] = n
			order = append(order, n)
		}
		return n
	}
	for _, d := range c.docs {
		if t.First.IsZero() {
			t.First = d.Timestamp
		}
		t.Last = d.Timestamp
		id := d.Process.EntityID
		if id == "" {
			orphans = append(orphans, d)
			continue
		}
		n := node(id)
		if n.first.IsZero() {
			n.first = d.Timestamp
		}
		n.merge(d)
		n.Events = append(n.Events, d)
		if p := d.Process.Parent; p != nil && p.EntityID != "" && n.Proc.Parent == nil {
			n.Proc.Parent = &Proc{EntityID: p.EntityID, PID: p.PID, Start: p.Start}
		}
	}
	// Parents known only as context.
	for _, n := range order {
		if c.parents[n.Proc.EntityID] && !c.entities[n.Proc.EntityID] {
			n.Context = true
		}
	}
	for _, n := range order {
		if p := n.Proc.Parent; p != nil {
			if pn, ok := nodes[p.EntityID]; ok && pn != n {
				pn.Children = append(pn.Children, n)
				continue
			}
		}
		t.Roots = append(t.Roots, n)
	}
	if len(orphans) > 0 {
		t.Roots = append(t.Roots, &Node{Proc: Proc{Name: "(no process)"}, Events: orphans, first: orphans[0].Timestamp})
	}
	var sortNodes func([]*Node)
	sortNodes = func(ns []*Node) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].start().Before(ns[j].start()) })
		for _, n := range ns {
			sortNodes(n.Children)
		}
	}
	sortNodes(t.Roots)
	return t
}

// start is when the process started, or when it was first seen.
func (n *Node) start() time.Time {
	if n.Proc.Start != nil {
		return *n.Proc.Start
	}
	return n.first
}

// merge keeps the most complete facts about a process: exec documents
// carry the executable and command line, end documents the exit code.
func (n *Node) merge(d *Doc) {
	p, q := &n.Proc, &d.Process
	if q.PID != 0 {
		p.PID = q.PID
	}
	if q.Name != "" && (d.Event.Action == "exec" || p.Name == "") {
		p.Name = q.Name
	}
	if q.Executable != "" {
		p.Executable = q.Executable
	}
	if q.CommandLine != "" {
		p.CommandLine = q.CommandLine
	}
	if len(q.Args) > 0 {
		p.Args = q.Args
	}
	if q.Start != nil && p.Start == nil {
		p.Start = q.Start
	}
	if q.End != nil {
		p.End = q.End
	}
	if q.ExitCode != nil {
		p.ExitCode = q.ExitCode
	}
	if q.Interactive {
		p.Interactive = true
	}
	if q.User.ID != "" && (p.User.ID == "" || d.Event.Action == "exec") {
		p.User = q.User
	}
	if q.User.Name == "" && d.User.Name != "" && d.User.ID == q.User.ID {
		p.User.Name = d.User.Name
	}
	if q.RealUser.ID != "" {
		p.RealUser = q.RealUser
	}
	if l := d.Bansho.LoginUser; l.ID != "" && (n.login.ID == "" || l.Name != "") {
		n.login = l
	}
}

// Login is the login (audit) user of the process, if known.
func (n *Node) Login() User { return n.login }

// sortDocs orders documents by time, then by the order they were written
// (sequence number or line), so documents with the same timestamp keep
// the order the sensor produced them in.
func sortDocs(docs []*Doc) {
	sort.SliceStable(docs, func(i, j int) bool {
		a, b := docs[i], docs[j]
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		// An alert has its trigger's time: show it after the trigger.
		if ak, bk := a.Event.Kind == "alert", b.Event.Kind == "alert"; ak != bk {
			return bk
		}
		return a.ord < b.ord
	})
}
