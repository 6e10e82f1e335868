package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/incident"
	"github.com/bansho-sec/bansho/internal/testutil"
)

// cp of a protected roster of 300 people (about 12 KiB) to an unprotected
// directory: the kernel's sample and the read-back see the first 4 KiB; the
// sensor scans the copy whole once cp is done, and its content-scan
// document has exactly the roster's people. bansho incident then reports
// the flow exact, without --scan-sources.
func TestIncidentRestScanOfACopy(t *testing.T) {
	testutil.RequireBPF(t)
	prot, outside, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	numbers := myNumbers(300)
	roster := filepath.Join(prot, "roster.csv")
	incidentRoster(t, roster, numbers)
	truth := scanHashes(t, roster)
	sort.Strings(truth)
	st, err := os.Stat(roster)
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != 300 || st.Size() < 3*4096 {
		t.Fatalf("roster: %d people, %d bytes", len(truth), st.Size())
	}

	out := filepath.Join(tmp, "out", "events.json")
	os.MkdirAll(filepath.Dir(out), 0o700)
	p := runSensor(t, writeConfig(t, fileConfig(prot, out, "content:\n  hash_key: "+incidentKey+
		"\n  rest_scan:\n    settle: 500ms\nhealth:\n  interval: 1s\n")), out)

	dst := filepath.Join(outside, "copy.csv")
	start := time.Now()
	mustRun(t, "/bin/cp", roster, dst)
	doc := waitDoc(t, out, 10*time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "content-scan" && field(d, "file.path") == dst
	})
	if doc == nil {
		t.Fatalf("no content-scan document for the copy; stderr:\n%s", p.log())
	}
	t.Logf("content-scan document %v after cp", time.Since(start).Round(10*time.Millisecond))
	// What the write itself carried: the first 4 KiB.
	w := waitDoc(t, out, time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "write" && field(d, "file.path") == dst
	})
	if w != nil {
		t.Logf("write: %v bytes, %v sampled, %v people in the sample", field(w, "bansho.file.bytes"),
			field(w, "bansho.content.sampled_bytes"), field(w, "bansho.content.my_number.distinct"))
	}
	var got []string
	if hs, ok := field(doc, "bansho.content.my_number.hashes").([]any); ok {
		for _, h := range hs {
			got = append(got, h.(string))
		}
	}
	sort.Strings(got)
	if field(doc, "bansho.content.at_rest") != true || field(doc, "bansho.content.scanned_bytes") != float64(st.Size()) ||
		field(doc, "bansho.content.my_number.distinct") != float64(300) || field(doc, "process.name") != "cp" {
		t.Errorf("content-scan: at_rest %v, scanned %v of %d, distinct %v, process %v", field(doc, "bansho.content.at_rest"),
			field(doc, "bansho.content.scanned_bytes"), st.Size(), field(doc, "bansho.content.my_number.distinct"), field(doc, "process.name"))
	}
	if strings.Join(got, ",") != strings.Join(truth, ",") {
		t.Errorf("content-scan: %d hashes, not the roster's %d", len(got), len(truth))
	}
	time.Sleep(1500 * time.Millisecond) // a health document after it
	p.stop()
	var health map[string]any
	for _, d := range docs(t, out) {
		if field(d, "event.action") == "sensor-health" {
			health = d
		}
	}
	if health == nil || field(health, "bansho.health.counters.content_rest_scanned") == nil ||
		field(health, "bansho.health.counters.content_rest_scanned").(float64) < 1 {
		t.Errorf("health counters lack content_rest_scanned")
	}

	raw := runIncident(t, "--input", out, "--file", roster, "--format", "json")
	var rep incident.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	if got := flowSummary(&rep); len(got) != 1 || got[0] != "copy cp "+dst {
		t.Fatalf("flows %q", got)
	}
	f := rep.Flows[0]
	if !f.Complete || f.AtRestBytes != st.Size() || !f.Persons.Exact || f.Persons.Lower != 300 || f.Persons.Upper == nil || *f.Persons.Upper != 300 {
		t.Errorf("flow: complete %v, at rest %d, persons %+v", f.Complete, f.AtRestBytes, f.Persons)
	}
	if strings.Join(f.Hashes, ",") != strings.Join(truth, ",") {
		t.Errorf("flow: %d hashes, not the roster's", len(f.Hashes))
	}
	if !rep.Persons.Exact || rep.Persons.Lower != 300 {
		t.Errorf("persons %+v", rep.Persons)
	}
	t.Logf("incident: flow persons %+v; total %+v", f.Persons, rep.Persons)
	for _, b := range [][]byte{raw, mustRead(t, out)} {
		for _, n := range numbers {
			if strings.Contains(string(b), n) {
				t.Fatal("a raw My Number is in the output")
			}
		}
	}
}
