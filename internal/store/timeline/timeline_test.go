package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/storetest"
)

var start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

// recording is a store and the same documents as JSON lines: routine
// noise, the incident at about 01:00, more noise.
type recording struct {
	dir      string
	jsonl    []byte
	incident time.Time
	cat      *event.Process
	docs     int
}

func record(t testing.TB, noiseBefore, noiseAfter int) *recording {
	t.Helper()
	rec := &recording{dir: filepath.Join(t.TempDir(), "store")}
	s, err := store.Open(store.Options{Dir: rec.dir, SegmentBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	flush := func() {
		if err := s.Write(batch); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	sim := storetest.New(start, 1, func(doc []byte) {
		d := append([]byte(nil), doc...)
		batch = append(batch, d)
		rec.jsonl = append(append(rec.jsonl, d...), '\n')
		rec.docs++
		if len(batch) == 256 {
			flush()
		}
	})
	noise := sim.NewNoise()
	sshd := noise.SSHD()
	step := time.Hour / time.Duration(noiseBefore+1)
	for i := 0; i < noiseBefore; i++ {
		noise.Step()
		sim.Advance(step)
	}
	rec.incident = sim.Now
	sim.Incident(sshd)
	for i := 0; i < noiseAfter; i++ {
		sim.Advance(step)
		noise.Step()
	}
	flush()
	// One alert about the upload, as the rules stage would write it.
	alert := `{"@timestamp":"` + rec.incident.Add(9*time.Second).Format(time.RFC3339Nano) + `","event":{"kind":"alert","severity":73,"action":"connect"},"rule":{"name":"Upload of protected data"},"process":{"entity_id":"X","pid":1}}`
	if err := s.Write([][]byte{[]byte(alert)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return rec
}

func (r *recording) store(t testing.TB) *store.Store {
	s, err := store.OpenReadOnly(r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func text(t testing.TB, tl *Timeline) string {
	var b bytes.Buffer
	if err := tl.WriteText(&b, time.UTC); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func jsonOf(t testing.TB, tl *Timeline) []byte {
	var b bytes.Buffer
	if err := tl.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func inOrder(t *testing.T, out string, parts ...string) {
	t.Helper()
	at := 0
	for _, p := range parts {
		i := strings.Index(out[at:], p)
		if i < 0 {
			t.Fatalf("%q missing (or out of order) after offset %d in:\n%s", p, at, out)
		}
		at += i + len(p)
	}
}

func TestTimelineOfAFile(t *testing.T) {
	rec := record(t, 3000, 3000)
	s := rec.store(t)
	f := Filter{File: "/srv/mynumber/roster.csv", Since: rec.incident.Add(-time.Hour)}
	tl, err := FromStore(s, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := text(t, tl)
	t.Log("\n" + out)
	// The story, in order: the login shell (context), sudo and cat under
	// it with the finding, the copy, the rename of the copy, the upload.
	inOrder(t, out,
		"Timeline of file /srv/mynumber/roster.csv",
		"bash[", "login=tanaka(1000)",
		"exec     /usr/bin/bash",
		"sudo[",
		"cat[", "user=root(0)", "login=tanaka(1000)",
		"open     /srv/mynumber/roster.csv  O_RDONLY|O_CLOEXEC  [protected]",
		"write    /dev/pts/7  3000 bytes  !! My Number: 40 people (high confidence, 40 occurrences)",
		"end      exit 0",
		"cp[",
		"write    /tmp/r.csv  48000 bytes  !! My Number: 1000 people",
		"mv[",
		"rename   /tmp/r.csv -> /tmp/notes.txt",
		"curl[",
		"open     /tmp/notes.txt",
		"connect  tcp to 203.0.113.50:443",
	)
	// Tree drawing: cat is under sudo, which is under bash.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "cat[") && !strings.HasPrefix(line, "│  └─ ") && !strings.HasPrefix(line, "│  ├─ ") {
			t.Errorf("cat is not drawn under sudo: %q", line)
		}
	}
	for _, noise := range []string{"postgres", "logrotate", "apache2", "export-", "suzuki"} {
		if strings.Contains(out, noise) {
			t.Errorf("routine activity %q in the story", noise)
		}
	}
	if strings.Contains(out, storetest.MyNumber) || strings.Contains(string(jsonOf(t, tl)), storetest.MyNumber) {
		t.Fatal("a raw My Number in the timeline")
	}
	// The same story from the JSON lines.
	tl2, err := FromJSONLines(bytes.NewReader(rec.jsonl), f, 0)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := jsonOf(t, tl), jsonOf(t, tl2); !bytes.Equal(a, b) {
		t.Fatalf("store and JSON lines differ:\n%s\n---\n%s", a, b)
	}
	// JSON: a tree with documents.
	var j struct {
		Documents int `json:"documents"`
		Processes []struct {
			Name     string `json:"name"`
			Context  bool   `json:"context"`
			Children []struct {
				Name   string            `json:"name"`
				Events []json.RawMessage `json:"events"`
			} `json:"children"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(jsonOf(t, tl), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Processes) != 1 || j.Processes[0].Name != "bash" || !j.Processes[0].Context || len(j.Processes[0].Children) != 4 {
		t.Fatalf("json tree: %d roots, first %q context %v", len(j.Processes), j.Processes[0].Name, j.Processes[0].Context)
	}
	// Before the incident's window: nothing.
	tl, _ = FromStore(s, Filter{File: "/srv/mynumber/roster.csv", Until: rec.incident.Add(-time.Minute)}, 0)
	if tl.Docs != 0 {
		t.Fatalf("%d documents before the incident", tl.Docs)
	}
}

func TestTimelineSeeds(t *testing.T) {
	rec := record(t, 500, 500)
	s := rec.store(t)
	// A directory: the database server's routine reads are in it too.
	tl, _ := FromStore(s, Filter{File: "/srv/mynumber/"}, 0)
	out := text(t, tl)
	inOrder(t, out, "postgres[", "/srv/mynumber/export-")
	// Not every other file the database server opens.
	if strings.Contains(out, "/var/lib/postgresql/17/main/base") {
		t.Fatalf("a file's story shows the server's unrelated opens:\n%s", out)
	}
	// The same again and again is one line with a count.
	collapsed := FromStoreT(t, s, Filter{File: "/srv/mynumber/export-03.csv"})
	if !strings.Contains(collapsed, "open     /srv/mynumber/export-03.csv  O_RDONLY|O_CLOEXEC  [protected]  (×") {
		t.Fatalf("repeated reads not collapsed:\n%s", collapsed)
	}
	inOrder(t, out, "cat[", "/srv/mynumber/roster.csv")

	// A user: tanaka's session and everything under it, not suzuki's.
	tl, _ = FromStore(s, Filter{User: "tanaka"}, 0)
	out = text(t, tl)
	inOrder(t, out, "bash[", "sudo[", "cat[", "cp[", "mv[", "curl[", "connect  tcp to 203.0.113.50:443")
	if strings.Contains(out, "suzuki") || strings.Contains(out, "postgres[") {
		t.Fatalf("other users in tanaka's timeline:\n%s", out)
	}
	// A pid, and the same process by entity id.
	var catPID int
	var catID string
	for _, line := range strings.Split(string(rec.jsonl), "\n") {
		if strings.Contains(line, `"command_line":"cat /srv/mynumber/roster.csv"`) {
			d, _ := Parse([]byte(line))
			catPID, catID = d.Process.PID, d.Process.EntityID
		}
	}
	byPID, _ := FromStore(s, Filter{PID: catPID}, 0)
	byID, _ := FromStore(s, Filter{EntityID: catID}, 0)
	procs := func(tl *Timeline) string {
		var j struct {
			Processes json.RawMessage `json:"processes"`
		}
		json.Unmarshal(jsonOf(t, tl), &j)
		return string(j.Processes)
	}
	if byPID.Docs < 4 || procs(byPID) != procs(byID) {
		t.Fatalf("pid %d: %d docs; entity %s: %d docs", catPID, byPID.Docs, catID, byID.Docs)
	}
	out = text(t, byPID)
	inOrder(t, out, "sudo[", "(parent, for context)", "cat[", "!! My Number: 40 people")
	// An alert about a process in the story is under it, after the
	// event that triggered it (the same @timestamp).
	var trigger string
	for _, line := range strings.Split(string(rec.jsonl), "\n") {
		if strings.Contains(line, `"command_line":"curl -T`) {
			trigger = line
		}
	}
	td, _ := Parse([]byte(trigger))
	alert := `{"@timestamp":"` + td.Timestamp.Format(time.RFC3339Nano) + `","event":{"kind":"alert","severity":47,"action":"exec"},"rule":{"name":"Upload tool run by a user who read protected data"},"process":{"entity_id":"` + td.Process.EntityID + `","pid":` + strconv.Itoa(td.Process.PID) + `}}`
	w, err := store.Open(store.Options{Dir: rec.dir})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([][]byte{[]byte(alert)})
	w.Close()
	s = rec.store(t)
	tl, _ = FromStore(s, Filter{File: "/srv/mynumber/roster.csv"}, 0)
	inOrder(t, text(t, tl), "curl[", "exec     /usr/bin/curl", "ALERT    Upload tool run by a user who read protected data (severity 47)")

	// Alerts are in the story of everything.
	tl, _ = FromStore(s, Filter{Since: rec.incident, Until: rec.incident.Add(10 * time.Second)}, 0)
	inOrder(t, text(t, tl), "ALERT", "Upload of protected data (severity 73)")
	// The document limit is said, not silent.
	tl, _ = FromStore(s, Filter{}, 10)
	if !tl.Truncated || tl.Docs != 10 || !strings.Contains(text(t, tl), "truncated") {
		t.Fatalf("limit: truncated %v docs %d", tl.Truncated, tl.Docs)
	}
}

// Nothing in the store directory holds the raw number the simulated user
// typed on a command line.
func TestNoRawMyNumberInStore(t *testing.T) {
	rec := record(t, 100, 100)
	if !bytes.Contains(rec.jsonl, []byte("****-****-****")) {
		t.Fatal("the simulated command line was not masked: the test does not test anything")
	}
	n := 0
	filepath.Walk(rec.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(b, []byte(storetest.MyNumber)) {
			t.Errorf("%s holds a raw My Number", p)
		}
		return nil
	})
	if n < 4 {
		t.Fatalf("only %d files", n)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"1h":                        now.Add(-time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"2026-11-22T09:00:00+09:00": time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		"2026-11-21T23:30:00Z":      time.Date(2026, 11, 21, 23, 30, 0, 0, time.UTC),
		"2026-11-22 09:00":          time.Date(2026, 11, 22, 9, 0, 0, 0, time.Local),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday", now); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad time: %v", err)
	}
}

func TestCleanTerminalOutput(t *testing.T) {
	d := &Doc{}
	d.Event.Action = "open"
	d.File.Path = "/tmp/\x1b[31mred\x07"
	if s := summary(d); strings.ContainsAny(s, "\x1b\x07") {
		t.Fatalf("control characters reach the terminal: %q", s)
	}
	d.File.Path = "/srv/日本語.csv"
	if s := summary(d); !strings.Contains(s, "日本語") {
		t.Fatalf("Japanese names are mangled: %q", s)
	}
}

func FromStoreT(t *testing.T, s *store.Store, f Filter) string {
	tl, err := FromStore(s, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	return text(t, tl)
}

// Documents read with --input may come from anywhere (another tool, an
// export edited by hand): a My Number in any string field, escaped or
// not, or written as a JSON number, is masked before the timeline shows
// the document, in text and in JSON. Only counts are printed on failure.
func TestInputNumbersMasked(t *testing.T) {
	const n1, n2 = "123456789018", "111111111118" // made up, valid check digits
	esc := ""
	for _, c := range n2 {
		esc += fmt.Sprintf(`\u%04x`, c)
	}
	lines := strings.Join([]string{
		`{"@timestamp":"2026-12-01T01:00:00Z","message":"read ` + n1 + `","event":{"kind":"event","action":"open","category":["file"]},` +
			`"process":{"entity_id":"p1","pid":10,"name":"cat","command_line":"cat /srv/` + n1 + `.csv","args":["cat","/srv/` + n1 + `.csv"]},` +
			`"file":{"path":"/srv/` + n1 + `.csv"},"labels":{"note":"` + n1 + `"},"x_number":` + n1 + `}`,
		`{"@timestamp":"2026-12-01T01:00:01Z","message":"` + esc + `","event":{"kind":"event","action":"open","category":["file"]},` +
			`"process":{"entity_id":"p1","pid":10,"name":"cat"},"file":{"path":"/srv/` + esc + `"}}`,
	}, "\n") + "\n"
	tl, err := FromJSONLines(strings.NewReader(lines), Filter{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl.ParseErrors != 0 || tl.Docs != 2 {
		t.Fatalf("%d parse errors, %d documents", tl.ParseErrors, tl.Docs)
	}
	raw := func(s string) int { return strings.Count(s, n1) + strings.Count(s, n2) }
	out := text(t, tl)
	js := string(jsonOf(t, tl))
	if c := raw(out); c != 0 {
		t.Errorf("text: %d raw My Numbers", c)
	}
	if c := raw(js); c != 0 || strings.Contains(js, `\u0031`) {
		t.Errorf("json: %d raw My Numbers (or an escaped one)", c)
	}
	if !strings.Contains(out, "****-****-****") || !strings.Contains(js, "****-****-****") {
		t.Error("nothing masked: the test does not test anything")
	}
}
