package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/internal/store/storetest"
)

// checkRecordedStore looks at the store a real sensor run wrote: every
// document of the output file is in it, verify passes, and the timeline
// of the touched file shows the touch process.
func checkRecordedStore(t *testing.T, dir, file string, pid int, docs, alerts int) {
	t.Helper()
	out, err := exec.Command(binary, "store", "verify", "--store", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK: store") {
		t.Fatalf("store verify after a run: %v\n%s", err, out)
	}
	s, err := store.OpenReadOnly(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Head(store.StreamEvents); got != uint64(docs) {
		t.Errorf("the store holds %d routine documents, the output file %d", got, docs)
	}
	if got := s.Head(store.StreamAlerts); got != uint64(alerts) {
		t.Errorf("the store holds %d alerts, the output file %d", got, alerts)
	}
	// The health documents carry the store's counters.
	var last []byte
	s.Scan(store.Query{Stream: store.StreamEvents}, func(r store.Record) error {
		if bytes.Contains(r.Doc, []byte(`"sensor-health"`)) {
			last = append(last[:0], r.Doc...)
		}
		return nil
	})
	if !bytes.Contains(last, []byte(`"store_written":`)) || !bytes.Contains(last, []byte(`"store_evicted_undelivered":0`)) {
		t.Errorf("last health document without store counters: %s", last)
	}
	out, err = exec.Command(binary, "timeline", "--store", dir, "--file", file, "--format", "json").Output()
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	var tl struct {
		Processes []struct {
			PID      int `json:"pid"`
			Children []struct {
				PID int `json:"pid"`
			} `json:"children"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(out, &tl); err != nil {
		t.Fatalf("timeline json: %v\n%s", err, out)
	}
	found := false
	for _, p := range tl.Processes {
		found = found || p.PID == pid
		for _, c := range p.Children {
			found = found || c.PID == pid
		}
	}
	if !found {
		t.Errorf("timeline of %s does not show touch (pid %d):\n%s", file, pid, out)
	}
}

// A store written by the real encoder, then damaged: verify exits 1 and
// names the segment, the record and its offset; stat and timeline still
// work.
func TestStoreVerifyCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := store.Open(store.Options{Dir: dir, SegmentBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	sim := storetest.New(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 3, func(d []byte) {
		batch = append(batch, append([]byte(nil), d...))
	})
	noise := sim.NewNoise()
	for i := 0; i < 2000; i++ {
		noise.Step()
		sim.Advance(time.Second)
	}
	sim.Incident(noise.SSHD())
	if err := s.Write(batch); err != nil {
		t.Fatal(err)
	}
	c, _ := s.LoadCursors("kafka")
	c[store.StreamEvents] = 100
	s.SaveCursors("kafka", c)
	s.Close()

	// The metrics the /metrics endpoint serves.
	ro, _ := store.OpenReadOnly(dir, nil)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(ro.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"bansho_store_records", "bansho_store_evictions_total", "bansho_store_torn_tails_total",
		"bansho_store_refused_total", "bansho_store_consumer_lag_records", "bansho_store_bytes_written_total"} {
		if !names[want] {
			t.Errorf("metric %s missing (have %v)", want, names)
		}
	}

	out, err := exec.Command(binary, "store", "verify", "--store", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK: store "+dir+" is intact") || !strings.Contains(string(out), "events: last record "+strconv.Itoa(len(batch))) {
		t.Fatalf("verify of a sound store: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "store", "stat", "--store", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "events") || !strings.Contains(string(out), "kafka") ||
		!strings.Contains(string(out), strconv.Itoa(len(batch)-99)) {
		t.Fatalf("stat: %v\n%s", err, out)
	}

	// dump gives back every document, and timeline --input over it tells
	// the same story as over the store.
	dump, err := exec.Command(binary, "store", "dump", "--store", dir).Output()
	if err != nil || bytes.Count(dump, []byte("\n")) != len(batch) || !bytes.Equal(dump[:len(batch[0])], batch[0]) {
		t.Fatalf("dump: %v, %d lines of %d", err, bytes.Count(dump, []byte("\n")), len(batch))
	}
	dumpFile := filepath.Join(t.TempDir(), "dump.json")
	os.WriteFile(dumpFile, dump, 0o600)
	a, err1 := exec.Command(binary, "timeline", "--store", dir, "--file", "/srv/mynumber/roster.csv", "--format", "json").Output()
	b2, err2 := exec.Command(binary, "timeline", "--input", dumpFile, "--file", "/srv/mynumber/roster.csv", "--format", "json").Output()
	if err1 != nil || err2 != nil || !bytes.Equal(a, b2) || !bytes.Contains(a, []byte(`"name": "curl"`)) {
		t.Fatalf("timeline from the store and from its dump differ (%v, %v):\n%s\n---\n%s", err1, err2, a, b2)
	}

	// Flip a byte inside a document of the third segment.
	segs, _ := filepath.Glob(filepath.Join(dir, "events", "*.seg"))
	victim := segs[2]
	b, _ := os.ReadFile(victim)
	off := bytes.Index(b[200:], []byte(`"@timestamp"`)) + 200
	b[off+5] ^= 1
	os.WriteFile(victim, b, 0o600)

	cmd := exec.Command(binary, "store", "verify", "--store", dir)
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("verify of a damaged store exited %d: %v\n%s", cmd.ProcessState.ExitCode(), err, out)
	}
	if !strings.Contains(string(out), "DAMAGED "+victim+": offset ") || !strings.Contains(string(out), ": record ") ||
		!strings.Contains(string(out), "checksum mismatch") || !strings.Contains(string(out), "1 problems found") {
		t.Fatalf("verify output does not name the damage:\n%s", out)
	}
	// The timeline still tells the story, from the intact records.
	out, err = exec.Command(binary, "timeline", "--store", dir, "--file", "/srv/mynumber/roster.csv", "--utc").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "curl[") || !strings.Contains(string(out), "My Number: 1000 people") {
		t.Fatalf("timeline: %v\n%s", err, out)
	}
	// Bad input is a usage error naming the flag.
	cmd = exec.Command(binary, "timeline", "--store", dir, "--since", "yesterday")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--since") {
		t.Fatalf("bad --since: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	out, err = exec.Command(binary, "store", "verify", "--store", "/nonexistent/store").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/nonexistent/store") {
		t.Fatalf("missing store: %v\n%s", err, out)
	}
}
