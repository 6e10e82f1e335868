package timeline

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// WriteText prints the timeline as a tree for a terminal, times in loc.
// Every string from a document is cleaned of control characters, so a
// hostile file or command name cannot drive the terminal.
func (t *Timeline) WriteText(w io.Writer, loc *time.Location) error {
	if loc == nil {
		loc = time.Local
	}
	p := &printer{w: w, loc: loc}
	p.sameDay = !t.First.IsZero() && t.First.In(loc).Format("2006-01-02") == t.Last.In(loc).Format("2006-01-02")
	fmt.Fprintf(w, "Timeline of %s\n", t.Filter.describe(loc))
	// What the story may lack comes first, even when nothing was found.
	if t.DamagedRecords > 0 || t.DamageUnknown > 0 {
		s := fmt.Sprintf("(%d records damaged or missing in the store were skipped", t.DamagedRecords)
		if t.DamageUnknown > 0 {
			s += fmt.Sprintf(", and %d losses of an unknown number of records", t.DamageUnknown)
		}
		fmt.Fprintln(w, s+": the story may lack them)")
	}
	if t.ParseErrors > 0 {
		fmt.Fprintf(w, "(%d input lines are not documents and were skipped%s)\n", t.ParseErrors, lineList(t.BadLines))
	}
	if t.Docs == 0 {
		fmt.Fprintln(w, "no documents found")
		return p.err
	}
	procs := 0
	var count func([]*Node)
	count = func(ns []*Node) {
		for _, n := range ns {
			if n.Proc.EntityID != "" {
				procs++
			}
			count(n.Children)
		}
	}
	count(t.Roots)
	fmt.Fprintf(w, "%d documents, %d processes, %s to %s\n", t.Docs, procs,
		t.First.In(loc).Format("2006-01-02 15:04:05.000 MST"), t.Last.In(loc).Format("2006-01-02 15:04:05.000 MST"))
	if t.Truncated {
		fmt.Fprintln(w, "(truncated: the document limit was reached; narrow the query with --since/--until)")
	}
	for _, n := range t.Roots {
		fmt.Fprintln(w)
		p.node(n, "", "")
	}
	return p.err
}

type printer struct {
	w       io.Writer
	loc     *time.Location
	sameDay bool
	err     error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s+"\n")
	}
}

func (p *printer) ts(t time.Time) string {
	if p.sameDay {
		return t.In(p.loc).Format("15:04:05.000")
	}
	return t.In(p.loc).Format("01-02 15:04:05.000")
}

// node prints a process line, then its documents and children in time
// order. first is the prefix of the process line, rest of what is under it.
func (p *printer) node(n *Node, first, rest string) {
	p.line(first + p.header(n))
	type item struct {
		at    time.Time
		doc   *Doc
		child *Node
	}
	var items []item
	for _, d := range n.Events {
		items = append(items, item{at: d.Timestamp, doc: d})
	}
	for _, c := range n.Children {
		items = append(items, item{at: c.start(), child: c})
	}
	// Stable merge by time: documents and children each come sorted.
	sortItems(items, func(a, b item) bool { return a.at.Before(b.at) })
	// A run of documents that say the same (a daemon reading one file
	// again and again) is one line with a count and the time of the last.
	type line struct {
		item
		text  string
		n     int
		until time.Time
	}
	var lines []line
	for _, it := range items {
		if it.child != nil {
			lines = append(lines, line{item: it})
			continue
		}
		text := summary(it.doc)
		if k := len(lines) - 1; k >= 0 && lines[k].child == nil && lines[k].text == text {
			lines[k].n++
			lines[k].until = it.at
			continue
		}
		lines = append(lines, line{item: it, text: text, n: 1})
	}
	for i, l := range lines {
		branch, more := "├─ ", "│  "
		if i == len(lines)-1 {
			branch, more = "└─ ", "   "
		}
		if l.child != nil {
			p.node(l.child, rest+branch, rest+more)
			continue
		}
		text := l.text
		if l.n > 1 {
			text += fmt.Sprintf("  (×%d, until %s)", l.n, p.ts(l.until))
		}
		p.line(rest + branch + p.ts(l.doc.Timestamp) + "  " + text)
	}
}

func sortItems[T any](s []T, less func(a, b T) bool) {
	// Insertion sort: stable, and the lists are short and nearly sorted.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && less(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (p *printer) header(n *Node) string {
	pr := n.Proc
	var b strings.Builder
	name := pr.Name
	if name == "" {
		name = "?"
	}
	b.WriteString(clean(name))
	if pr.PID != 0 {
		fmt.Fprintf(&b, "[%d]", pr.PID)
	}
	if u := userString(pr.User); u != "" {
		b.WriteString(" user=" + u)
	}
	if pr.RealUser.ID != "" && pr.RealUser.ID != pr.User.ID {
		b.WriteString(" real=" + userString(pr.RealUser))
	}
	if l := n.login; l.ID != "" {
		b.WriteString(" login=" + userString(l))
	}
	if pr.Interactive {
		b.WriteString(" tty")
	}
	if pr.CommandLine != "" {
		b.WriteString("  " + strconv.QuoteToGraphic(clip(pr.CommandLine, 160)))
	} else if pr.Executable != "" {
		b.WriteString("  " + clean(pr.Executable))
	}
	if pr.Start != nil {
		b.WriteString("  started " + p.ts(*pr.Start))
	}
	if pr.End != nil {
		b.WriteString(" ended " + p.ts(*pr.End))
	}
	if pr.ExitCode != nil {
		fmt.Fprintf(&b, " exit %d", *pr.ExitCode)
	}
	if n.Context {
		b.WriteString("  (parent, for context)")
	}
	return b.String()
}

func userString(u User) string {
	switch {
	case u.Name != "" && u.ID != "":
		return clean(u.Name) + "(" + clean(u.ID) + ")"
	case u.Name != "":
		return clean(u.Name)
	}
	return clean(u.ID)
}

// summary is one line about a document.
func summary(d *Doc) string {
	var b strings.Builder
	action := d.Event.Action
	if action == "" {
		action = d.Event.Kind
	}
	if d.Event.Kind == "alert" {
		b.WriteString("ALERT    ")
		name := d.Rule.Name
		if name == "" {
			name = d.Message
		}
		b.WriteString(clean(name))
		if d.Event.Severity > 0 {
			fmt.Fprintf(&b, " (severity %d)", d.Event.Severity)
		}
		if d.File.Path != "" {
			b.WriteString("  " + clean(d.File.Path))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%-8s ", clean(action))
	switch {
	case action == "exec":
		b.WriteString(clean(d.Process.Executable))
		if d.Process.CommandLine != "" {
			b.WriteString("  " + strconv.QuoteToGraphic(clip(d.Process.CommandLine, 200)))
		}
	case action == "fork":
		if d.Process.Parent != nil {
			fmt.Fprintf(&b, "from pid %d", d.Process.Parent.PID)
		}
	case action == "end":
		if d.Process.ExitCode != nil {
			fmt.Fprintf(&b, "exit %d", *d.Process.ExitCode)
		}
	case d.File.Path != "" || d.File.TargetPath != "":
		b.WriteString(clean(d.File.Path))
		if d.File.TargetPath != "" {
			b.WriteString(" -> " + clean(d.File.TargetPath))
		}
		if fl := d.Bansho.File.Flags; len(fl) > 0 && action == "open" {
			b.WriteString("  " + clean(strings.Join(fl, "|")))
		}
		if n := d.Bansho.File.Bytes; n > 0 {
			fmt.Fprintf(&b, "  %d bytes", n)
		}
		if d.Bansho.File.Protected {
			b.WriteString("  [protected]")
		}
	case d.Dest.IP != "" || d.Source.IP != "":
		if d.Network.Transport != "" {
			b.WriteString(d.Network.Transport + " ")
		}
		if d.Network.Direction == "ingress" {
			b.WriteString("from " + hostPort(d.Source))
		} else {
			b.WriteString("to " + hostPort(d.Dest))
		}
		if n := d.Bansho.Network.Bytes; n > 0 {
			fmt.Fprintf(&b, "  %d bytes", n)
		}
	default:
		if d.Message != "" {
			b.WriteString(clean(clip(d.Message, 200)))
		}
	}
	if d.Event.Outcome == "failure" {
		b.WriteString("  (failed)")
	}
	my, corp := d.Findings()
	if f := my; f.Distinct > 0 {
		fmt.Fprintf(&b, "  !! My Number: %d %s (%s confidence, %d occurrences)", f.Distinct, plural(f.Distinct, "person", "people"), clean(f.Confidence), f.Occurrences)
	}
	if f := corp; f.Distinct > 0 {
		fmt.Fprintf(&b, "  corporate numbers: %d", f.Distinct)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func hostPort(a Addr) string {
	h := a.IP
	if a.Domain != "" {
		h = a.Domain + " (" + a.IP + ")"
	}
	if strings.Contains(a.IP, ":") && a.Domain == "" {
		h = "[" + a.IP + "]"
	}
	if a.Port != 0 {
		return clean(h) + ":" + strconv.Itoa(a.Port)
	}
	return clean(h)
}

// clean escapes control and invisible characters.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if !unicode.IsGraphic(r) || r == '\\' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

func (f *Filter) describe(loc *time.Location) string {
	var parts []string
	if f.File != "" {
		parts = append(parts, "file "+clean(f.File))
	}
	if f.EntityID != "" {
		parts = append(parts, "process "+clean(f.EntityID))
	}
	if f.PID != 0 {
		parts = append(parts, "pid "+strconv.Itoa(f.PID))
	}
	if f.User != "" {
		parts = append(parts, "user "+clean(f.User))
	}
	if len(parts) == 0 {
		parts = append(parts, "everything")
	}
	s := strings.Join(parts, ", ")
	if !f.Since.IsZero() {
		s += ", since " + f.Since.In(loc).Format("2006-01-02 15:04:05 MST")
	}
	if !f.Until.IsZero() {
		s += ", until " + f.Until.In(loc).Format("2006-01-02 15:04:05 MST")
	}
	return s
}

// lineList is ": lines 3, 7, 9" (the first ten), or "" for none.
func lineList(bad []BadLine) string {
	if len(bad) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(": line")
	if len(bad) > 1 {
		b.WriteString("s")
	}
	for i, l := range bad {
		if i == 10 {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, " %d", l.Line)
	}
	return b.String()
}

// WriteJSON writes the timeline as one JSON object: the processes as a
// tree, each with its documents (whole, under "document").
func (t *Timeline) WriteJSON(w io.Writer) error {
	type jevent struct {
		Timestamp time.Time       `json:"@timestamp"`
		Action    string          `json:"action"`
		Summary   string          `json:"summary"`
		Document  json.RawMessage `json:"document"`
	}
	type jnode struct {
		EntityID    string     `json:"entity_id,omitempty"`
		PID         int        `json:"pid,omitempty"`
		Name        string     `json:"name,omitempty"`
		Executable  string     `json:"executable,omitempty"`
		CommandLine string     `json:"command_line,omitempty"`
		User        *User      `json:"user,omitempty"`
		LoginUser   *User      `json:"login_user,omitempty"`
		Start       *time.Time `json:"start,omitempty"`
		End         *time.Time `json:"end,omitempty"`
		ExitCode    *int       `json:"exit_code,omitempty"`
		ParentID    string     `json:"parent_entity_id,omitempty"`
		Context     bool       `json:"context,omitempty"`
		Events      []jevent   `json:"events"`
		Children    []*jnode   `json:"children,omitempty"`
	}
	var conv func(n *Node) *jnode
	conv = func(n *Node) *jnode {
		j := &jnode{EntityID: n.Proc.EntityID, PID: n.Proc.PID, Name: n.Proc.Name, Executable: n.Proc.Executable,
			CommandLine: n.Proc.CommandLine, Start: n.Proc.Start, End: n.Proc.End, ExitCode: n.Proc.ExitCode, Context: n.Context,
			Events: []jevent{}}
		if n.Proc.User.ID != "" {
			u := n.Proc.User
			j.User = &u
		}
		if n.login.ID != "" {
			l := n.login
			j.LoginUser = &l
		}
		if n.Proc.Parent != nil {
			j.ParentID = n.Proc.Parent.EntityID
		}
		for _, d := range n.Events {
			j.Events = append(j.Events, jevent{Timestamp: d.Timestamp, Action: d.Event.Action, Summary: summary(d), Document: d.Raw})
		}
		for _, c := range n.Children {
			j.Children = append(j.Children, conv(c))
		}
		return j
	}
	out := struct {
		Filter struct {
			EntityID string     `json:"entity_id,omitempty"`
			PID      int        `json:"pid,omitempty"`
			File     string     `json:"file,omitempty"`
			User     string     `json:"user,omitempty"`
			Since    *time.Time `json:"since,omitempty"`
			Until    *time.Time `json:"until,omitempty"`
		} `json:"filter"`
		Documents   int    `json:"documents"`
		First       string `json:"first,omitempty"`
		Last        string `json:"last,omitempty"`
		Truncated   bool   `json:"truncated"`
		ParseErrors int    `json:"parse_errors"`
		BadLines    []int  `json:"bad_lines,omitempty"`
		// Records the store could not return, and each loss named.
		DamagedRecords uint64   `json:"damaged_records"`
		DamageUnknown  int      `json:"damage_unknown_size,omitempty"`
		Damage         []string `json:"damage,omitempty"`
		Processes      []*jnode `json:"processes"`
	}{Documents: t.Docs, Truncated: t.Truncated, ParseErrors: t.ParseErrors, DamagedRecords: t.DamagedRecords,
		DamageUnknown: t.DamageUnknown, Processes: []*jnode{}}
	for _, l := range t.BadLines {
		out.BadLines = append(out.BadLines, l.Line)
	}
	for _, d := range t.Damage {
		out.Damage = append(out.Damage, d.String())
	}
	out.Filter.EntityID, out.Filter.PID, out.Filter.File, out.Filter.User = t.Filter.EntityID, t.Filter.PID, t.Filter.File, t.Filter.User
	if !t.Filter.Since.IsZero() {
		out.Filter.Since = &t.Filter.Since
	}
	if !t.Filter.Until.IsZero() {
		out.Filter.Until = &t.Filter.Until
	}
	if !t.First.IsZero() {
		out.First, out.Last = t.First.UTC().Format(time.RFC3339Nano), t.Last.UTC().Format(time.RFC3339Nano)
	}
	for _, n := range t.Roots {
		out.Processes = append(out.Processes, conv(n))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
