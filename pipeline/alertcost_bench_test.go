package pipeline

import (
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/rules"
)

// BenchmarkAlertCost is what an alert costs next to an event (issue 14:
// an alert at most twice an event): the same enriched write of a tainted
// process, with content findings, through the rules, the encoder, the
// store (fsync on flush, as by default) and the file output, once to a
// path no rule matches and once to one a rule alerts on. The second
// writes two documents per event; alert-doc-cpu-ns is its cost beyond the
// first, i.e. the alert's own document.
func BenchmarkAlertCost(b *testing.B) {
	set, err := rules.Compile(map[string]string{"r.yaml": `
- rule: Export Outside
  desc: a tainted process wrote numbers under /srv/export.
  condition: event.action == "write" and bansho.file.tainted and under(file.path, ["/srv/export"])
  output: numbers written to %file.path by %process.name
  priority: warning
  tags: [safeguard.leak_prevention, mitre_exfiltration, T1048]
`}, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	sh := &event.ProcInfo{EntityID: "c2gtZW50aXR5LWlkLTAx", PID: 900, Start: time.Unix(1764540000, 0), Name: "bash",
		Executable: "/usr/bin/bash", Args: []string{"-bash"}, WorkingDirectory: "/home/tanaka", UserName: "tanaka", UID: 1000}
	app := &event.ProcInfo{EntityID: "YXBwLWVudGl0eS1pZC0wMg", PID: 4242, Start: time.Unix(1764547000, 0), Name: "export-job",
		Executable: "/opt/hr/bin/export-job", Args: []string{"/opt/hr/bin/export-job", "--format", "csv", "--out", "/srv/export"},
		WorkingDirectory: "/opt/hr", UserName: "hr", UID: 1001}
	var eventCPU float64
	for _, c := range []struct{ name, dir string }{{"event", "/srv/quiet/"}, {"alerting event", "/srv/export/"}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			st, err := store.Open(store.Options{Dir: filepath.Join(dir, "store"), Fsync: true, MaxBytes: 64 << 30, MinFreeBytes: 1})
			if err != nil {
				b.Fatal(err)
			}
			f, err := file.New(file.Options{Path: filepath.Join(dir, "events.json"), MaxBytes: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			p := &Pipeline{Encoder: &ecs.Encoder{Version: "bench"}, Exporters: []exporters.Exporter{st, f},
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rules: rules.NewEngine(set, rules.EngineOptions{})}
			b.Cleanup(p.Close)
			en := &event.Enrichment{Process: app, Parent: sh, SessionLeader: sh, GroupLeader: app, EntryLeader: sh,
				EntryType: "sshd", UserName: "hr", RealUserName: "hr", LoginUserName: "tanaka", GroupName: "hr"}
			hashes := []string{"463ba356a5ab0a219fe23bf952fd5b8a239eddaee13a21fa7ab5ecf32a57a5a9",
				"8cdaf1db421392584a3fa7425157438ef51c41f047e2609002a486645a0842b1",
				"fad51b8544ecdb0c819eeb6499671caa0994816122f9e0ae0d0410a2687431f6"}
			eng := p.Rules.(*rules.Engine)
			fired0 := eng.Alerts()
			cpu := runBatches(b, p, func(i int) *event.Event {
				return &event.Event{Op: event.OpFileWrite, Flags: event.FlagTainted, Time: time.Unix(1764547200, int64(i)),
					Proc: event.Process{PID: 4242, TID: 4242, PPID: 900, UID: 1001, EUID: 1001, GID: 1001, EGID: 1001, AUID: 1000,
						SessionID: 3, SID: 900, PGID: 4242, StartBoot: 7e9, ParentStartBoot: 1e9, Comm: "export-job"},
					File: &event.File{Syscall: 1, Ret: 600, FD: 6, Count: 600, Dev: 254 << 20, Ino: uint64(1e6 + i%1000),
						IMode: 0o100600, Path: c.dir + "export-" + strconv.Itoa(i) + ".csv"},
					Content: &event.Content{MyNumber: event.Finding{Distinct: 3, Occurrences: 3, Confidence: "high",
						Hashes: hashes, Encodings: []string{"ascii"}, Layouts: []string{"csv-field"}}, SampledBytes: 600,
						PIITypes: []string{"name", "birth_date"}},
					Enriched: en}
			})
			alerts := eng.Alerts() - fired0
			if c.dir == "/srv/quiet/" {
				if alerts != 0 {
					b.Fatalf("%d alerts on writes no rule matches", alerts)
				}
				eventCPU = cpu
				return
			}
			if alerts != uint64(b.N) {
				b.Fatalf("%d alerts for %d writes", alerts, b.N)
			}
			if eventCPU > 0 {
				b.ReportMetric(cpu-eventCPU, "alert-doc-cpu-ns")
				b.ReportMetric((cpu-eventCPU)/eventCPU, "alert/event")
			}
		})
	}
}
