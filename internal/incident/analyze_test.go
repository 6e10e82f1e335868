package incident

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

// world builds synthetic sensor documents.
type world struct {
	host string
	docs [][]byte
	n    int
}

type proc struct {
	id, name, exe, cmd string
	pid                int
	parent             *proc
	group              *proc
	login              string
	start              time.Time
}

func (w *world) proc(name string, pid int, parent *proc, at time.Duration) *proc {
	p := &proc{id: fmt.Sprintf("%s-e%d", w.host, pid), name: name, exe: "/usr/bin/" + name, cmd: name, pid: pid, parent: parent,
		login: "tanaka", start: t0.Add(at)}
	p.group = p
	return p
}

func (w *world) doc(at time.Duration, p *proc, action string, extra map[string]any) {
	w.n++
	pr := map[string]any{"entity_id": p.id, "pid": p.pid, "name": p.name, "executable": p.exe, "command_line": p.cmd,
		"start": p.start, "user": map[string]any{"id": "0", "name": "root"},
		"entry_leader": map[string]any{"entity_id": w.host + "-e1", "pid": 1, "name": "bash", "command_line": "-bash",
			"user":       map[string]any{"id": "1000", "name": p.login},
			"entry_meta": map[string]any{"type": "sshd", "source": map[string]any{"ip": "198.51.100.23"}}}}
	if p.parent != nil {
		pr["parent"] = map[string]any{"entity_id": p.parent.id, "pid": p.parent.pid, "name": p.parent.name, "command_line": p.parent.cmd}
	}
	if p.group != nil {
		pr["group_leader"] = map[string]any{"entity_id": p.group.id, "pid": p.group.pid}
	}
	d := map[string]any{"@timestamp": t0.Add(at), "host": map[string]any{"name": w.host},
		"event":   map[string]any{"id": fmt.Sprintf("%s-%d", w.host, w.n), "kind": "event", "action": action, "outcome": "success"},
		"process": pr, "user": map[string]any{"id": "0", "name": "root"},
		"bansho": map[string]any{"login_user": map[string]any{"id": "1000", "name": p.login}}}
	for k, v := range extra {
		parts := strings.Split(k, ".")
		m := d
		for _, part := range parts[:len(parts)-1] {
			next, ok := m[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[part] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	w.docs = append(w.docs, b)
}

func (w *world) open(at time.Duration, p *proc, path string, protected bool) {
	w.doc(at, p, "open", map[string]any{"file.path": path, "bansho.file.protected": protected, "bansho.file.flags": []string{"O_RDONLY"}})
}

func contentOf(hashes []string, sampled int, truncated bool, pii ...string) map[string]any {
	return map[string]any{"my_number": map[string]any{"distinct": len(hashes), "hashes": hashes},
		"corporate_number": map[string]any{"distinct": 0}, "sampled_bytes": sampled, "truncated": truncated, "pii_types": pii}
}

func (w *world) write(at time.Duration, p *proc, path string, bytes int, c map[string]any, extra map[string]any) {
	e := map[string]any{"file.path": path, "bansho.file.tainted": true, "bansho.file.bytes": bytes, "bansho.file.syscall": "write"}
	if c != nil {
		e["bansho.content"] = c
	}
	for k, v := range extra {
		e[k] = v
	}
	w.doc(at, p, "write", e)
}

func (w *world) health(at time.Duration, drops int) {
	w.n++
	b, _ := json.Marshal(map[string]any{"@timestamp": t0.Add(at), "host": map[string]any{"name": w.host},
		"event":  map[string]any{"id": fmt.Sprintf("%s-h%d", w.host, w.n), "kind": "metric", "action": "sensor-health"},
		"bansho": map[string]any{"health": map[string]any{"drops": map[string]any{"total": drops}, "counters": map[string]any{}}}})
	w.docs = append(w.docs, b)
}

const roster = "/srv/mynumber/roster.csv"

func hashes(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%064x", i))
	}
	return out
}

// story: the roster copied, renamed, archived and uploaded; piped through
// gzip; copied to a USB stick; and unrelated activity around it.
func story() *world {
	w := &world{host: "hr-db-01"}
	w.health(-time.Minute, 5)
	bash := w.proc("bash", 1, nil, -time.Hour)
	cat := w.proc("cat", 101, bash, 0)
	cat.cmd = "cat " + roster
	w.doc(0, cat, "exec", nil)
	w.open(time.Second, cat, roster, true)
	w.write(2*time.Second, cat, "/tmp/r.csv", 300, contentOf(hashes(1, 3), 300, false, "name", "birth_date"), nil)
	w.write(2*time.Second, cat, "/dev/pts/1", 300, contentOf(hashes(1, 3), 300, false), nil) // a terminal: not a flow
	mv := w.proc("mv", 102, bash, 3*time.Second)
	w.doc(3*time.Second, mv, "rename", map[string]any{"file.path": "/tmp/r.csv", "file.target_path": "/tmp/notes.txt"})
	tar := w.proc("tar", 103, bash, 4*time.Second)
	w.open(4*time.Second, tar, "/tmp/notes.txt", false)
	w.write(5*time.Second, tar, "/tmp/a.tgz", 9000, contentOf(nil, 4096, true), nil)
	curl := w.proc("curl", 104, bash, 6*time.Second)
	w.open(6*time.Second, curl, "/tmp/a.tgz", false)
	w.doc(7*time.Second, curl, "connect", map[string]any{"destination.ip": "203.0.113.50", "destination.port": 443,
		"bansho.network.fd": 5, "bansho.network.destination_class": "internet", "network.transport": "tcp"})
	w.doc(8*time.Second, curl, "send", map[string]any{"bansho.network.fd": 5, "bansho.network.tls": true, "bansho.network.tainted": true,
		"bansho.network.syscall": "SSL_write", "bansho.network.bytes": 9000, "bansho.content": contentOf(nil, 4096, true)})
	w.doc(8*time.Second, curl, "send", map[string]any{"destination.ip": "203.0.113.50", "destination.port": 443, "bansho.network.fd": 5,
		"bansho.network.tainted": true, "bansho.network.bytes": 9100, "bansho.content": contentOf(nil, 4096, true)})
	// cat roster | gzip > /tmp/x.gz: gzip is in cat's process group.
	cat2 := w.proc("cat", 105, bash, 10*time.Second)
	gz := w.proc("gzip", 106, bash, 10*time.Second)
	gz.group = cat2
	w.open(10*time.Second, cat2, roster, true)
	w.write(11*time.Second, gz, "/tmp/x.gz", 120, contentOf(nil, 120, false), nil)
	// cp to a USB stick: copy_file_range, read back in part.
	cp := w.proc("cp", 107, bash, 12*time.Second)
	w.open(12*time.Second, cp, roster, true)
	w.write(13*time.Second, cp, "/media/usb/r.csv", 12000, contentOf(hashes(1, 2), 4096, true, "name"),
		map[string]any{"bansho.file.syscall": "copy_file_range", "bansho.file.mount": map[string]any{"fstype": "vfat", "removable": true, "point": "/media/usb"}})
	// Unrelated: another protected file, another user; an untainted write.
	other := w.proc("cat", 201, bash, 14*time.Second)
	other.login = "suzuki"
	w.open(14*time.Second, other, "/srv/mynumber/other.csv", true)
	w.write(15*time.Second, other, "/tmp/o.csv", 100, contentOf(hashes(9, 9), 100, false), nil)
	ed := w.proc("vi", 202, bash, 16*time.Second)
	w.doc(16*time.Second, ed, "write", map[string]any{"file.path": "/tmp/unrelated", "bansho.file.bytes": 10})
	w.doc(17*time.Second, ed, "connect", map[string]any{"destination.ip": "192.0.2.9", "destination.port": 80})
	w.health(time.Minute, 8)
	return w
}

func analyze(t *testing.T, opt Options, inputs ...*world) *Report {
	t.Helper()
	opt.Now = t0.Add(time.Hour)
	a := New(opt)
	for _, w := range inputs {
		for _, b := range w.docs {
			a.AddJSON(b)
		}
	}
	r, err := a.Report()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func flowKeys(r *Report) []string {
	var out []string
	for _, f := range r.Flows {
		d := f.Destination.Path
		if d == "" {
			d = fmt.Sprintf("%s:%d", f.Destination.IP, f.Destination.Port)
		}
		out = append(out, f.Process.Name+" "+f.Via+" "+d)
	}
	return out
}

func TestLineage(t *testing.T) {
	w := story()
	r := analyze(t, Options{Files: []string{roster}}, w)
	want := []string{
		"cat copy /tmp/r.csv",
		"mv rename /tmp/notes.txt",
		"tar archive /tmp/a.tgz",
		"curl tls-upload 203.0.113.50:443",
		"gzip pipe /tmp/x.gz",
		"cp copy /media/usb/r.csv",
	}
	if got := flowKeys(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("flows:\n got %q\nwant %q", got, want)
	}
	f := r.Flows[0]
	if f.LoginUser != "tanaka(1000)" || f.SSHSource != "198.51.100.23" || f.Bytes != 300 || !f.Complete || f.Persons.Lower != 3 {
		t.Errorf("first flow: %+v", f)
	}
	if len(f.Process.Ancestry) == 0 || f.Process.Ancestry[0].Name != "bash" {
		t.Errorf("ancestry: %+v", f.Process.Ancestry)
	}
	if mvf := r.Flows[1]; mvf.Persons.Lower != 3 || !reflect.DeepEqual(mvf.PIITypes, []string{"name", "birth_date"}) {
		t.Errorf("rename carries the copy's people and kinds: %+v", mvf)
	}
	up := r.Flows[3]
	if up.Bytes != 9000 || !up.Destination.TLS || up.Destination.Class != "internet" || up.Complete || up.Persons.Upper != nil {
		t.Errorf("upload: %+v", up)
	}
	usb := r.Flows[5]
	if !usb.Destination.Removable || usb.Destination.FSType != "vfat" || usb.Complete {
		t.Errorf("usb: %+v", usb)
	}
	// People: three seen; no upper bound without the roster at rest.
	if r.Persons.Lower != 3 || r.Persons.Upper != nil || r.Persons.Exact {
		t.Errorf("persons: %+v", r.Persons)
	}
	if !reflect.DeepEqual(r.Hashes.MyNumber, hashes(1, 3)) {
		t.Errorf("hashes: %v", r.Hashes.MyNumber)
	}
	if !reflect.DeepEqual(r.PIITypes, []string{"name", "birth_date"}) {
		t.Errorf("pii: %v", r.PIITypes)
	}
	kinds := map[string]int64{}
	for _, u := range r.Unknowns {
		kinds[u.Kind] = u.Count
	}
	if kinds["events-lost"] != 3 || kinds["samples-cut"] == 0 || kinds["source-content-unknown"] != 1 {
		t.Errorf("unknowns: %+v", r.Unknowns)
	}
	if len(r.People) != 1 || r.People[0].LoginUser != "tanaka(1000)" || !reflect.DeepEqual(r.People[0].Sources, []string{"198.51.100.23"}) {
		t.Errorf("people: %+v", r.People)
	}
	if got := r.Deadlines; !got.PreliminaryDue.Equal(t0.Add(time.Hour).AddDate(0, 0, 5)) || got.FinalDays != 30 {
		t.Errorf("deadlines: %+v", got)
	}
}

func TestBoundsAtRest(t *testing.T) {
	w := story()
	rest := &AtRest{Persons: 4, From: "test", hashes: hashes(1, 4)}
	r := analyze(t, Options{Files: []string{roster}, AtRest: map[string]*AtRest{roster: rest}, Malicious: true}, w)
	if r.Persons.Lower != 3 || r.Persons.Upper == nil || *r.Persons.Upper != 4 || r.Persons.Exact {
		t.Errorf("persons: %+v", r.Persons)
	}
	if !reflect.DeepEqual(r.Hashes.MyNumberPossible, hashes(4, 4)) {
		t.Errorf("possible: %v", r.Hashes.MyNumberPossible)
	}
	if r.Deadlines.FinalDays != 60 {
		t.Errorf("malicious: %+v", r.Deadlines)
	}
	for _, u := range r.Unknowns {
		if u.Kind == "source-content-unknown" {
			t.Errorf("source known at rest, yet: %+v", u)
		}
	}
}

func TestSelection(t *testing.T) {
	w := story()
	// Another user: only their flow.
	r := analyze(t, Options{User: "suzuki"}, w)
	if got := flowKeys(r); !reflect.DeepEqual(got, []string{"cat copy /tmp/o.csv"}) || r.Persons.Lower != 1 {
		t.Errorf("suzuki: %q %+v", got, r.Persons)
	}
	// Every protected file: both stories, four people.
	r = analyze(t, Options{}, w)
	if len(r.Flows) != 7 || r.Persons.Lower != 4 {
		t.Errorf("all: %q %+v", flowKeys(r), r.Persons)
	}
	// A time range that ends before the pipe.
	r = analyze(t, Options{Files: []string{roster}, Until: t0.Add(9 * time.Second)}, w)
	if len(r.Flows) != 4 {
		t.Errorf("until: %q", flowKeys(r))
	}
	// Nothing read: nothing out.
	r = analyze(t, Options{Files: []string{"/srv/mynumber/none.csv"}}, w)
	if len(r.Flows) != 0 || r.Persons.Lower != 0 {
		t.Errorf("none: %q", flowKeys(r))
	}
}

func TestAlert(t *testing.T) {
	w := story()
	cp := w.proc("cp", 107, w.proc("bash", 1, nil, -time.Hour), 12*time.Second)
	w.doc(13*time.Second, cp, "write", map[string]any{"event.kind": "alert", "event.id": "alert-1",
		"file.path": "/media/usb/r.csv", "rule.id": "usb"})
	r := analyze(t, Options{AlertID: "alert-1"}, w)
	if got := flowKeys(r); !reflect.DeepEqual(got, []string{"cp copy /media/usb/r.csv"}) {
		t.Errorf("alert: %q", got)
	}
	if len(r.Flows) == 1 && !reflect.DeepEqual(r.Flows[0].Alerts, []string{"alert-1"}) {
		t.Errorf("alerts: %v", r.Flows[0].Alerts)
	}
	a := New(Options{AlertID: "nope"})
	for _, b := range w.docs {
		a.AddJSON(b)
	}
	if _, err := a.Report(); err != ErrNoAlert {
		t.Errorf("unknown alert: %v", err)
	}
}

func TestManyHosts(t *testing.T) {
	w1 := story()
	w2 := &world{host: "hr-db-02"}
	bash := w2.proc("bash", 1, nil, -time.Hour)
	cat := w2.proc("cat", 300, bash, 20*time.Second)
	w2.open(20*time.Second, cat, roster, true)
	w2.write(21*time.Second, cat, "/tmp/r2.csv", 200, contentOf(hashes(2, 5), 200, false), nil)
	w2.health(time.Minute, 0)
	r := analyze(t, Options{Files: []string{roster}}, w1, w2)
	// Hashes 1-3 on one host, 2-5 on the other: five people, each once.
	if r.Persons.Lower != 5 || !reflect.DeepEqual(r.Hosts, []string{"hr-db-01", "hr-db-02"}) {
		t.Errorf("persons %+v hosts %v", r.Persons, r.Hosts)
	}
	if len(r.Flows) != 7 {
		t.Errorf("flows %q", flowKeys(r))
	}
}

func TestUndecodable(t *testing.T) {
	a := New(Options{Now: t0})
	a.AddJSON([]byte("not json"))
	r, err := a.Report()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Unknowns) != 1 || r.Unknowns[0].Kind != "undecodable-documents" {
		t.Errorf("unknowns: %+v", r.Unknowns)
	}
	b, _ := json.Marshal(r)
	for _, k := range []string{`"persons"`, `"corporate_numbers"`, `"hashes"`, `"flows":[]`, `"deadlines"`, `"unknowns"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON has no %s: %s", k, b)
		}
	}
}

func TestRender(t *testing.T) {
	w := story()
	rest := &AtRest{Persons: 4, From: "test", hashes: hashes(1, 4)}
	r := analyze(t, Options{Files: []string{roster}, AtRest: map[string]*AtRest{roster: rest}}, w)
	var js, md, html strings.Builder
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md, time.UTC); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html, time.UTC); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3〜4", "tls-upload", "TLS送信", "<svg id=\"timeline\"", "bansho-incident", "生年月日 birth date", "198.51.100.23"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML has no %q", want)
		}
	}
	if strings.Contains(html.String(), "http://") && !strings.Contains(html.String(), `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("HTML refers to the network")
	}
	if !strings.Contains(md.String(), "### 4. TLS送信 HTTPS upload → 203.0.113.50:443") {
		t.Errorf("markdown:\n%s", md.String())
	}
	// The HTML page carries the report for `affected`.
	back, err := LoadReport([]byte(html.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Hashes, r.Hashes) || len(back.Flows) != len(r.Flows) {
		t.Errorf("report from HTML differs")
	}
	back, err = LoadReport([]byte(js.String()))
	if err != nil || back.Persons.Lower != 3 {
		t.Errorf("report from JSON: %v %+v", err, back)
	}
}

// A shell that read the roster carries it: its children's copy, the mv
// of the copy (not reported by the kernel: the copy is not protected
// data; found from mv's command line) and the upload of the new name.
func TestCarrierShellAndMv(t *testing.T) {
	w := &world{host: "hr-db-01"}
	sh := w.proc("bash", 10, nil, 0)
	w.open(time.Second, sh, roster, true)
	cp := w.proc("cp", 11, sh, 2*time.Second)
	w.doc(2*time.Second, cp, "fork", nil)
	w.write(3*time.Second, cp, "/tmp/c.csv", 100, contentOf(hashes(1, 2), 100, false), nil)
	mv := w.proc("mv", 12, sh, 4*time.Second)
	w.doc(4*time.Second, mv, "fork", nil)
	w.doc(4*time.Second, mv, "exec", map[string]any{"process.args": []string{"mv", "-f", "c.csv", "notes/"}, "process.working_directory": "/tmp"})
	r := analyze(t, Options{Files: []string{roster}}, w)
	want := []string{"cp copy /tmp/c.csv", "mv rename /tmp/notes/c.csv"}
	if got := flowKeys(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("flows %q, want %q", got, want)
	}
	if f := r.Flows[1]; f.Inferred != "command line" || f.Persons.Lower != 2 {
		t.Errorf("inferred rename: %+v", f)
	}
	for _, c := range []struct {
		args     []string
		src, dst string
	}{
		{[]string{"mv", "a", "b"}, "/w/a", "/w/b"},
		{[]string{"mv", "-t", "/d", "a"}, "/w/a", "/d/a"},
		{[]string{"mv", "--", "-a", "/x/y"}, "/w/-a", "/x/y"},
		{[]string{"mv", "a", "b", "c"}, "", ""},
	} {
		if s, d := mvOperands(c.args, "/w"); s != c.src || d != c.dst {
			t.Errorf("mvOperands(%q) = %q %q, want %q %q", c.args, s, d, c.src, c.dst)
		}
	}
}

// restScan is the sensor's content-scan document: the whole file, read
// once its writer p had stopped writing.
func (w *world) restScan(at time.Duration, p *proc, path string, size int, hs []string, pii ...string) {
	c := contentOf(hs, size, false, pii...)
	c["at_rest"], c["scanned_bytes"] = true, size
	w.doc(at, p, "content-scan", map[string]any{"file.path": path, "bansho.file.tainted": true, "bansho.content": c})
}

// A copy the samples saw the first 4 KiB of, scanned whole at rest by the
// sensor: the flow's people are exact, without the source at rest.
func TestSensorScanAtRestMakesFlowExact(t *testing.T) {
	w := &world{host: "hr-db-01"}
	w.health(-time.Minute, 0)
	bash := w.proc("bash", 1, nil, -time.Hour)
	cp := w.proc("cp", 107, bash, 0)
	w.open(0, cp, roster, true)
	w.write(time.Second, cp, "/home/tanaka/r.csv", 12000, contentOf(hashes(1, 40), 4096, true, "name"),
		map[string]any{"bansho.file.syscall": "copy_file_range"})
	// The same cp archives too: a compressed file found no numbers, its
	// at-rest scan says nothing exact.
	tar := w.proc("tar", 108, bash, 2*time.Second)
	w.open(2*time.Second, tar, roster, true)
	w.write(3*time.Second, tar, "/home/tanaka/r.tgz", 9000, contentOf(nil, 4096, true), nil)
	// Another file, scanned at rest, that no carrier wrote.
	other := w.proc("cp", 300, bash, 2*time.Second)
	w.restScan(4*time.Second, other, "/tmp/unrelated.csv", 5000, hashes(500, 510))
	w.restScan(3*time.Second, cp, "/home/tanaka/r.csv", 12000, hashes(1, 300), "name", "birth_date")
	w.restScan(5*time.Second, tar, "/home/tanaka/r.tgz", 9000, nil)
	// mv of the copy afterwards carries the exact people.
	mv := w.proc("mv", 109, bash, 6*time.Second)
	w.doc(6*time.Second, mv, "rename", map[string]any{"file.path": "/home/tanaka/r.csv", "file.target_path": "/home/tanaka/s.csv"})
	w.health(time.Minute, 0)

	r := analyze(t, Options{Files: []string{roster}}, w)
	if got, want := flowKeys(r), []string{"cp copy /home/tanaka/r.csv", "tar archive /home/tanaka/r.tgz", "mv rename /home/tanaka/s.csv"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("flows %q, want %q", got, want)
	}
	c := r.Flows[0]
	if !c.Complete || c.AtRestBytes != 12000 || c.Persons.Lower != 300 || c.Persons.Upper == nil || *c.Persons.Upper != 300 || !c.Persons.Exact ||
		!strings.Contains(c.Persons.Basis, "at rest") || !reflect.DeepEqual(c.Hashes, hashes(1, 300)) {
		t.Errorf("copy: complete %v, at rest %d, persons %+v, %d hashes", c.Complete, c.AtRestBytes, c.Persons, len(c.Hashes))
	}
	if !reflect.DeepEqual(c.PIITypes, []string{"name", "birth_date"}) || len(c.Events) != 2 {
		t.Errorf("copy: pii %v, events %v", c.PIITypes, c.Events)
	}
	if a := r.Flows[1]; a.Complete || a.Persons.Exact || a.AtRestBytes != 9000 {
		t.Errorf("archive: complete %v, persons %+v", a.Complete, a.Persons)
	}
	if m := r.Flows[2]; !m.Complete || m.Persons.Lower != 300 || !m.Persons.Exact {
		t.Errorf("rename of the scanned copy: complete %v, persons %+v", m.Complete, m.Persons)
	}
	// The archive keeps the total a lower bound; the unrelated file is not counted.
	if r.Persons.Lower != 300 || r.Persons.Exact || containsStr(r.Hashes.MyNumber, hashes(500, 500)[0]) {
		t.Errorf("persons %+v", r.Persons)
	}

	// Without the archive, every flow is exact.
	w2 := &world{host: "hr-db-01"}
	w2.health(-time.Minute, 0)
	w2.open(0, cp, roster, true)
	w2.write(time.Second, cp, "/home/tanaka/r.csv", 12000, contentOf(hashes(1, 40), 4096, true), nil)
	w2.restScan(3*time.Second, cp, "/home/tanaka/r.csv", 12000, hashes(1, 300))
	w2.health(time.Minute, 0)
	r2 := analyze(t, Options{Files: []string{roster}}, w2)
	if r2.Persons.Lower != 300 || r2.Persons.Upper == nil || *r2.Persons.Upper != 300 || !r2.Persons.Exact {
		t.Errorf("total: %+v", r2.Persons)
	}
	for _, u := range r2.Unknowns {
		if u.Kind == "samples-cut" || u.Kind == "source-content-unknown" {
			t.Errorf("unknown left: %+v", u)
		}
	}

	// A write after the scan makes the flow cut again.
	w3 := &world{host: "hr-db-01"}
	w3.open(0, cp, roster, true)
	w3.write(time.Second, cp, "/home/tanaka/r.csv", 12000, contentOf(hashes(1, 40), 4096, true), nil)
	w3.restScan(3*time.Second, cp, "/home/tanaka/r.csv", 12000, hashes(1, 300))
	w3.write(4*time.Second, cp, "/home/tanaka/r.csv", 12000, contentOf(hashes(301, 310), 4096, true), nil)
	r3 := analyze(t, Options{Files: []string{roster}}, w3)
	if f := r3.Flows[0]; f.Complete || f.Persons.Lower != 310 || f.Persons.Exact {
		t.Errorf("written after the scan: complete %v, persons %+v", f.Complete, f.Persons)
	}
}
