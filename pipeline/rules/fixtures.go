package rules

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/readfile"
)

// TestCase is one rule test: events (ECS documents as JSON lines) and
// the alerts they must make, no more and no fewer.
type TestCase struct {
	Name string
	Pos  Pos
	// NearMiss names the rules this case is a near miss of: it looks like
	// what they catch and must not fire them.
	NearMiss []string
	// Lists replace list items for this case (an allowlist under test).
	Lists  map[string][]string
	Events [][]byte
	Expect map[string]int // rule name → alerts
}

// testFile is the YAML of a test file.
type testFile []struct {
	Test     string              `yaml:"test"`
	NearMiss []string            `yaml:"near_miss"`
	Time     string              `yaml:"time"`
	Lists    map[string][]string `yaml:"lists"`
	Events   string              `yaml:"events"`
	Input    string              `yaml:"input"`
	Expect   []struct {
		Rule  string `yaml:"rule"`
		Count int    `yaml:"count"`
	} `yaml:"expect"`
}

// DefaultTestTime is when a test's events happen unless it says: a
// Tuesday, 10:00 in Tokyo (inside the default business hours).
var DefaultTestTime = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))

// LoadTests reads every *.yaml test file under dir.
func LoadTests(dir string) ([]*TestCase, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("rules: %s: no *.yaml test files", dir)
	}
	sort.Strings(files)
	var out []*TestCase
	var errs Errors
	for _, f := range files {
		cases, err := loadTestFile(f)
		if err != nil {
			if es, ok := err.(Errors); ok {
				errs = append(errs, es...)
				continue
			}
			return nil, err
		}
		out = append(out, cases...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func loadTestFile(path string) ([]*TestCase, error) {
	data, err := readfile.Regular(path, MaxFileBytes, "a rule test file")
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if line, col := readfile.BadUTF8(data); line > 0 {
		return nil, Errors{&Error{Pos: Pos{File: path, Line: line, Col: col}, Msg: "yaml: not UTF-8"}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{yamlError(path, err)}
	}
	var tf testFile
	if err := doc.Decode(&tf); err != nil {
		return nil, Errors{yamlError(path, err)}
	}
	var items []*yaml.Node
	if len(doc.Content) > 0 {
		items = doc.Content[0].Content
	}
	var out []*TestCase
	var errs Errors
	for i, t := range tf {
		pos := Pos{File: path, Line: 1, Col: 1}
		if i < len(items) {
			pos = Pos{File: path, Line: items[i].Line, Col: items[i].Column}
		}
		fail := func(format string, args ...any) {
			errs = append(errs, &Error{Pos: pos, Msg: fmt.Sprintf("test %q: ", t.Test) + fmt.Sprintf(format, args...)})
		}
		c := &TestCase{Name: t.Test, Pos: pos, NearMiss: t.NearMiss, Lists: t.Lists, Expect: map[string]int{}}
		base := DefaultTestTime
		if t.Time != "" {
			if base, err = time.Parse(time.RFC3339, t.Time); err != nil {
				fail("time: %v", err)
				continue
			}
		}
		text := t.Events
		if t.Input != "" {
			b, err := readfile.Regular(filepath.Join(filepath.Dir(path), t.Input), MaxInputBytes, "a test input")
			if err != nil {
				fail("input: %v", err)
				continue
			}
			text = string(b)
		}
		c.Events, err = fixtureEvents(c.Name, text, base)
		if err != nil {
			fail("%v", err)
			continue
		}
		for _, e := range t.Expect {
			n := e.Count
			if n == 0 {
				n = 1
			}
			c.Expect[e.Rule] += n
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// fixtureEvents turns JSON lines into full enough documents: each gets
// @timestamp (one second after the previous, or "@offset" later),
// event.id, event.kind, event.category from its action, event.outcome
// success and a host, unless it has them. "@repeat": N repeats a line N
// times with {i} replaced by 0..N-1.
func fixtureEvents(name, text string, base time.Time) ([][]byte, error) {
	var out [][]byte
	t := base
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n := 1
		var probe map[string]any
		if err := json.Unmarshal([]byte(l), &probe); err != nil {
			return nil, fmt.Errorf("event line %d: %v", line, err)
		}
		if r, ok := probe["@repeat"].(float64); ok {
			n = int(r)
		}
		for i := 0; i < n; i++ {
			var m map[string]any
			_ = json.Unmarshal([]byte(strings.ReplaceAll(l, "{i}", strconv.Itoa(i))), &m)
			delete(m, "@repeat")
			step := time.Second
			if off, ok := m["@offset"].(string); ok {
				d, err := time.ParseDuration(off)
				if err != nil {
					return nil, fmt.Errorf("event line %d: @offset: %v", line, err)
				}
				step = d
				delete(m, "@offset")
			}
			if len(out) > 0 {
				t = t.Add(step)
			}
			if _, ok := m["@timestamp"]; !ok {
				m["@timestamp"] = t.UTC().Format(time.RFC3339Nano)
			}
			ev, _ := m["event"].(map[string]any)
			if ev == nil {
				ev = map[string]any{}
				m["event"] = ev
			}
			if _, ok := ev["id"]; !ok {
				ev["id"] = fmt.Sprintf("%s-%d", slug(name), len(out))
			}
			if _, ok := ev["kind"]; !ok {
				ev["kind"] = "event"
			}
			if _, ok := ev["category"]; !ok {
				if a, _ := ev["action"].(string); slotCategory[slotOfAction(a)] != "" {
					ev["category"] = []any{slotCategory[slotOfAction(a)]}
				}
			}
			if _, ok := ev["outcome"]; !ok {
				ev["outcome"] = "success"
			}
			if _, ok := m["host"]; !ok {
				m["host"] = map[string]any{"name": "test-host", "id": "test-host-id"}
			}
			b, _ := json.Marshal(m)
			out = append(out, b)
		}
	}
	return out, sc.Err()
}

// TestResult is the outcome of one case: Failure is empty when it passed.
type TestResult struct {
	Case    *TestCase
	Alerts  []*event.Alert
	Failure string
}

// RunTests runs every case against the rule files of dir, each with a
// fresh engine (and its own lists when it sets some).
func RunTests(dir string, cases []*TestCase, opts Options) ([]TestResult, *Set, error) {
	set, err := Load(dir, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []TestResult
	for _, c := range cases {
		s := set
		if len(c.Lists) > 0 {
			o := opts
			o.Lists = map[string][]string{}
			for k, v := range opts.Lists {
				o.Lists[k] = v
			}
			for k, v := range c.Lists {
				o.Lists[k] = v
			}
			if s, err = Load(dir, o); err != nil {
				return nil, nil, err
			}
		}
		out = append(out, runCase(s, c))
	}
	return out, set, nil
}

func runCase(set *Set, c *TestCase) TestResult {
	e := NewEngine(set, EngineOptions{})
	res := TestResult{Case: c}
	got := map[string]int{}
	for i, doc := range c.Events {
		alerts, err := e.EvalDoc(doc)
		if err != nil {
			res.Failure = fmt.Sprintf("event %d: %v", i, err)
			return res
		}
		for _, a := range alerts {
			res.Alerts = append(res.Alerts, a.Alert)
			got[a.Alert.RuleName]++
		}
	}
	if n := e.Errors(); n > 0 {
		res.Failure = fmt.Sprintf("%d condition evaluation errors", n)
	}
	var diffs []string
	for r, n := range c.Expect {
		if got[r] != n {
			diffs = append(diffs, fmt.Sprintf("%q: want %d alerts, got %d", r, n, got[r]))
		}
	}
	for r, n := range got {
		if _, ok := c.Expect[r]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: fired %d times, not expected", r, n))
		}
	}
	for _, r := range c.NearMiss {
		if set.rule(r) == nil {
			diffs = append(diffs, fmt.Sprintf("near_miss: no rule %q", r))
		}
	}
	for r := range c.Expect {
		if set.rule(r) == nil {
			diffs = append(diffs, fmt.Sprintf("expect: no rule %q", r))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		res.Failure = strings.Join(diffs, "; ")
	}
	return res
}

func (s *Set) rule(name string) *Rule {
	for _, r := range s.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Coverage lists the enabled rules no case fires, and those no case is
// a near miss of: every rule needs both.
func Coverage(set *Set, cases []*TestCase) (noFire, noNearMiss []string) {
	fires, misses := map[string]bool{}, map[string]bool{}
	for _, c := range cases {
		for r, n := range c.Expect {
			if n > 0 {
				fires[r] = true
			}
		}
		for _, r := range c.NearMiss {
			misses[r] = true
		}
	}
	for _, r := range set.Rules {
		if !r.Enabled {
			continue
		}
		if !fires[r.Name] {
			noFire = append(noFire, r.Name)
		}
		if !misses[r.Name] {
			noNearMiss = append(noNearMiss, r.Name)
		}
	}
	return noFire, noNearMiss
}
