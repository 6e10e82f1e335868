package main

import (
	"bytes"
	"strings"
	"testing"
)

// A serial log as a VM writes it (abridged from real runs): boot
// messages, /init's markers, a probe, go test -v output with a verifier
// rejection, a kernel oops in the second package, and the dmesg dump.
const sampleLog = `[    3.335430] Run /init as init process
BKT start
BKT init uptime=3.61
BKT env kernel=6.12.95+deb12-cloud-amd64 nproc=1 mem_kb=2021008
BKT probe-begin uptime=3.70
bansho: kernel 6.12.95+deb12-cloud-amd64: kernel verifier rejected a program: load program: permission denied:
	0: R1=ctx() R10=fp0
	invalid bpf_context access off=8 size=8
	processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0

BKT probe-end rc=1 uptime=15.20
BKT begin pkg=sensor run=. timeout=600 uptime=15.30
=== RUN   TestDecodeExec
--- PASS: TestDecodeExec (0.00s)
=== RUN   TestProcessLifecycle
time=2026-12-06T15:58:17.281Z level=INFO msg="path changes traced with fentry on security_inode_* (no ctime tracepoints)"
    sensor_linux_test.go:104: start sensor: kernel verifier rejected a program: load program: permission denied:
        	0: R1=ctx() R10=fp0
        	invalid bpf_context access off=8 size=8
        	processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
--- FAIL: TestProcessLifecycle (8.10s)
=== RUN   TestFeaturesAndTailCalls
bansho-feature: kernel=6.12.95+deb12-cloud-amd64 object=default
bansho-feature: kernel=6.12.95+deb12-cloud-amd64 path_changes: off: fentry refused
bansho-budget: kernel=6.12.95+deb12-cloud-amd64 object=default program=on_exec insns=103338 stack=320 chain=on_exec
--- PASS: TestFeaturesAndTailCalls (15.00s)
=== RUN   TestSkipped
--- SKIP: TestSkipped (0.00s)
FAIL

BKT end pkg=sensor rc=1 uptime=40.00
BKT begin pkg=enrich run=. timeout=300 uptime=40.10
=== RUN   TestParseMountinfo
--- PASS: TestParseMountinfo (0.04s)
=== RUN   TestLoginUserSurvivesUserChanges
[   89.526952] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   89.534931] Oops: Oops: 0010 [#1] PREEMPT SMP NOPTI
[   89.535384] CPU: 0 UID: 0 PID: 200 Comm: enrich.test Tainted: G        W          6.12.95+deb12-cloud-amd64 #1
[   89.535962] RIP: 0010:0x0
[   89.537631] Call Trace:
[   89.538056]  <TASK>
[   89.538404]  ? common_perm_cond+0x4c/0x1f0
[   89.545225]  ? security_inode_getattr+0x56/0xf0
[   89.548742] ---[ end trace 0000000000000000 ]---
`

func TestParseLog(t *testing.T) {
	r := &kernelResult{Name: "6.12-bpo"}
	parseLog(r, sampleLog, []pkgSpec{{Name: "sensor"}, {Name: "enrich"}, {Name: "cmd"}})
	if r.BootUptime != 3.61 {
		t.Errorf("boot uptime %v", r.BootUptime)
	}
	if p := r.Probe; p == nil || p.RC != 1 || !strings.Contains(p.Error, "kernel verifier rejected") ||
		!strings.HasSuffix(p.Error, "verifier: invalid bpf_context access off=8 size=8") || int(p.Secs) != 11 {
		t.Errorf("probe %+v", r.Probe)
	}
	s := r.Pkgs[0]
	if s.status() != "failed" || s.Pass != 2 || s.Fail != 1 || s.Skip != 1 || s.Secs < 24.6 || s.Secs > 24.8 {
		t.Errorf("sensor %s %d/%d/%d %.2f s", s.status(), s.Pass, s.Fail, s.Skip, s.Secs)
	}
	if s.FirstFail != "TestProcessLifecycle" || len(s.FirstFailLines) != 4 ||
		!strings.HasPrefix(s.FirstFailLines[0], "sensor_linux_test.go:104: start sensor: kernel verifier rejected") {
		t.Errorf("first failure %s %q", s.FirstFail, s.FirstFailLines)
	}
	if s.Verifier != "invalid bpf_context access off=8 size=8" || len(s.LoadErrors) != 1 ||
		!strings.HasSuffix(s.LoadErrors[0], "/ verifier: invalid bpf_context access off=8 size=8") {
		t.Errorf("verifier %q, load errors %q", s.Verifier, s.LoadErrors)
	}
	if strings.Join(r.Features, "|") != "object=default|path_changes: off: fentry refused" {
		t.Errorf("features %q", r.Features)
	}
	if len(r.Budget) != 1 || r.Budget[0] != (budget{Object: "default", Program: "on_exec", Insns: 103338, Stack: 320}) {
		t.Errorf("budget %+v", r.Budget)
	}
	e := r.Pkgs[1]
	if e.status() != "incomplete" || e.Pass != 1 || e.FirstFail != "TestLoginUserSurvivesUserChanges (did not finish)" {
		t.Errorf("enrich %s %d first %q", e.status(), e.Pass, e.FirstFail)
	}
	if r.Pkgs[2].status() != "not run" {
		t.Errorf("cmd %s", r.Pkgs[2].status())
	}
	if len(r.Oopses) != 2 {
		t.Fatalf("%d kernel reports, want BUG and Oops: %+v", len(r.Oopses), r.Oopses)
	}
	want := "BUG: kernel NULL pointer dereference, address: 0000000000000000"
	if o := r.Oopses[0]; o.Headline != want {
		t.Errorf("first report %q", o)
	}
	if o := r.Oopses[1]; o.Comm != "enrich.test" || o.RIP != "0010:0x0" || strings.Join(o.Frames, " ") != "common_perm_cond security_inode_getattr" {
		t.Errorf("oops %+v", o)
	}
	if r.ok() {
		t.Error("a kernel with failures reported ok")
	}
	if got := featuresOff(r); strings.Join(got, ",") != "path_changes" {
		t.Errorf("features off %q", got)
	}
}

// The dmesg dump repeats what the console showed: one report, not two.
func TestParseLogOopsOnce(t *testing.T) {
	log := "BKT start\n[   5.0] WARNING: CPU: 0 PID: 1 at kernel/bpf/x.c:1 f+0x1/0x2\nBKT dmesg [   5.0] WARNING: CPU: 0 PID: 1 at kernel/bpf/x.c:1 f+0x1/0x2\nBKT done\n"
	r := &kernelResult{}
	parseLog(r, log, nil)
	if len(r.Oopses) != 1 {
		t.Errorf("%d reports: %+v", len(r.Oopses), r.Oopses)
	}
}

func TestNewcEntry(t *testing.T) {
	var b bytes.Buffer
	newcEntry(&b, "etc/x", 0o100644, []byte("abc"))
	s := b.String()
	// 110-byte header, "etc/x\0" padded to 4 from the start, "abc" padded.
	if !strings.HasPrefix(s, "070701") || len(s)%4 != 0 || !strings.Contains(s, "etc/x\x00") || !strings.Contains(s, "abc") {
		t.Errorf("entry %q", s)
	}
	if s[54:62] != "00000003" || s[94:102] != "00000006" {
		t.Errorf("filesize %q namesize %q", s[54:62], s[94:102])
	}
}
