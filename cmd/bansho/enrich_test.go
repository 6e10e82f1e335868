package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/testutil"
)

// bansho run with the enrichment stage (the default): the open of a
// protected file by a shell's child carries the process tree, and the
// health documents the stage's counters; with enrich.enabled false the
// documents are the kernel record's only.
func TestRunEnrichedDocuments(t *testing.T) {
	testutil.RequireBPF(t)
	for _, enabled := range []bool{true, false} {
		prot := t.TempDir()
		roster := filepath.Join(prot, "roster.csv")
		os.WriteFile(roster, []byte("x\n"), 0o644)
		out := filepath.Join(t.TempDir(), "events.json")
		extra := ""
		if !enabled {
			extra = "enrich:\n  enabled: false\n"
		}
		p := runSensor(t, writeConfig(t, fileConfig(prot, out, "health:\n  interval: 1s\n"+extra)), out)
		if err := exec.Command("sh", "-c", `cat "$0" >/dev/null; true`, roster).Run(); err != nil {
			t.Fatal(err)
		}
		ev := waitDoc(t, out, 3*time.Second, func(d map[string]any) bool {
			return field(d, "event.action") == "open" && field(d, "file.path") == roster
		})
		health := waitDoc(t, out, 3*time.Second, func(d map[string]any) bool { return field(d, "event.action") == "sensor-health" })
		p.term()
		if ev == nil || health == nil {
			t.Fatalf("enabled %v: open %v health %v; stderr:\n%s", enabled, ev != nil, health != nil, p.log())
		}
		if enabled {
			if field(ev, "process.parent.name") != "sh" || field(ev, "process.executable") != "/usr/bin/cat" ||
				field(ev, "process.entry_leader.entity_id") == nil || field(ev, "process.entry_leader.entry_meta.type") == nil ||
				field(ev, "bansho.file.mount.fstype") == nil || field(ev, "user.name") != "root" {
				t.Errorf("enriched document: process %v bansho.file %v", field(ev, "process"), field(ev, "bansho.file"))
			}
			if n, _ := field(health, "bansho.health.counters.enrich_processes_live").(float64); n < 10 {
				t.Errorf("health counters: %v", field(health, "bansho.health.counters"))
			}
		} else if field(ev, "process.parent.name") != nil || field(ev, "process.entry_leader") != nil {
			t.Errorf("enrichment off, yet: %v", field(ev, "process"))
		}
	}
}
