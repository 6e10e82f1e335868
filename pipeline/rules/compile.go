package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/bansho-sec/bansho/internal/readfile"
)

// Options are what a rule set takes from the configuration.
type Options struct {
	// Lists replace the items of the named lists (allowlists kept in the
	// sensor's configuration rather than in rule files).
	Lists map[string][]string
	// Calendar decides business_hours; nil means every hour is inside
	// business hours (business_hours rules never fire).
	Calendar *Calendar
	// MaxKeys bounds the keys each stateful rule keeps (default 4096).
	MaxKeys int
	// Dedupe suppresses an alert that repeats one of the same rule for
	// the same process, file and destination within this window (cp's
	// many writes of one copy); default 1m, negative disables.
	Dedupe time.Duration
}

// Rule is one compiled rule.
type Rule struct {
	Name, ID, Description string
	Priority              string
	Severity              int
	Ruleset               string // the file's base name
	Category              string // the first safeguard.* tag
	Version               string
	Tags                  []string
	Threats               []Threat
	Pos                   Pos
	Enabled               bool
	// Kind is "event", "sequence" or "threshold".
	Kind string

	conds   []cond  // all must hold
	guards  []guard // simple terms of conds, checked first
	exc     []cond  // any holding suppresses
	output  []outPart
	slots   slotMask
	hours   int // 0: any time, hoursOutside, hoursInside
	seq     *seqSpec
	thr     *thrSpec
	outText string
}

const (
	hoursOutside = 1
	hoursInside  = 2
)

// Set is a compiled rule set: what the engine runs.
type Set struct {
	Rules  []*Rule
	Files  []string
	Lists  map[string][]string
	Macros int
	opts   Options
	// defined are the lists the rule files define (Lists also holds
	// those only Options.Lists names).
	defined map[string]bool
	bySlot  [numSlots][]*Rule
	terms   int // distinct condition terms (see cond)
}

// Defines reports whether the rule files define the list name: a list
// that Options.Lists replaces but no rule file defines is used by no
// rule (a misspelt allowlist).
func (s *Set) Defines(name string) bool { return s.defined[name] }

// DefinedLists are the names of the lists the rule files define, sorted.
func (s *Set) DefinedLists() []string {
	out := make([]string, 0, len(s.defined))
	for n := range s.defined {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Enabled counts the enabled rules.
func (s *Set) Enabled() int {
	n := 0
	for _, r := range s.Rules {
		if r.Enabled {
			n++
		}
	}
	return n
}

// MaxFileBytes bounds a rule file or a rule test file: a larger one is
// refused before it is parsed. Fixture event inputs (input:) may be up to
// MaxInputBytes.
const (
	MaxFileBytes  = 1 << 20
	MaxInputBytes = 16 << 20
)

// Load reads and compiles the rule files of dir (or one file). A non-nil
// error is an Errors listing every problem found, each at its file, line
// and column.
func Load(dir string, opts Options) (*Set, error) {
	files, err := RuleFiles(dir)
	if err != nil {
		return nil, err
	}
	p := &parsed{}
	for _, f := range files {
		data, err := readfile.Regular(f, MaxFileBytes, "a rule file")
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		p.parseFile(f, data)
	}
	return p.compile(opts)
}

// LoadFS reads and compiles the *.yaml files at the root of fsys (the
// embedded default pack); positions name them prefix + file name.
func LoadFS(fsys fs.FS, prefix string, opts Options) (*Set, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	files := map[string]string{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		files[prefix+n] = string(b)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("rules: %sno rule files", prefix)
	}
	return Compile(files, opts)
}

// Compile compiles rule files given as (name, content) pairs, in order.
func Compile(files map[string]string, opts Options) (*Set, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	p := &parsed{}
	for _, n := range names {
		p.parseFile(n, []byte(files[n]))
	}
	return p.compile(opts)
}

type compiler struct {
	p      *parsed
	lists  map[string][]string
	macros map[string][]text
	stack  []string // macros being expanded, for cycles
	ids    map[string]int
}

func (p *parsed) compile(opts Options) (*Set, error) {
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 4096
	}
	if opts.Dedupe == 0 {
		opts.Dedupe = time.Minute
	}
	c := &compiler{p: p, lists: map[string][]string{}, macros: map[string][]text{}, ids: map[string]int{}}
	listPos := map[string]Pos{}
	for _, l := range p.lists {
		if old, ok := c.lists[l.name]; ok && l.append {
			c.lists[l.name] = append(append([]string(nil), old...), l.items...)
			continue
		} else if !ok && l.append {
			p.errorf(l.pos, "list %q: append to a list that is not defined before", l.name)
		}
		c.lists[l.name] = l.items
		listPos[l.name] = l.pos
	}
	// Items naming another list are replaced by its items (one level, as
	// lists are defined before they are used).
	for name, items := range c.lists {
		var out []string
		for _, it := range items {
			if sub, ok := c.lists[it]; ok && it != name {
				out = append(out, sub...)
			} else {
				out = append(out, it)
			}
		}
		c.lists[name] = out
	}
	defined := make(map[string]bool, len(c.lists))
	for name := range c.lists {
		defined[name] = true
	}
	for name, items := range opts.Lists {
		c.lists[name] = items
	}
	for _, m := range p.macros {
		if _, ok := c.macros[m.name]; ok && !m.append {
			p.errorf(m.pos, "macro %q: already defined (use append: true to extend it)", m.name)
			continue
		} else if !ok && m.append {
			p.errorf(m.pos, "macro %q: append to a macro that is not defined before", m.name)
		}
		if _, ok := c.lists[m.name]; ok {
			p.errorf(m.pos, "macro %q: a list has the same name (%s)", m.name, listPos[m.name])
		}
		c.macros[m.name] = append(c.macros[m.name], m.cond)
	}
	// Every macro must compile on its own, used or not, so that its errors
	// are reported where it is written.
	for _, m := range p.macros {
		if m.cond.node != nil {
			c.compile(m.cond)
		}
	}

	set := &Set{Files: p.files, Lists: c.lists, Macros: len(c.macros), opts: opts, defined: defined}
	defer func() { set.terms = len(c.ids) }()
	byName := map[string]*Rule{}
	for _, r := range p.rules {
		if old := byName[r.name]; old != nil {
			c.amend(old, r)
			continue
		}
		if r.appendMode {
			p.errorf(r.pos, "rule %q: append to a rule that is not defined before", r.name)
			continue
		}
		if rule := c.rule(r); rule != nil {
			byName[r.name] = rule
			set.Rules = append(set.Rules, rule)
		}
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool {
			a, b := p.errs[i].Pos, p.errs[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, p.errs
	}
	for _, r := range set.Rules {
		if !r.Enabled {
			continue
		}
		for s := slot(0); s < numSlots; s++ {
			if r.slots.has(s) {
				set.bySlot[s] = append(set.bySlot[s], r)
			}
		}
	}
	return set, nil
}

// amend applies a later item for an existing rule: enabled: alone
// switches it, append: true adds conditions (and-ed) and exceptions.
func (c *compiler) amend(r *Rule, raw *rawRule) {
	if raw.enabled != nil {
		r.Enabled = *raw.enabled
	}
	if !raw.appendMode {
		for k := range raw.keys {
			if k != "rule" && k != "enabled" {
				c.p.errorf(raw.pos, "rule %q: already defined at %s (use append: true to add conditions or exceptions, or enabled: to switch it)", raw.name, r.Pos)
				return
			}
		}
		return
	}
	if raw.cond.node != nil {
		if cs, gs, prog := c.conds(raw.cond); prog != nil {
			r.conds = append(r.conds, cs...)
			r.guards = append(r.guards, gs...)
		}
	}
	for i := range raw.exceptions {
		r.exc = append(r.exc, c.exception(&raw.exceptions[i])...)
	}
}

var priorities = map[string]int{
	"emergency": 99, "alert": 99, "critical": 99, "error": 73, "warning": 47,
	"notice": 21, "informational": 21, "info": 21, "debug": 21,
}

func (c *compiler) rule(raw *rawRule) *Rule {
	p := c.p
	r := &Rule{Name: raw.name, ID: raw.id, Description: raw.desc, Ruleset: raw.ruleset, Version: raw.version,
		Tags: raw.tags, Pos: raw.pos, Enabled: true, Kind: "event"}
	if raw.enabled != nil {
		r.Enabled = *raw.enabled
	}
	if r.ID == "" {
		r.ID = slug(r.Name)
	}
	if r.Version == "" {
		r.Version = "1"
	}
	for _, k := range []string{"desc", "output", "priority"} {
		if raw.keys[k] == nil {
			p.errorf(raw.pos, "rule %q: missing %s", raw.name, k)
		}
	}
	pr := strings.ToLower(raw.priority)
	if sev, ok := priorities[pr]; ok {
		r.Priority, r.Severity = pr, sev
	} else if raw.keys["priority"] != nil {
		p.errorf(raw.src.pos(raw.keys["priority"]), "rule %q: priority %q: expected one of emergency, alert, critical, error, warning, notice, informational, debug", raw.name, raw.priority)
	}
	for _, t := range raw.tags {
		if strings.HasPrefix(t, "safeguard.") && r.Category == "" {
			r.Category = strings.TrimPrefix(t, "safeguard.")
		}
	}
	r.Threats = threatsOf(raw.tags)
	if raw.output.node != nil {
		r.output, r.outText = c.output(raw.output)
	}
	switch {
	case raw.seq != nil:
		r.Kind = "sequence"
		if raw.cond.node != nil {
			p.errorf(raw.src.pos(raw.keys["condition"]), "rule %q: a sequence has conditions in its steps, not a condition", raw.name)
		}
		r.seq = c.sequence(raw)
		if r.seq != nil {
			for _, m := range r.seq.slots {
				r.slots |= m
			}
		}
	case raw.cond.node == nil:
		p.errorf(raw.pos, "rule %q: missing condition", raw.name)
	default:
		if cs, gs, prog := c.conds(raw.cond); prog != nil {
			r.conds, r.guards = cs, gs
			r.slots = slotsOf(prog.Node())
		}
	}
	if raw.thr != nil {
		if raw.seq != nil {
			p.errorf(raw.src.pos(raw.thr.node), "rule %q: a rule is a sequence or a threshold, not both", raw.name)
		}
		r.Kind = "threshold"
		r.thr = c.threshold(raw)
	}
	switch raw.hours {
	case "outside":
		r.hours = hoursOutside
	case "inside":
		r.hours = hoursInside
	}
	for i := range raw.exceptions {
		r.exc = append(r.exc, c.exception(&raw.exceptions[i])...)
	}
	return r
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// keyField resolves a sequence or threshold key.
func (c *compiler) keyField(raw *rawRule, key string, n *yaml.Node, lineage bool) *field {
	if lineage && key == "lineage" {
		return nil
	}
	if a, ok := keyAliases[key]; ok {
		key = a
	}
	f, err := lookupField(key)
	if err != nil {
		pos := raw.pos
		if n != nil {
			pos = raw.src.pos(n)
		}
		c.p.errorf(pos, "rule %q: key: %v", raw.name, err)
	}
	return f
}

func (c *compiler) sequence(raw *rawRule) *seqSpec {
	s := raw.seq
	spec := &seqSpec{within: s.within, lineage: s.by == "lineage"}
	spec.key = c.keyField(raw, s.by, s.byNode, true)
	for _, st := range s.steps {
		if cs, gs, prog := c.conds(st); prog != nil {
			spec.steps = append(spec.steps, cs)
			spec.slots = append(spec.slots, slotsOf(prog.Node()))
			spec.guards = append(spec.guards, gs)
		}
	}
	return spec
}

func (c *compiler) threshold(raw *rawRule) *thrSpec {
	t := raw.thr
	spec := &thrSpec{count: t.count, within: t.within}
	spec.key = c.keyField(raw, t.by, t.byNode, false)
	if t.distinct != "" {
		spec.distinct = c.keyField(raw, t.distinct, t.distinctNode, false)
	}
	return spec
}

// Functions conditions may call, besides expr's builtins.
var functions = []expr.Option{
	expr.Function("ip_in", ipIn, new(func(string, []any) bool), new(func(string, []string) bool)),
	expr.Function("under", under, new(func(string, []any) bool), new(func(string, []string) bool), new(func(string, string) bool)),
}

var functionNames = map[string]bool{"ip_in": true, "under": true}

// compile compiles one condition, expanding lists and macros, and
// reports problems at their place in the file.
func (c *compiler) compile(t text) *vm.Program {
	x := &expander{c: c, t: t}
	opts := append([]expr.Option{expr.Env(Env{}), expr.AsBool(), expr.Patch(x)}, functions...)
	prog, err := expr.Compile(t.s, opts...)
	if len(x.errs) > 0 {
		c.p.errs = append(c.p.errs, x.errs...)
		return nil
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			if strings.HasPrefix(msg, "expected bool") {
				msg = "the condition must be true or false: " + msg
			}
			if strings.HasPrefix(msg, "invalid operation: not") {
				msg += " (not binds tighter than in: write `x not in list` or `not (x in list)`)"
			}
			c.p.errs = append(c.p.errs, &Error{Pos: t.pos(fe.From), Msg: "condition: " + msg})
		} else {
			c.p.errs = append(c.p.errs, &Error{Pos: t.pos(0), Msg: "condition: " + err.Error()})
		}
		return nil
	}
	return prog
}

// expander is an expr AST visitor: lists become arrays, macros their
// conditions; unknown names and fields are errors at their place.
type expander struct {
	c    *compiler
	t    text
	errs Errors
}

func (x *expander) errorf(n ast.Node, format string, args ...any) {
	x.errs = append(x.errs, &Error{Pos: x.t.pos(n.Location().From), Msg: fmt.Sprintf(format, args...)})
}

func (x *expander) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		name := n.Value
		if items, ok := x.c.lists[name]; ok {
			arr := &ast.ArrayNode{}
			for _, it := range items {
				s := &ast.StringNode{Value: it}
				s.SetLocation(n.Location())
				arr.Nodes = append(arr.Nodes, s)
			}
			ast.Patch(node, arr)
			return
		}
		if texts, ok := x.c.macros[name]; ok {
			for _, s := range x.c.stack {
				if s == name {
					x.errorf(n, "macro %q uses itself (%s)", name, strings.Join(append(x.c.stack, name), " → "))
					return
				}
			}
			x.c.stack = append(x.c.stack, name)
			defer func() { x.c.stack = x.c.stack[:len(x.c.stack)-1] }()
			var expanded ast.Node
			for _, mt := range texts {
				tree, err := parser.Parse(mt.s)
				if err != nil {
					return // reported where the macro is compiled on its own
				}
				sub := &expander{c: x.c, t: mt}
				ast.Walk(&tree.Node, sub)
				if len(sub.errs) > 0 {
					return
				}
				if expanded == nil {
					expanded = tree.Node
				} else {
					expanded = &ast.BinaryNode{Operator: "or", Left: expanded, Right: tree.Node}
				}
			}
			if expanded != nil {
				ast.Patch(node, expanded)
			}
			return
		}
		if topNames[name] || functionNames[name] {
			return
		}
		cands := append(append([]string(nil), fieldPaths...), x.c.names()...)
		msg := fmt.Sprintf("unknown name %q: not a field, list or macro", name)
		if s := closest(name, cands); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		x.errorf(n, "%s", msg)
	case *ast.MemberNode:
		path, ok := memberPath(n)
		if !ok {
			return
		}
		if _, known := fields[path]; known || prefixes[path] {
			return
		}
		_, err := lookupField(path)
		// Point at the start of the path, not at its last part.
		var root ast.Node = n
		for {
			m, ok := root.(*ast.MemberNode)
			if !ok {
				break
			}
			root = m.Node
		}
		x.errorf(root, "%v", err)
	}
}

func (c *compiler) names() []string {
	var out []string
	for n := range c.lists {
		out = append(out, n)
	}
	for n := range c.macros {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// memberPath is the dotted path of a field access like process.parent.name.
func memberPath(n ast.Node) (string, bool) {
	switch m := n.(type) {
	case *ast.IdentifierNode:
		return m.Value, topNames[m.Value]
	case *ast.MemberNode:
		prop, ok := m.Property.(*ast.StringNode)
		if !ok {
			return "", false
		}
		base, ok := memberPath(m.Node)
		if !ok {
			return "", false
		}
		return base + "." + prop.Value, true
	}
	return "", false
}

// prefixes are the intermediate paths (process, process.parent, ...),
// filled with the field table.
var prefixes = map[string]bool{}

func initPrefixes() {
	for _, p := range fieldPaths {
		for i := range p {
			if p[i] == '.' {
				prefixes[p[:i]] = true
			}
		}
	}
}

// pos maps a rune offset in the text to its place in the file.
func (t text) pos(off int) Pos {
	n := t.node
	if n == nil || t.src == nil {
		return Pos{Line: 1, Col: 1}
	}
	lines := t.src.lines
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// Content starts on the line after the indicator.
		ind := -1
		o := 0
		last := Pos{File: t.src.path, Line: n.Line, Col: n.Column}
		for i := n.Line; i < len(lines); i++ {
			line := lines[i]
			trimmed := strings.TrimLeft(line, " ")
			if trimmed == "" {
				o++
				continue
			}
			in := len(line) - len(trimmed)
			if ind < 0 {
				ind = in
			}
			if in < ind {
				break
			}
			content := line[ind:]
			l := utf8.RuneCountInString(content)
			last = Pos{File: t.src.path, Line: i + 1, Col: ind + 1 + max(0, min(off-o, l))}
			if off <= o+l {
				return last
			}
			o += l + 1
		}
		return last
	default:
		q := 0
		if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
			q = 1
		}
		if n.Line < 1 || n.Line > len(lines) {
			return Pos{File: t.src.path, Line: n.Line, Col: n.Column}
		}
		col0 := n.Column + q
		first := lines[n.Line-1]
		if col0-1 <= len(first) {
			first = first[col0-1:]
		}
		l := utf8.RuneCountInString(first)
		if off <= l || !strings.Contains(t.s, " ") && !strings.Contains(t.s, "\n") {
			return Pos{File: t.src.path, Line: n.Line, Col: col0 + off}
		}
		o := l + 1
		for i := n.Line; i < len(lines); i++ {
			line := lines[i]
			trimmed := strings.TrimLeft(line, " \t")
			in := len(line) - len(trimmed)
			l := utf8.RuneCountInString(trimmed)
			if off <= o+l {
				return Pos{File: t.src.path, Line: i + 1, Col: in + 1 + off - o}
			}
			o += l + 1
		}
		return Pos{File: t.src.path, Line: n.Line, Col: col0}
	}
}

// Exception comparisons, as Falco names them.
var comps = map[string]bool{"=": true, "!=": true, "in": true, "startswith": true, "endswith": true,
	"contains": true, "pmatch": true}

// exception compiles one exception into a condition that holds when any
// of its value tuples matches.
func (c *compiler) exception(x *rawException) []cond {
	p := c.p
	ok := true
	var fs []*field
	for i, name := range x.fields {
		f, err := lookupField(name)
		if err != nil {
			p.errorf(x.src.pos(x.fieldNodes[i]), "exception %q: %v", x.name, err)
			ok = false
		}
		fs = append(fs, f)
		if !comps[x.comps[i]] {
			p.errorf(x.src.pos(x.compNodes[i]), "exception %q: unknown comparison %q (use =, !=, in, startswith, endswith, contains, pmatch)", x.name, x.comps[i])
			ok = false
		}
	}
	if !ok || len(x.values) == 0 {
		return nil
	}
	var alts []string
	for vi, tuple := range x.values {
		var terms []string
		for i, v := range tuple {
			term, err := c.term(fs[i], x.comps[i], v)
			if err != nil {
				p.errorf(x.src.pos(x.valueNodes[vi]), "exception %q: %s: %v", x.name, x.fields[i], err)
				ok = false
				continue
			}
			terms = append(terms, term)
		}
		alts = append(alts, "("+strings.Join(terms, " and ")+")")
	}
	if !ok {
		return nil
	}
	src := strings.Join(alts, " or ")
	prog, err := expr.Compile(src, append([]expr.Option{expr.Env(Env{}), expr.AsBool()}, functions...)...)
	if err != nil {
		p.errorf(x.src.pos(x.node), "exception %q: %v", x.name, err)
		return nil
	}
	return []cond{{p: prog, id: c.intern(src)}}
}

// cond is one compiled term of a condition. Terms with the same text
// share an id, and the engine evaluates each id at most once per event:
// the default pack's rules share macros (protected_read, routine_work),
// which then cost once, not once per rule.
type cond struct {
	p  *vm.Program
	id int
}

func (c *compiler) intern(src string) int {
	if id, ok := c.ids[src]; ok {
		return id
	}
	id := len(c.ids)
	c.ids[src] = id
	return id
}

// conds compiles a condition whole (for its errors, slots and guards)
// and then as its top-level conjuncts, each interned by its text.
// Conjuncts that are guards are returned as guards and not run by expr.
func (c *compiler) conds(t text) ([]cond, []guard, *vm.Program) {
	prog := c.compile(t)
	if prog == nil {
		return nil, nil, nil
	}
	whole := []cond{{p: prog, id: c.intern("\x00" + t.s)}}
	tree, err := parser.Parse(t.s)
	if err != nil {
		return whole, nil, prog
	}
	x := &expander{c: c, t: t}
	ast.Walk(&tree.Node, x)
	if len(x.errs) > 0 {
		return whole, nil, prog
	}
	var parts []ast.Node
	var split func(n ast.Node)
	split = func(n ast.Node) {
		if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "and" || b.Operator == "&&") {
			split(b.Left)
			split(b.Right)
			return
		}
		parts = append(parts, n)
	}
	split(tree.Node)
	if len(parts) < 2 {
		if g, ok := guardOf(tree.Node); ok {
			return nil, []guard{g}, prog
		}
		return whole, nil, prog
	}
	var out []cond
	var gs []guard
	for _, n := range parts {
		if g, ok := guardOf(n); ok {
			gs = append(gs, g) // checked natively, not by the program
			continue
		}
		src := n.String()
		p, err := expr.Compile(src, append([]expr.Option{expr.Env(Env{}), expr.AsBool()}, functions...)...)
		if err != nil {
			return whole, nil, prog // the printed form did not round-trip: run it whole
		}
		out = append(out, cond{p: p, id: c.intern(src)})
	}
	return out, gs, prog
}

// term is one comparison of an exception, in the condition language.
func (c *compiler) term(f *field, comp, v string) (string, error) {
	values := strings.Split(v, "\x00")
	if items, ok := c.lists[v]; ok && (comp == "in" || comp == "pmatch") {
		values = items
	}
	lit := func(s string) (string, error) {
		switch f.kind {
		case kindString, kindSlice, kindTime:
			return strconv.Quote(s), nil
		case kindInt:
			if _, err := strconv.Atoi(s); err != nil {
				return "", fmt.Errorf("%q is not a number", s)
			}
			return s, nil
		case kindBool:
			if s != "true" && s != "false" {
				return "", fmt.Errorf("%q is not true or false", s)
			}
			return s, nil
		}
		return strconv.Quote(s), nil
	}
	arr := func() (string, error) {
		var q []string
		for _, s := range values {
			l, err := lit(s)
			if err != nil {
				return "", err
			}
			q = append(q, l)
		}
		return "[" + strings.Join(q, ",") + "]", nil
	}
	path := f.path
	if f.kind == kindSlice {
		// A list field (process.args, event.type): the value is one of its items.
		switch comp {
		case "=", "contains", "in":
			a, err := arr()
			return "any(" + path + ", # in " + a + ")", err
		case "!=":
			a, err := arr()
			return "none(" + path + ", # in " + a + ")", err
		}
		return "", fmt.Errorf("%s cannot be used on a list field", comp)
	}
	switch comp {
	case "=", "!=":
		l, err := lit(values[0])
		op := "=="
		if comp == "!=" {
			op = "!="
		}
		return path + " " + op + " " + l, err
	case "in":
		a, err := arr()
		return path + " in " + a, err
	case "pmatch":
		a, err := arr()
		return "under(" + path + ", " + a + ")", err
	}
	if f.kind != kindString {
		return "", fmt.Errorf("%s needs a text field", comp)
	}
	op := map[string]string{"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}[comp]
	return path + " " + op + " " + strconv.Quote(values[0]), nil
}

// outPart is a piece of a rule's output: literal text or a field.
type outPart struct {
	lit string
	f   *field
}

var outField = regexp.MustCompile(`%[A-Za-z_@][A-Za-z0-9_.]*`)

func (c *compiler) output(t text) ([]outPart, string) {
	var parts []outPart
	s := t.s
	last := 0
	for _, m := range outField.FindAllStringIndex(s, -1) {
		name := strings.TrimRight(s[m[0]+1:m[1]], ".")
		end := m[0] + 1 + len(name)
		f, err := lookupField(name)
		if err != nil {
			c.p.errs = append(c.p.errs, &Error{Pos: t.pos(utf8.RuneCountInString(s[:m[0]])), Msg: "output: " + err.Error()})
			continue
		}
		parts = append(parts, outPart{lit: s[last:m[0]]}, outPart{f: f})
		last = end
	}
	parts = append(parts, outPart{lit: s[last:]})
	return parts, s
}

// render writes the output of r for env.
func (r *Rule) render(env *Env) string {
	var b strings.Builder
	for _, p := range r.output {
		if p.f == nil {
			b.WriteString(p.lit)
			continue
		}
		v := p.f.str(env)
		if v == "" {
			v = "<NA>"
		}
		b.WriteString(v)
	}
	return strings.TrimSpace(b.String())
}

// seqSpec is a sequence: steps matched in order by events with the same
// key (or, by lineage, by the same process or its descendants) within
// the window from the first step.
type seqSpec struct {
	steps   [][]cond
	slots   []slotMask
	guards  [][]guard
	within  time.Duration
	lineage bool
	key     *field
}

// thrSpec is a threshold: count matching events (or distinct values of
// a field) per key within a sliding window.
type thrSpec struct {
	key, distinct *field
	count         int
	within        time.Duration
}

// maxThreshold bounds threshold.count, and with it the entries a key holds.
const maxThreshold = 10000
