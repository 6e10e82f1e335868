package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/parser"

	"github.com/bansho-sec/bansho/internal/event"
)

// Every problem of a rule file is reported, each at its file, line and
// column, also inside folded block scalars and exceptions.
func TestErrorsNameFileLineColumn(t *testing.T) {
	src := `- required_engine_version: 9
- list: shells
  items: [sh, bash]
- macro: reads
  condition: event.action == "open" and bansho.file.protectd
- rule: Shell Reads
  desc: x.
  condition: >
    event.action == "exec" and
    process.name in shells and process.exe == "x"
  output: "%process.name read %file.pth"
  priority: warning
- rule: Bad Syntax
  desc: y.
  condition: event.action = "open"
  output: o
  priority: hi
  exceptions:
    - name: e
      fields: [process.nam]
      comps: [like]
      values: [[a]]
- rule: Not Bool
  desc: z.
  condition: process.name
  output: o
  priority: notice
  sequence:
    within: 10s
- rule: Precedence
  desc: z.
  condition: not process.name in shells
  output: o
  priority: notice
  bogus: 1
`
	_, err := Compile(map[string]string{"r.yaml": src}, Options{})
	es, ok := err.(Errors)
	if !ok {
		t.Fatalf("want Errors, got %v", err)
	}
	want := []string{
		`r.yaml:1:28: required_engine_version 9: this engine implements version 1`,
		`r.yaml:5:41: unknown field "bansho.file.protectd" (did you mean "bansho.file.protected"?)`,
		`r.yaml:10:32: unknown field "process.exe" (did you mean "process.executable"?)`,
		`r.yaml:11:31: output: unknown field "file.pth"`,
		`r.yaml:15:27: condition: unexpected token Operator("=")`,
		`r.yaml:17:13: rule "Bad Syntax": priority "hi"`,
		`r.yaml:20:16: exception "e": unknown field "process.nam" (did you mean "process.name"?)`,
		`r.yaml:21:15: exception "e": unknown comparison "like"`,
		`r.yaml:25:14: rule "Not Bool": a sequence has conditions in its steps`,
		`r.yaml:29:5: sequence: steps: expected a list of at least two`,
		`r.yaml:32:14: condition: invalid operation: not (mismatched type string) (not binds tighter than in`,
		`r.yaml:35:3: rule: unknown key "bogus"`,
	}
	got := es.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", got)
	}
}

const goodRule = `- rule: Open
  desc: d.
  condition: event.action == "open" and bansho.file.protected
  output: o %file.path
  priority: notice
`

// A reload that does not compile keeps the running rules and says where
// the problem is; the next good one is taken.
func TestReloadKeepsRunningSetOnError(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "local.yaml")
	if err := os.WriteFile(f, []byte(goodRule), 0o644); err != nil {
		t.Fatal(err)
	}
	hup := make(chan os.Signal, 1)
	w := watchDir(t, dir, hup)
	set, e, r := w.set, w.engine, w.reloader

	bad := strings.Replace(goodRule, "bansho.file.protected", "bansho.file.protectd", 1)
	if err := os.WriteFile(f, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.next("after a file change"); err == nil || !strings.Contains(err.Error(), "local.yaml:3:") {
		t.Fatalf("reload error %v, want one at local.yaml:3", err)
	}
	if e.Set() != set {
		t.Fatal("a bad reload replaced the running rules")
	}
	two := goodRule + strings.Replace(goodRule, "rule: Open", "rule: Open Again", 1)
	if err := os.WriteFile(f, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.next("after the fix"); err != nil {
		t.Fatal(err)
	}
	if len(e.Set().Rules) != 2 {
		t.Fatalf("running %d rules, want 2", len(e.Set().Rules))
	}
	hup <- os.Interrupt // any value: a SIGHUP
	if err := w.next("on the signal"); err != nil {
		t.Fatal(err)
	}
	if ok, failed := r.Reloads(); ok != 2 || failed != 1 {
		t.Errorf("reloads ok %d failed %d", ok, failed)
	}
}

// A reload that compiles but fails the sensor's check (Reloader.Check:
// a configured list the new files no longer define) keeps the running
// rules and reports the check's error.
func TestReloadKeepsRunningSetWhenCheckFails(t *testing.T) {
	dir := t.TempDir()
	withList := "- list: my_readers\n  items: [/opt/app]\n" + goodRule
	if err := os.WriteFile(filepath.Join(dir, "local.yaml"), []byte(withList), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(set, EngineOptions{})
	var got error
	r := &Reloader{Dir: dir, Engine: e,
		Check: func(s *Set) error {
			if !s.Defines("my_readers") {
				return errors.New("rules.lists[0].name: \"my_readers\" is not a list of the rules")
			}
			return nil
		},
		Result: func(_ *Set, err error) { got = err }}
	if err := os.WriteFile(filepath.Join(dir, "local.yaml"), []byte(goodRule), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || got == nil || !strings.Contains(got.Error(), "my_readers") {
		t.Fatalf("reload without the list: error %v, reported %v", err, got)
	}
	if e.Set() != set {
		t.Fatal("a reload that failed its check replaced the running rules")
	}
	if ok, failed := r.Reloads(); ok != 0 || failed != 1 {
		t.Errorf("reloads ok %d failed %d", ok, failed)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.yaml"), []byte(withList+"- list: more\n  items: [a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil || e.Set() == set {
		t.Fatalf("a reload that passes its check: %v", err)
	}
}

// A flood of distinct keys leaves the stateful rules at their cap, and
// the rest still works: a threshold fires for a key that reaches it.
func TestStateStaysBounded(t *testing.T) {
	set := compileOne(t, `
- rule: Many
  desc: d.
  condition: event.action == "open" and bansho.file.protected
  threshold: {by: login_user, distinct: file.path, count: 3, within: 1m}
  output: o
  priority: notice
- rule: Seq
  desc: d.
  sequence:
    by: user
    within: 1m
    steps:
      - condition: event.action == "open" and bansho.file.protected
      - condition: event.action == "connect"
  output: o
  priority: notice
`, Options{MaxKeys: 100})
	e := NewEngine(set, EngineOptions{MaxProcesses: 64})
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	open := func(i int, auid uint32, path string) []*event.Event {
		ev := &event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Time: t0.Add(time.Duration(i) * time.Millisecond),
			Proc: event.Process{PID: uint32(i), AUID: auid, EUID: auid, Comm: "cat", StartBoot: uint64(i) + 1},
			File: &event.File{Syscall: 257, Path: path, Ino: 1}}
		return e.Eval(ev, []byte(`{"event":{"id":"x"},"bansho":{}}`))
	}
	for i := 0; i < 10000; i++ {
		if a := open(i, uint32(i+1000), "/srv/mynumber/a"); len(a) != 0 {
			t.Fatalf("alert at %d for a key seen once", i)
		}
	}
	keys, evicted := e.stateNow()
	if keys > 200 || evicted < 19000 {
		t.Errorf("keys %d (cap 2x100), evicted %d", keys, evicted)
	}
	var fired int
	for i, p := range []string{"/srv/mynumber/a", "/srv/mynumber/b", "/srv/mynumber/a", "/srv/mynumber/c"} {
		fired += len(open(20000+i, 7, p))
	}
	if fired != 1 {
		t.Errorf("threshold fired %d times for 3 distinct files, want 1", fired)
	}
}

// The fixture harness fails a case whose alerts differ from what it
// expects, either way.
func TestHarnessIsStrict(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(goodRule), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := `{"event":{"action":"open"},"file":{"path":"/srv/x"},"bansho":{"file":{"protected":true}}}`
	docs, err := fixtureEvents("c", ev, DefaultTestTime)
	if err != nil {
		t.Fatal(err)
	}
	cases := []*TestCase{
		{Name: "fires unexpectedly", Events: docs, Expect: map[string]int{}},
		{Name: "expected twice", Events: docs, Expect: map[string]int{"Open": 2}},
		{Name: "unknown rule", Events: docs, Expect: map[string]int{"Open": 1, "Nope": 0}},
		{Name: "right", Events: docs, Expect: map[string]int{"Open": 1}},
	}
	res, _, err := RunTests(dir, cases, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res[:3] {
		if r.Failure == "" {
			t.Errorf("%s: passed", r.Case.Name)
		}
	}
	if res[3].Failure != "" {
		t.Errorf("right: %s", res[3].Failure)
	}
}

func TestCalendar(t *testing.T) {
	c, err := NewCalendar("Asia/Tokyo", []string{"mon", "tue", "wed", "thu", "fri"}, "08:30", "18:00", []string{"2026-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{time.Date(2026, 12, 1, 8, 29, 0, 0, jst), false},
		{time.Date(2026, 12, 1, 8, 30, 0, 0, jst), true},
		{time.Date(2026, 12, 1, 17, 59, 0, 0, jst), true},
		{time.Date(2026, 12, 1, 18, 0, 0, 0, jst), false},
		{time.Date(2026, 12, 5, 12, 0, 0, 0, jst), false},    // Saturday
		{time.Date(2026, 12, 31, 12, 0, 0, 0, jst), false},   // holiday
		{time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), true}, // 12:00 in Tokyo
	} {
		if got := c.Inside(tc.t); got != tc.want {
			t.Errorf("%v: inside %v, want %v", tc.t, got, tc.want)
		}
	}
	night, _ := NewCalendar("UTC", []string{"sat"}, "22:00", "06:00", nil)
	if !night.Inside(time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)) || night.Inside(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)) {
		t.Error("a shift past midnight")
	}
	if _, err := NewCalendar("Mars/Olympus", nil, "08:00", "18:00", nil); err == nil {
		t.Error("a bad time zone was accepted")
	}
}

// Swapping rule sets and reading metrics while events are evaluated is
// safe (run with -race).
func TestSwapWhileEvaluating(t *testing.T) {
	set := packSet(t)
	e := NewEngine(set, EngineOptions{})
	evs := recordedMix(2000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			e.Swap(set)
			e.StateKeys()
			_ = e.Set().Enabled()
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 20000; i++ {
		e.Eval(evs[i%len(evs)], []byte(`{"event":{"id":"x"},"bansho":{}}`))
	}
	<-done
	if e.Evaluated() != 20000 {
		t.Errorf("evaluated %d", e.Evaluated())
	}
}

// A sequence by user: the steps may be different processes of one user,
// within the window, and another user's step does not count.
func TestSequenceByUser(t *testing.T) {
	set := compileOne(t, `
- rule: Read Then Connect
  desc: d.
  sequence:
    by: user
    within: 30s
    steps:
      - condition: event.action == "open" and bansho.file.protected
      - condition: event.action == "connect"
  output: o
  priority: notice
`, Options{})
	e := NewEngine(set, EngineOptions{})
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	doc := []byte(`{"event":{"id":"x"},"bansho":{}}`)
	open := func(pid, uid uint32, at time.Duration) int {
		return len(e.Eval(&event.Event{Op: event.OpFileOpen, Flags: event.FlagProtected, Time: t0.Add(at),
			Proc: event.Process{PID: pid, EUID: uid, StartBoot: uint64(pid)}, File: &event.File{Path: "/srv/p"}}, doc))
	}
	connect := func(pid, uid uint32, at time.Duration) int {
		return len(e.Eval(&event.Event{Op: event.OpNetConnect, Time: t0.Add(at),
			Proc: event.Process{PID: pid, EUID: uid, StartBoot: uint64(pid)}, Net: &event.Net{Protocol: 6}}, doc))
	}
	if open(1, 1000, 0) != 0 || connect(2, 1001, time.Second) != 0 {
		t.Fatal("fired early or for another user")
	}
	if connect(3, 1000, 2*time.Second) != 1 {
		t.Error("no alert for the same user's connect within the window")
	}
	if open(4, 1000, 10*time.Second) != 0 || connect(5, 1000, 50*time.Second) != 0 {
		t.Error("fired outside the window")
	}
}

// Lists and macros extend with append; a rule is switched off by name;
// an appended macro with an error is reported where it is written.
func TestAppendAndOverride(t *testing.T) {
	base := `- list: readers
  items: [/usr/bin/a]
- macro: is_open
  condition: event.action == "open"
- rule: R
  desc: d.
  condition: is_open and process.executable not in readers
  output: o
  priority: notice
- rule: S
  desc: d.
  condition: is_open
  output: o
  priority: notice
`
	local := `- list: readers
  items: [/usr/bin/b]
  append: true
- macro: is_open
  condition: event.action == "write"
  append: true
- rule: S
  enabled: false
`
	set, err := Compile(map[string]string{"a.yaml": base, "b.yaml": local}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Lists["readers"]; len(got) != 2 {
		t.Errorf("readers %v", got)
	}
	e := NewEngine(set, EngineOptions{})
	ev := func(op event.Op) []*event.Event {
		x := &event.Event{Op: op, Time: time.Now(), Proc: event.Process{PID: 9, StartBoot: 9}, File: &event.File{Path: "/p"}}
		return e.Eval(x, []byte(`{"event":{"id":"i"},"bansho":{}}`))
	}
	if n := len(ev(event.OpFileWrite)); n != 1 {
		t.Errorf("appended macro: %d alerts for a write, want 1 (R; S is off)", n)
	}
	_, err = Compile(map[string]string{"a.yaml": base, "b.yaml": "- macro: is_open\n  condition: event.actio == 1\n  append: true\n"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "b.yaml:2:14:") {
		t.Errorf("error in an appended macro: %v", err)
	}
}

// Events with a missing part, and documents of the wrong shape, are
// evaluated without a panic.
func TestOddInput(t *testing.T) {
	set := packSet(t)
	e := NewEngine(set, EngineOptions{})
	doc := []byte(`{"event":{"id":"x","action":"exec","category":["process"]},"process":{"name":"ngrok"},"bansho":{}}`)
	for _, op := range []event.Op{event.OpExec, event.OpFork, event.OpExit, event.OpFileOpen, event.OpFileWrite,
		event.OpFileNS, event.OpNetConnect, event.OpNetAccept, event.OpNetSend, event.OpTLSWrite, 77} {
		e.Eval(&event.Event{Op: op, Time: time.Now()}, doc)
	}
	if n := len(NewEngine(set, EngineOptions{}).Eval(&event.Event{Op: event.OpExec}, doc)); n != 1 {
		t.Errorf("an exec record without its part, read from its document: %d alerts, want 1", n)
	}
	for _, d := range []string{`{}`, `{"event":7}`, `{"event":{"action":["open"]},"process":{"args":3,"pid":"x"},"file":{"path":{}}}`,
		`{"@timestamp":"not a time","event":{"action":"send"},"destination":{"ip":7},"bansho":{"content":{"my_number":{"distinct":"many"}}}}`} {
		if _, err := e.EvalDoc([]byte(d)); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	if _, err := e.EvalDoc([]byte(`not json`)); err == nil {
		t.Error("not JSON was accepted")
	}
}

// Positions inside literal blocks, quoted strings and sequence steps.
func TestErrorPositionsInBlocks(t *testing.T) {
	src := "- rule: L\n  desc: d.\n  condition: |\n    event.action == \"open\"\n      and process.nme == \"x\"\n  output: o\n  priority: notice\n" +
		"- rule: Q\n  desc: d.\n  condition: \"event.action == 'open' and file.pat == 'x'\"\n  output: o\n  priority: notice\n" +
		"- rule: S\n  desc: d.\n  sequence:\n    within: 1m\n    steps:\n      - condition: event.action == \"open\"\n      - condition: destination.ipp == \"x\"\n  output: o\n  priority: notice\n"
	_, err := Compile(map[string]string{"p.yaml": src}, Options{})
	got := fmt.Sprint(err)
	for _, w := range []string{`p.yaml:5:11: unknown field "process.nme"`, `p.yaml:10:42: unknown field "file.pat"`,
		`p.yaml:19:20: unknown field "destination.ipp"`} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
}

// A ConfigMap-style directory (files are symlinks into ..data, which is
// swapped at once) reloads when ..data changes.
func TestReloadOnConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	mk := func(gen, body string) {
		d := filepath.Join(dir, "..gen"+gen)
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, "local.yaml"), []byte(body), 0o644)
		tmp := filepath.Join(dir, "..data_tmp")
		os.Remove(tmp)
		if err := os.Symlink("..gen"+gen, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	mk("1", goodRule)
	if err := os.Symlink("..data/local.yaml", filepath.Join(dir, "local.yaml")); err != nil {
		t.Fatal(err)
	}
	w := watchDir(t, dir, nil)
	mk("2", goodRule+strings.Replace(goodRule, "rule: Open", "rule: Two", 1))
	if err := w.next("when ..data was swapped"); err != nil || len(w.engine.Set().Rules) != 2 {
		t.Fatalf("reload: %v, %d rules", err, len(w.engine.Set().Rules))
	}
}

// Guards and the programs they replace agree, on every kind of term the
// guards cover, for values that make each true and false.
func TestGuardsAgreeWithExpr(t *testing.T) {
	terms := []string{
		`bansho.file.protected`, `not bansho.file.protected`, `event.outcome == "success"`, `file.type != "dir"`,
		`process.name in ["sh", "bash"]`, `process.name not in ["sh", "bash"]`, `bansho.content.my_number.distinct > 0`,
		`bansho.content.my_number.distinct >= 2`, `process.pid == 7`, `bansho.file.tainted or bansho.file.protected`,
		`"O_RDONLY" in bansho.file.flags`, `not ("O_DIRECTORY" in bansho.file.flags)`,
		`bansho.login_user.id == "" or bansho.login_user.id == "0"`,
		`any(bansho.process.ancestors.name, # in ["dpkg", "apt"] or # in ["logrotate"])`,
		`not any(bansho.process.ancestors.executable, # == "/usr/bin/tar")`,
	}
	envs := []*Env{{}, {}}
	e1 := envs[1]
	e1.Bansho.File.Protected, e1.Event.Outcome, e1.File.Type, e1.Process.Name = true, "success", "dir", "sh"
	e1.Bansho.Content.MyNumber.Distinct, e1.Process.PID, e1.Bansho.File.Flags = 2, 7, []string{"O_RDONLY", "O_DIRECTORY"}
	e1.Bansho.Process.Ancestors.Name, e1.Bansho.Process.Ancestors.Executable = []string{"bash", "apt"}, []string{"/usr/bin/tar"}
	envs[0].Bansho.LoginUser.ID, envs[0].File.Type = "1000", "file"
	for _, src := range terms {
		tr, err := parser.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := guardOf(tr.Node)
		if !ok {
			t.Errorf("%s: no guard", src)
			continue
		}
		prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
		if err != nil {
			t.Fatal(err)
		}
		for i, env := range envs {
			want, _ := expr.Run(prog, env)
			if got := g.ok(env); got != want {
				t.Errorf("%s on env %d: guard %v, expr %v", src, i, got, want)
			}
		}
	}
}

// A live event's self-protection flags and mount facts reach the rules from
// the event itself, whatever the document holds (here: nothing of them).
func TestLiveEventStageFacts(t *testing.T) {
	set := compileOne(t, `
- rule: Usb
  desc: d.
  condition: event.action == "write" and bansho.file.mount.removable and bansho.file.mount.fstype == "vfat"
  output: o
  priority: notice
- rule: Share
  desc: d.
  condition: event.action == "write" and bansho.file.mount.network
  output: o
  priority: notice
- rule: Tamper
  desc: d.
  condition: event.action == "write" and bansho.file.integrity and bansho.self_target
  output: o
  priority: notice
`, Options{})
	e := NewEngine(set, EngineOptions{})
	doc := []byte(`{"event":{"id":"a"},"bansho":{}}`)
	write := func(flags uint8, m *event.Mount) *event.Event {
		ev := &event.Event{Op: event.OpFileWrite, Flags: flags, Time: time.Now(),
			Proc: event.Process{PID: 77, Comm: "cp"}, File: &event.File{Syscall: 1, Ret: 10, Path: "/x/y"}}
		if m != nil {
			ev.Enriched = &event.Enrichment{Mount: m}
		}
		return ev
	}
	names := func(ev *event.Event) []string {
		var out []string
		for _, a := range e.Eval(ev, doc) {
			out = append(out, a.Alert.RuleName)
		}
		return out
	}
	for _, c := range []struct {
		name string
		ev   *event.Event
		want string
	}{
		{"usb", write(0, &event.Mount{FSType: "vfat", Removable: true}), "Usb"},
		{"nfs", write(0, &event.Mount{FSType: "nfs4", Network: true}), "Share"},
		{"local disk", write(0, &event.Mount{FSType: "ext4"}), ""},
		{"sensor file", write(event.FlagIntegrity|event.FlagSelf, nil), "Tamper"},
		{"integrity only", write(event.FlagIntegrity, nil), ""},
	} {
		got := strings.Join(names(c.ev), ",")
		if got != c.want {
			t.Errorf("%s: alerts %q, want %q", c.name, got, c.want)
		}
	}
}

// compileOne compiles one rule file, r.yaml, failing the test on an error.
func compileOne(t *testing.T, src string, opt Options) *Set {
	t.Helper()
	set, err := Compile(map[string]string{"r.yaml": src}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// packSet is the repository's rule pack with the default calendar.
func packSet(t *testing.T) *Set {
	t.Helper()
	set, err := Load(packDir, Options{Calendar: DefaultCalendar()})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// watched is an engine on the rules of a directory, reloaded by a
// running Reloader until the test ends.
type watched struct {
	t        *testing.T
	set      *Set // the set loaded at the start
	engine   *Engine
	reloader *Reloader
	results  chan error
}

// watchDir loads dir, starts a Reloader on it (hup, when not nil, is its
// SIGHUP) and returns once the watch is set up.
func watchDir(t *testing.T, dir string, hup chan os.Signal) *watched {
	t.Helper()
	set, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &watched{t: t, set: set, engine: NewEngine(set, EngineOptions{}), results: make(chan error, 10)}
	w.reloader = &Reloader{Dir: dir, Engine: w.engine, Debounce: 20 * time.Millisecond,
		Result: func(_ *Set, err error) { w.results <- err }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.reloader.Watch(ctx, hup); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(50 * time.Millisecond) // the watch is set up
	return w
}

// next is the result of the next reload; the test fails when none comes
// within 5s ("no reload " + what).
func (w *watched) next(what string) error {
	w.t.Helper()
	select {
	case err := <-w.results:
		return err
	case <-time.After(5 * time.Second):
		w.t.Fatal("no reload " + what)
		return nil
	}
}
