package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bansho-sec/bansho/internal/readfile"
)

// EngineVersion is the rule language version this engine implements.
// A file that declares a higher required_engine_version is refused.
const EngineVersion = 1

// Pos is a place in a rule file: 1-based line and column.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem in a rule file, at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors are every problem found in a rule set, in file order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// source is one rule file, kept for mapping condition offsets to lines.
type source struct {
	path  string
	lines []string
}

func (s *source) pos(n *yaml.Node) Pos { return Pos{File: s.path, Line: n.Line, Col: n.Column} }

// rawList, rawMacro and rawRule are the items as written, before
// compilation; later items with append: true extend earlier ones.
type rawList struct {
	name   string
	items  []string
	pos    Pos
	append bool
}

type rawMacro struct {
	name   string
	cond   text
	pos    Pos
	append bool
}

// text is a condition or output with where it came from.
type text struct {
	s    string
	node *yaml.Node
	src  *source
}

type rawException struct {
	name   string
	fields []string
	comps  []string
	values [][]string
	node   *yaml.Node
	src    *source
	// positions for errors
	fieldNodes []*yaml.Node
	compNodes  []*yaml.Node
	valueNodes []*yaml.Node
}

type rawRule struct {
	name, id, desc, priority, version string
	cond, output                      text
	tags                              []string
	enabled                           *bool
	appendMode                        bool
	exceptions                        []rawException
	seq                               *rawSequence
	thr                               *rawThreshold
	hours                             string
	hoursNode                         *yaml.Node
	pos                               Pos
	src                               *source
	ruleset                           string
	keys                              map[string]*yaml.Node
}

type rawSequence struct {
	by     string
	byNode *yaml.Node
	within time.Duration
	steps  []text
	node   *yaml.Node
}

type rawThreshold struct {
	by, distinct         string
	byNode, distinctNode *yaml.Node
	count                int
	within               time.Duration
	node                 *yaml.Node
}

// parsed is every item of a set of files, in order.
type parsed struct {
	lists  []*rawList
	macros []*rawMacro
	rules  []*rawRule
	errs   Errors
	files  []string
}

// RuleFiles lists the rule files of dir: *.yaml and *.yml, sorted, not
// recursing (fixtures live in subdirectories).
func RuleFiles(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return []string{dir}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("rules: %s: no *.yaml rule files", dir)
	}
	return out, nil
}

func (p *parsed) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// parseFile reads one rule file into p.
func (p *parsed) parseFile(path string, data []byte) {
	src := &source{path: path, lines: strings.Split(string(data), "\n")}
	p.files = append(p.files, path)
	if line, col := readfile.BadUTF8(data); line > 0 {
		p.errs = append(p.errs, &Error{Pos: Pos{File: path, Line: line, Col: col}, Msg: "yaml: not UTF-8"})
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.errs = append(p.errs, yamlError(path, err))
		return
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		p.errorf(src.pos(root), "a rule file is a list of items (- rule:, - macro:, - list:)")
		return
	}
	ruleset := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".yaml"), ".yml")
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			p.errorf(src.pos(item), "an item is a mapping with rule, macro, list or required_engine_version")
			continue
		}
		keys := mapping(item)
		switch {
		case keys["required_engine_version"] != nil:
			n := keys["required_engine_version"]
			v, err := strconv.Atoi(strings.TrimSpace(n.Value))
			if err != nil {
				p.errorf(src.pos(n), "required_engine_version: not a number: %q", n.Value)
			} else if v > EngineVersion {
				p.errorf(src.pos(n), "required_engine_version %d: this engine implements version %d", v, EngineVersion)
			}
		case keys["list"] != nil:
			p.parseList(src, item, keys)
		case keys["macro"] != nil:
			p.parseMacro(src, item, keys)
		case keys["rule"] != nil:
			p.parseRule(src, item, keys, ruleset)
		default:
			p.errorf(src.pos(item), "unknown item: expected a rule, macro, list or required_engine_version key")
		}
	}
}

// yamlError turns a yaml.v3 error ("yaml: line 4: ...") into one with a
// position.
func yamlError(path string, err error) *Error {
	msg := err.Error()
	line := 0
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if i := strings.Index(msg, "line "); i >= 0 {
		rest := msg[i+5:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		line, _ = strconv.Atoi(rest[:j])
		msg = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(rest[j:], ":")), "yaml: ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &Error{Pos: Pos{File: path, Line: max(line, 1), Col: 1}, Msg: "yaml: " + msg}
}

// mapping returns the values of a mapping node by key.
func mapping(n *yaml.Node) map[string]*yaml.Node {
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1]
	}
	return m
}

// checkKeys reports keys that are not allowed, with a suggestion.
func (p *parsed) checkKeys(src *source, n *yaml.Node, what string, allowed ...string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			if k.Value == a {
				ok = true
				break
			}
		}
		if !ok {
			msg := fmt.Sprintf("%s: unknown key %q", what, k.Value)
			if s := closest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.errorf(src.pos(k), "%s", msg)
		}
	}
}

func (p *parsed) scalar(src *source, n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(src.pos(n), "%s: expected a string", key)
		return "", false
	}
	return n.Value, true
}

func (p *parsed) boolean(src *source, n *yaml.Node, key string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		p.errorf(src.pos(n), "%s: expected true or false, got %q", key, n.Value)
		return false, false
	}
	return b, true
}

func (p *parsed) strings(src *source, n *yaml.Node, key string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(src.pos(n), "%s: expected a list", key)
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			p.errorf(src.pos(c), "%s: items must be strings", key)
			ok = false
			continue
		}
		out = append(out, c.Value)
	}
	return out, ok
}

func (p *parsed) duration(src *source, n *yaml.Node, key string) (time.Duration, bool) {
	d, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 {
		p.errorf(src.pos(n), "%s: expected a positive duration like 30s, 10m or 1h, got %q", key, n.Value)
		return 0, false
	}
	return d, true
}

func (p *parsed) parseList(src *source, item *yaml.Node, keys map[string]*yaml.Node) {
	p.checkKeys(src, item, "list", "list", "items", "append")
	l := &rawList{pos: src.pos(keys["list"])}
	l.name, _ = p.scalar(src, keys["list"], "list")
	if !validName(l.name) {
		p.errorf(l.pos, "list %q: a name is letters, digits and _ (snake_case)", l.name)
	} else if topNames[l.name] {
		p.errorf(l.pos, "list %q: the name of a field namespace cannot be a list name", l.name)
	}
	if n := keys["items"]; n != nil {
		l.items, _ = p.strings(src, n, "items")
	} else {
		p.errorf(l.pos, "list %q: missing items", l.name)
	}
	if n := keys["append"]; n != nil {
		l.append, _ = p.boolean(src, n, "append")
	}
	p.lists = append(p.lists, l)
}

func (p *parsed) parseMacro(src *source, item *yaml.Node, keys map[string]*yaml.Node) {
	p.checkKeys(src, item, "macro", "macro", "condition", "append")
	m := &rawMacro{pos: src.pos(keys["macro"])}
	m.name, _ = p.scalar(src, keys["macro"], "macro")
	if !validName(m.name) {
		p.errorf(m.pos, "macro %q: a name is letters, digits and _ (snake_case)", m.name)
	} else if topNames[m.name] {
		p.errorf(m.pos, "macro %q: the name of a field namespace cannot be a macro name", m.name)
	}
	if n := keys["condition"]; n != nil {
		if s, ok := p.scalar(src, n, "condition"); ok {
			m.cond = text{s: s, node: n, src: src}
		}
	} else {
		p.errorf(m.pos, "macro %q: missing condition", m.name)
	}
	if n := keys["append"]; n != nil {
		m.append, _ = p.boolean(src, n, "append")
	}
	p.macros = append(p.macros, m)
}

var ruleKeys = []string{"rule", "id", "desc", "condition", "output", "priority", "tags", "enabled",
	"exceptions", "append", "sequence", "threshold", "business_hours", "version"}

func (p *parsed) parseRule(src *source, item *yaml.Node, keys map[string]*yaml.Node, ruleset string) {
	p.checkKeys(src, item, "rule", ruleKeys...)
	r := &rawRule{pos: src.pos(keys["rule"]), src: src, ruleset: ruleset, keys: keys}
	r.name, _ = p.scalar(src, keys["rule"], "rule")
	if strings.TrimSpace(r.name) == "" {
		p.errorf(r.pos, "rule: the name is empty")
	}
	str := func(k string, dst *string) {
		if n := keys[k]; n != nil {
			*dst, _ = p.scalar(src, n, k)
		}
	}
	str("id", &r.id)
	str("desc", &r.desc)
	str("priority", &r.priority)
	str("version", &r.version)
	if n := keys["condition"]; n != nil {
		if s, ok := p.scalar(src, n, "condition"); ok {
			r.cond = text{s: s, node: n, src: src}
		}
	}
	if n := keys["output"]; n != nil {
		if s, ok := p.scalar(src, n, "output"); ok {
			r.output = text{s: s, node: n, src: src}
		}
	}
	if n := keys["tags"]; n != nil {
		r.tags, _ = p.strings(src, n, "tags")
	}
	if n := keys["enabled"]; n != nil {
		if b, ok := p.boolean(src, n, "enabled"); ok {
			r.enabled = &b
		}
	}
	if n := keys["append"]; n != nil {
		r.appendMode, _ = p.boolean(src, n, "append")
	}
	if n := keys["exceptions"]; n != nil {
		r.exceptions = p.parseExceptions(src, n)
	}
	if n := keys["sequence"]; n != nil {
		r.seq = p.parseSequence(src, n)
	}
	if n := keys["threshold"]; n != nil {
		r.thr = p.parseThreshold(src, n)
	}
	if n := keys["business_hours"]; n != nil {
		r.hours, _ = p.scalar(src, n, "business_hours")
		r.hoursNode = n
		if r.hours != "outside" && r.hours != "inside" {
			p.errorf(src.pos(n), "business_hours: expected outside or inside, got %q", r.hours)
		}
	}
	p.rules = append(p.rules, r)
}

func (p *parsed) parseExceptions(src *source, n *yaml.Node) []rawException {
	if n.Kind != yaml.SequenceNode {
		p.errorf(src.pos(n), "exceptions: expected a list of {name, fields, comps, values}")
		return nil
	}
	var out []rawException
	for _, en := range n.Content {
		if en.Kind != yaml.MappingNode {
			p.errorf(src.pos(en), "exceptions: an exception is a mapping with name, fields, comps, values")
			continue
		}
		p.checkKeys(src, en, "exception", "name", "fields", "comps", "values")
		k := mapping(en)
		x := rawException{node: en, src: src}
		if v := k["name"]; v != nil {
			x.name = v.Value
		} else {
			p.errorf(src.pos(en), "exception: missing name")
		}
		single := false
		if v := k["fields"]; v == nil {
			p.errorf(src.pos(en), "exception %q: missing fields", x.name)
			continue
		} else if v.Kind == yaml.ScalarNode {
			single = true
			x.fields, x.fieldNodes = []string{v.Value}, []*yaml.Node{v}
		} else if v.Kind == yaml.SequenceNode {
			for _, c := range v.Content {
				x.fields = append(x.fields, c.Value)
				x.fieldNodes = append(x.fieldNodes, c)
			}
		}
		switch v := k["comps"]; {
		case v == nil:
			for range x.fields {
				x.comps = append(x.comps, "=")
				x.compNodes = append(x.compNodes, en)
			}
			if single {
				x.comps[0] = "in"
			}
		case v.Kind == yaml.ScalarNode:
			x.comps, x.compNodes = []string{v.Value}, []*yaml.Node{v}
		default:
			for _, c := range v.Content {
				x.comps = append(x.comps, c.Value)
				x.compNodes = append(x.compNodes, c)
			}
		}
		if len(x.comps) != len(x.fields) {
			p.errorf(src.pos(en), "exception %q: %d fields but %d comps", x.name, len(x.fields), len(x.comps))
			continue
		}
		if v := k["values"]; v != nil {
			if v.Kind != yaml.SequenceNode {
				p.errorf(src.pos(v), "exception %q: values: expected a list", x.name)
				continue
			}
			for _, t := range v.Content {
				var tuple []string
				switch {
				case single:
					// fields: one field; values: a flat list of values.
					tuple = []string{t.Value}
					if t.Kind == yaml.SequenceNode {
						tuple = nil
						for _, c := range t.Content {
							tuple = append(tuple, c.Value)
						}
						tuple = []string{strings.Join(tuple, "\x00")}
					}
				case t.Kind == yaml.SequenceNode:
					for _, c := range t.Content {
						if c.Kind == yaml.SequenceNode {
							var sub []string
							for _, cc := range c.Content {
								sub = append(sub, cc.Value)
							}
							tuple = append(tuple, strings.Join(sub, "\x00"))
						} else {
							tuple = append(tuple, c.Value)
						}
					}
				default:
					p.errorf(src.pos(t), "exception %q: each value is a list of %d items (one per field)", x.name, len(x.fields))
					continue
				}
				if len(tuple) != len(x.fields) {
					p.errorf(src.pos(t), "exception %q: %d values for %d fields", x.name, len(tuple), len(x.fields))
					continue
				}
				x.values = append(x.values, tuple)
				x.valueNodes = append(x.valueNodes, t)
			}
		}
		out = append(out, x)
	}
	return out
}

// Keys a sequence or a threshold is kept by.
var keyAliases = map[string]string{
	"process":    "process.entity_id",
	"user":       "user.id",
	"login_user": "bansho.login_user.id",
	"host":       "host.id",
}

func (p *parsed) parseSequence(src *source, n *yaml.Node) *rawSequence {
	if n.Kind != yaml.MappingNode {
		p.errorf(src.pos(n), "sequence: expected a mapping with by, within, steps")
		return nil
	}
	p.checkKeys(src, n, "sequence", "by", "within", "steps")
	k := mapping(n)
	s := &rawSequence{node: n, by: "lineage"}
	if v := k["by"]; v != nil {
		s.by, s.byNode = v.Value, v
	}
	if v := k["within"]; v != nil {
		s.within, _ = p.duration(src, v, "sequence.within")
	} else {
		p.errorf(src.pos(n), "sequence: missing within")
	}
	v := k["steps"]
	if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) < 2 {
		p.errorf(src.pos(n), "sequence: steps: expected a list of at least two {condition: ...}")
		return s
	}
	for _, st := range v.Content {
		if st.Kind != yaml.MappingNode {
			p.errorf(src.pos(st), "sequence step: expected {condition: ...}")
			continue
		}
		p.checkKeys(src, st, "sequence step", "condition")
		c := mapping(st)["condition"]
		if c == nil {
			p.errorf(src.pos(st), "sequence step: missing condition")
			continue
		}
		s.steps = append(s.steps, text{s: c.Value, node: c, src: src})
	}
	return s
}

func (p *parsed) parseThreshold(src *source, n *yaml.Node) *rawThreshold {
	if n.Kind != yaml.MappingNode {
		p.errorf(src.pos(n), "threshold: expected a mapping with by, count, within")
		return nil
	}
	p.checkKeys(src, n, "threshold", "by", "distinct", "count", "within")
	k := mapping(n)
	t := &rawThreshold{node: n}
	if v := k["by"]; v != nil {
		t.by, t.byNode = v.Value, v
	} else {
		p.errorf(src.pos(n), "threshold: missing by")
	}
	if v := k["distinct"]; v != nil {
		t.distinct, t.distinctNode = v.Value, v
	}
	if v := k["count"]; v != nil {
		c, err := strconv.Atoi(v.Value)
		if err != nil || c < 1 || c > maxThreshold {
			p.errorf(src.pos(v), "threshold.count: expected a number from 1 to %d, got %q", maxThreshold, v.Value)
		}
		t.count = c
	} else {
		p.errorf(src.pos(n), "threshold: missing count")
	}
	if v := k["within"]; v != nil {
		t.within, _ = p.duration(src, v, "threshold.within")
	} else {
		p.errorf(src.pos(n), "threshold: missing within")
	}
	return t
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
