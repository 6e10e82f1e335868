package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// auditStep is auditd on one rate of the same load.
type auditStep struct {
	opsRate float64
	ops     int64
	secs    float64
	events  uint64 // audit events (one serial each) written to the log
	lost    uint64 // the kernel's lost counter
	cpuNS   uint64 // auditd and kauditd
}

func (a auditStep) cpuPerEvent() float64 {
	if a.events == 0 {
		return 0
	}
	return float64(a.cpuNS) / 1e3 / float64(a.events)
}

func auditStatus(key string) string {
	out, _ := exec.Command("auditctl", "-s").Output()
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

// auditdAlive: the audit daemon the kernel names is a live auditd (the
// kernel keeps the pid of one that was killed until it next sends).
func auditdAlive(pid string) bool {
	if pid == "" || pid == "0" {
		return false
	}
	comm, err := os.ReadFile("/proc/" + pid + "/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "auditd"
}

// auditdPeer runs the load under auditd with rules that record what the
// sensor records (reads and writes under the protected directory, writes
// to the export directory, every execve and connect), at the rates of the
// first series' zero-loss steps, and measures the CPU of auditd and the
// kernel's kauditd per audit event. It refuses to touch an audit
// subsystem someone else configured.
func (s *settings) auditdPeer(rep *report, scratch string) error {
	if _, err := exec.LookPath("auditctl"); err != nil {
		rep.auditNote = "auditd is not installed (bench/deps.sh auditd installs it)"
		return nil
	}
	if auditStatus("enabled") != "0" || auditdAlive(auditStatus("pid")) {
		rep.auditNote = "auditing is enabled or auditd runs on this host: left alone"
		return nil
	}
	if out, _ := exec.Command("auditctl", "-l").Output(); strings.TrimSpace(string(out)) != "No rules" {
		rep.auditNote = "audit rules are loaded on this host: left alone"
		return nil
	}
	logf("auditd peer")
	dir := filepath.Join(scratch, "auditd")
	work := filepath.Join(dir, "work")
	for _, d := range []string{filepath.Join(dir, "log"), filepath.Join(dir, "plugins.d"), filepath.Join(work, "protected"), filepath.Join(work, "out")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	os.WriteFile(filepath.Join(work, "protected", "roster.csv"), []byte("氏名,個人番号\n"), 0o600)
	logPath := filepath.Join(dir, "log", "audit.log")
	conf := fmt.Sprintf(`local_events = yes
write_logs = yes
log_file = %s
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 512
num_logs = 2
max_log_file_action = ROTATE
space_left = 75
space_left_action = IGNORE
admin_space_left = 50
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
q_depth = 2000
overflow_action = IGNORE
plugin_dir = %s
`, logPath, filepath.Join(dir, "plugins.d"))
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	daemon := exec.Command("auditd", "-n", "-s", "nochange", "-c", dir)
	if err := daemon.Start(); err != nil {
		return err
	}
	defer func() {
		exec.Command("auditctl", "-e", "0").Run()
		exec.Command("auditctl", "-D").Run()
		daemon.Process.Kill()
		daemon.Wait()
	}()
	for deadline := time.Now().Add(30 * time.Second); auditStatus("pid") != strconv.Itoa(daemon.Process.Pid); {
		if time.Now().After(deadline) {
			return fmt.Errorf("auditd did not register with the kernel")
		}
		time.Sleep(50 * time.Millisecond)
	}
	rules := [][]string{
		{"-b", "8192"},
		{"-w", filepath.Join(work, "protected"), "-p", "rwa", "-k", "bench"},
		{"-w", filepath.Join(work, "out"), "-p", "wa", "-k", "bench"},
		{"-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-k", "bench"},
		{"-a", "always,exit", "-F", "arch=b64", "-S", "connect", "-k", "bench"},
	}
	for _, r := range rules {
		if out, err := exec.Command("auditctl", r...).CombinedOutput(); err != nil {
			return fmt.Errorf("auditctl %s: %v: %s", strings.Join(r, " "), err, out)
		}
	}
	kauditd := strings.Fields(func() string { b, _ := exec.Command("pgrep", "-x", "kauditd").Output(); return string(b) }())
	cpu := func() uint64 {
		t := threadsCPU(daemon.Process.Pid)
		for _, p := range kauditd {
			n, _ := strconv.Atoi(p)
			t += threadsCPU(n)
		}
		return t
	}
	var rates []float64
	if len(rep.series) > 0 {
		ser := rep.series[0]
		for _, st := range ser.steps {
			if st.lost == 0 && !st.recovery {
				rates = append(rates, st.target/ser.docsPerOp)
			}
		}
	}
	if len(rates) == 0 {
		rates = []float64{500, 2000}
	}
	for _, opsRate := range rates {
		exec.Command("auditctl", "-e", "1").Run()
		lost0, _ := strconv.ParseUint(auditStatus("lost"), 10, 64)
		ev0 := auditEvents(logPath)
		c0 := cpu()
		t0 := time.Now()
		cmd := exec.Command(s.self, "load", work, strconv.FormatFloat(opsRate, 'f', 1, 64),
			strconv.FormatFloat(s.step.Seconds(), 'f', 1, 64), "2")
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("load under auditd: %v", err)
		}
		secs := time.Since(t0).Seconds()
		exec.Command("auditctl", "-e", "0").Run()
		for deadline := time.Now().Add(30 * time.Second); auditStatus("backlog") != "0" && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(time.Second) // auditd writes what kauditd handed it
		a := auditStep{opsRate: opsRate, secs: secs, cpuNS: cpu() - c0}
		a.ops, _ = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		a.events = auditEvents(logPath) - ev0
		lost1, _ := strconv.ParseUint(auditStatus("lost"), 10, 64)
		a.lost = lost1 - lost0
		rep.audit = append(rep.audit, a)
		logf("  auditd at %.0f ops/s: %d events, %.1f us CPU each, %d lost", opsRate, a.events, a.cpuPerEvent(), a.lost)
	}
	return nil
}

// auditEvents counts the audit events in the log: distinct serials, each
// event being several records (SYSCALL, PATH, CWD, PROCTITLE).
func auditEvents(path string) uint64 {
	var n uint64
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			// One SYSCALL record per event (the PATH, CWD and
			// PROCTITLE records of the same serial follow it).
			if strings.HasPrefix(sc.Text(), "type=SYSCALL ") {
				n++
			}
		}
		f.Close()
	}
	return n
}
