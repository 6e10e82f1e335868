package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bansho-sec/bansho/internal/testutil"
)

var listenRE = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// startSensor runs the binary on a config with metrics on a free port and
// waits for /readyz.
func startSensor(t *testing.T, prot, extra string) *sensorProc {
	t.Helper()
	testutil.RequireBPF(t)
	out := filepath.Join(t.TempDir(), "out", "events.json")
	p := launch(t, writeConfig(t, fileConfig(prot, out, "health:\n  interval: 1s\nmetrics:\n  listen: 127.0.0.1:0\n"+extra)), out)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if p.addr == "" {
			if m := listenRE.FindStringSubmatch(p.log()); m != nil {
				p.addr = m[1]
			}
		}
		if p.addr != "" {
			if code, _ := p.get("/readyz"); code == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sensor not ready within 30s; stderr:\n%s", p.log())
	return nil
}

func (p *sensorProc) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape parses the text exposition format into "name{labels}" -> value.
func (p *sensorProc) scrape() map[string]float64 {
	p.t.Helper()
	code, body := p.get("/metrics")
	if code != 200 {
		p.t.Fatalf("/metrics: %d %s", code, body)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			p.t.Fatalf("metric line %q: %v", l, err)
		}
		m[l[:i]] = v
	}
	return m
}

// allDocs reads the output with its rotated backups, oldest first: a busy
// host (another test suite, a benchmark) can write more than max_bytes
// during a test.
func allDocs(t *testing.T, out string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for i := 9; i >= 1; i-- {
		all = append(all, docs(t, fmt.Sprintf("%s.%d", out, i))...)
	}
	return append(all, docs(t, out)...)
}

// waitAll is waitDoc over the output and its rotated backups.
func waitAll(t *testing.T, out string, within time.Duration, pred func(map[string]any) bool) map[string]any {
	t.Helper()
	return waitIn(func() []map[string]any { return allDocs(t, out) }, within, pred)
}

// isKernelEvent: a document made from a kernel record (not health, state
// or a userspace alert).
func isKernelEvent(d map[string]any) bool {
	return field(d, "event.kind") == "event"
}

// checkAccounting: every record the sensor counted as received is in the
// output unless counted as dropped, and the final health document counts
// exactly the documents before it.
func checkAccounting(t *testing.T, out string) (all []map[string]any, received float64) {
	t.Helper()
	all = allDocs(t, out)
	if len(all) < 2 || field(all[len(all)-1], "event.action") != "sensor-stopped" {
		t.Fatalf("output does not end with sensor-stopped (%d documents)", len(all))
	}
	h := all[len(all)-2]
	if field(h, "event.action") != "sensor-health" {
		t.Fatalf("the document before sensor-stopped is %v", field(h, "event.action"))
	}
	kernel := 0
	for _, d := range all {
		if isKernelEvent(d) {
			kernel++
		}
	}
	// A rotation past max_backups removes the oldest file, and with it the
	// run's first document: then the counts below cannot match, and the
	// cause is the rotation, not a loss in the pipeline.
	removed := field(h, "bansho.health.counters.file_removed_files")
	if field(all[0], "event.action") != "sensor-started" {
		t.Errorf("the output does not begin with sensor-started (rotation removed %v files)", removed)
	} else if removed != 0.0 {
		t.Errorf("the output begins with sensor-started, yet rotation removed %v files", removed)
	}
	received = field(h, "bansho.health.events.received").(float64)
	lost := field(h, "bansho.health.drops.queue_full").(float64) + field(h, "bansho.health.drops.decode_error").(float64)
	// Fold windows that userspace closed (not the kernel) yield summaries
	// that no ring buffer record carried.
	swept := field(h, "bansho.health.counters.fold_swept").(float64)
	if float64(kernel) != received-lost+swept {
		t.Errorf("%d kernel events in the output; the sensor received %.0f, dropped %.0f after reading and swept %.0f fold summaries",
			kernel, received, lost, swept)
	}
	if emitted := field(h, "bansho.health.events.emitted").(float64); emitted != float64(len(all)-2) {
		t.Errorf("final health says %.0f documents emitted, %d precede it", emitted, len(all)-2)
	}
	if t.Failed() {
		t.Logf("final health: drops %v, output_errors %v, counters %v", field(h, "bansho.health.drops"),
			field(h, "bansho.health.output_errors"), field(h, "bansho.health.counters"))
		files, _ := filepath.Glob(out + "*")
		for _, f := range files {
			if st, err := os.Stat(f); err == nil {
				t.Logf("%s: %d bytes", f, st.Size())
			}
		}
	}
	return all, received
}

// The metrics endpoint during a run: counters match what is in the output.
func TestMetricsMatchEvents(t *testing.T) {
	prot := t.TempDir()
	p := startSensor(t, prot, "")
	if code, body := p.get("/healthz"); code != 200 || !strings.Contains(body, "reader: ok") || !strings.Contains(body, "pipeline: ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	const n = 20
	for i := 0; i < n; i++ {
		f := filepath.Join(prot, fmt.Sprintf("roster-%d.csv", i))
		if err := exec.Command("/bin/sh", "-c", "echo 氏名 > "+f+"; cat "+f+" >/dev/null").Run(); err != nil {
			t.Fatal(err)
		}
	}
	opens := func(all []map[string]any) int {
		c := 0
		for _, d := range all {
			if isKernelEvent(d) && field(d, "event.action") == "open" && strings.HasPrefix(fmt.Sprint(field(d, "file.path")), prot+"/roster-") {
				c++
			}
		}
		return c
	}
	deadline := time.Now().Add(10 * time.Second)
	for opens(allDocs(t, p.out)) < 2*n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	before := allDocs(t, p.out)
	m := p.scrape()
	time.Sleep(1500 * time.Millisecond) // past a flush
	after := allDocs(t, p.out)
	if got := opens(before); got != 2*n {
		t.Fatalf("%d opens of the roster files in the output, want %d", got, 2*n)
	}
	kernelBefore := 0
	for _, d := range before {
		if isKernelEvent(d) {
			kernelBefore++
		}
	}
	written := m[`bansho_output_documents_written_total{output="file"}`]
	t.Logf("scrape: read %.0f, queued %.0f, encoded %.0f, written %.0f; file had %d documents before, %d after",
		m["bansho_sensor_events_read_total"], m["bansho_sensor_events_queued_total"],
		m["bansho_pipeline_documents_encoded_total"], written, len(before), len(after))
	if written < float64(len(before)) || written > float64(len(after)) {
		t.Errorf("documents_written_total %.0f outside the file's %d..%d documents", written, len(before), len(after))
	}
	if r := m["bansho_sensor_events_read_total"]; r < float64(kernelBefore) || r == 0 {
		t.Errorf("events_read_total %.0f below the %d kernel events already in the file", r, kernelBefore)
	}
	if m["bansho_pipeline_documents_encoded_total"] < written {
		t.Errorf("encoded %.0f < written %.0f", m["bansho_pipeline_documents_encoded_total"], written)
	}
	for _, k := range []string{`bansho_sensor_drops_total{cause="ringbuf_full"}`, `bansho_sensor_drops_total{cause="queue_full"}`,
		`bansho_sensor_drops_total{cause="output_lost"}`, "bansho_sensor_user_read_failures_total",
		"bansho_sensor_ringbuf_size_bytes", "bansho_sensor_ringbuf_pending_bytes", "bansho_sensor_queue_capacity",
		"bansho_content_scans_total", `bansho_health_ready{condition="probes_attached"}`, "go_goroutines",
		"process_resident_memory_bytes", "bansho_self_programs_detached"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	if m["bansho_sensor_ringbuf_size_bytes"] != 8<<20 || m["bansho_self_programs_detached"] != 0 {
		t.Errorf("ring size %.0f, detached %.0f", m["bansho_sensor_ringbuf_size_bytes"], m["bansho_self_programs_detached"])
	}
	p.stop()
	_, received := checkAccounting(t, p.out)
	if received < m["bansho_sensor_events_read_total"] {
		t.Errorf("final received %.0f below the scraped %.0f", received, m["bansho_sensor_events_read_total"])
	}
}

// SIGTERM while a process floods protected files: the sensor detaches,
// drains and exits 0, and every received event is in the output.
func TestSigtermDuringLoad(t *testing.T) {
	prot := t.TempDir()
	// Every call its own record, so the output can be checked against the
	// records received one for one (folded calls come back as summaries
	// that no record stands for; sensor/fold_linux_test.go counts those).
	p := startSensor(t, prot, "sensor:\n  fold_window: 0s\n")
	load := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 20000 ]; do echo $i > "$0/f$((i % 50))"; i=$((i+1)); done`, prot)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	defer load.Process.Kill()
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	p.stop()
	took := time.Since(start)
	load.Process.Kill()
	load.Wait()
	all, received := checkAccounting(t, p.out)
	writes := 0
	for _, d := range all {
		if field(d, "event.action") == "open" && strings.HasPrefix(fmt.Sprint(field(d, "file.path")), prot+"/f") {
			writes++
		}
	}
	t.Logf("stopped in %v; %.0f records received, %d opens of the load's files in the output", took.Round(time.Millisecond), received, writes)
	if writes < 100 {
		t.Errorf("only %d opens of the load's files: the load did not run under the sensor", writes)
	}
	if !strings.Contains(p.log(), "msg=drained") {
		t.Errorf("no drained log line:\n%s", p.log())
	}
}

// blockedSensor runs the sensor with a FIFO as its output file that is
// opened for reading and never read: once the pipe holds 64 KiB the
// output blocks, and with it the pipeline.
func blockedSensor(t *testing.T, extra string) (*exec.Cmd, *sensorProc) {
	t.Helper()
	testutil.RequireBPF(t)
	prot := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "events.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rd, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	p := launch(t, writeConfig(t, fileConfig(prot, fifo, "health:\n  interval: 1s\n  stall_after: 1s\nmetrics:\n  listen: 127.0.0.1:0\n"+extra)), fifo)
	deadline := time.Now().Add(30 * time.Second)
	p.waitLog("sensor running", 30*time.Second)
	for {
		n, err := unix.IoctlGetInt(int(rd.Fd()), unix.TIOCINQ) // FIONREAD
		if err != nil {
			t.Fatal(err)
		}
		if n >= 60<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipe holds only %d bytes; stderr:\n%s", n, p.log())
		}
		exec.Command("/bin/true").Run()
	}
	if m := listenRE.FindStringSubmatch(p.log()); m != nil {
		p.addr = m[1]
	}
	return p.cmd, p
}

// An output that blocks forever: /healthz says the pipeline is stalled,
// and SIGTERM ends in exit 1 within shutdown.timeout, naming what did not
// drain.
func TestShutdownTimeoutNamesWhatIsStuck(t *testing.T) {
	cmd, stderr := blockedSensor(t, "shutdown:\n  timeout: 2s\n")
	code, body := 0, ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if code, body = stderr.get("/healthz"); code == 503 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 503 || !strings.Contains(body, "pipeline: stalled") {
		t.Errorf("/healthz with a blocked output: %d %q", code, body)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	took := time.Since(start)
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; stderr:\n%s", err, stderr.log())
	}
	if took > 4*time.Second {
		t.Errorf("took %v, want about the 2s timeout", took)
	}
	if !strings.Contains(stderr.log(), "shutdown: did not drain within 2s") {
		t.Errorf("stderr does not name the timeout:\n%s", stderr.log())
	}
	t.Logf("exit 1 after %v: %s", took.Round(time.Millisecond), lastLine(stderr.log()))
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// A second signal exits at once, without waiting for the drain (which
// cannot finish here: the output blocks, and the timeout is a minute).
func TestSecondSignalExitsAtOnce(t *testing.T) {
	cmd, p := blockedSensor(t, "shutdown:\n  timeout: 60s\n")
	cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 || !strings.Contains(p.log(), "bansho: second terminated: exiting without draining") {
			t.Errorf("exit %v; stderr:\n%s", err, p.log())
		}
		t.Logf("exit 1 %v after the second signal: %s", time.Since(start).Round(time.Millisecond), lastLine(p.log()))
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after the second SIGTERM")
	}
}

const ptraceSensorPy = `
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
if libc.ptrace(0x4206, pid, None, None) == 0:  # PTRACE_SEIZE
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
`

// Self-protection end to end: signals and ptrace from other processes,
// and modification (not reading) of the sensor's own configuration.
func TestSelfProtection(t *testing.T) {
	prot := t.TempDir()
	p := startSensor(t, prot, "")
	pid := strconv.Itoa(p.cmd.Process.Pid)
	cfgFile := p.cmd.Args[3]
	started := waitAll(t, p.out, time.Second, func(d map[string]any) bool { return field(d, "event.action") == "sensor-started" })
	det, _ := field(started, "bansho.state.details").(map[string]any)
	guarded := fmt.Sprint(det)
	if !strings.Contains(guarded, cfgFile+" (sensor's own)") || !strings.Contains(guarded, "/usr/bin") {
		t.Errorf("sensor-started details do not list the integrity paths: %v", det)
	}

	kill := exec.Command("/usr/bin/kill", "-USR1", pid)
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("kill: %v %s", err, out)
	}
	sig := waitAll(t, p.out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "signal" && field(d, "process.pid") == float64(kill.Process.Pid)
	})
	if sig == nil {
		t.Fatalf("no signal event for kill %d", kill.Process.Pid)
	}
	if field(sig, "process.name") != "kill" || field(sig, "bansho.signal.name") != "SIGUSR1" ||
		field(sig, "bansho.self_target") != true || field(sig, "bansho.target.pid") != float64(p.cmd.Process.Pid) {
		t.Errorf("signal event: process %v signal %v self %v target %v", field(sig, "process.name"),
			field(sig, "bansho.signal.name"), field(sig, "bansho.self_target"), field(sig, "bansho.target.pid"))
	}
	if code, _ := p.get("/healthz"); code != 200 {
		t.Errorf("sensor unhealthy after SIGUSR1: %d", code)
	}

	py := exec.Command("python3", "-c", ptraceSensorPy, pid)
	if out, err := py.CombinedOutput(); err != nil {
		t.Fatalf("python: %v %s", err, out)
	}
	if waitAll(t, p.out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "ptrace" && field(d, "process.pid") == float64(py.Process.Pid) &&
			field(d, "bansho.ptrace.request_name") == "PTRACE_SEIZE" && field(d, "bansho.self_target") == true
	}) == nil {
		t.Errorf("no ptrace event for python %d", py.Process.Pid)
	}

	cat := exec.Command("/bin/cat", cfgFile)
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	edit := exec.Command("/bin/sh", "-c", "echo '# edited' >> "+cfgFile)
	if err := edit.Run(); err != nil {
		t.Fatal(err)
	}
	ev := waitAll(t, p.out, 5*time.Second, func(d map[string]any) bool {
		return field(d, "event.action") == "open" && field(d, "file.path") == cfgFile && field(d, "process.pid") == float64(edit.Process.Pid)
	})
	if ev == nil {
		t.Fatalf("no event for the edit of %s", cfgFile)
	}
	if field(ev, "bansho.file.integrity") != true || field(ev, "bansho.self_target") != true || field(ev, "bansho.file.protected") != false {
		t.Errorf("edit of the configuration: integrity %v self %v protected %v", field(ev, "bansho.file.integrity"),
			field(ev, "bansho.self_target"), field(ev, "bansho.file.protected"))
	}
	p.stop()
	for _, d := range allDocs(t, p.out) {
		if field(d, "process.pid") == float64(cat.Process.Pid) && field(d, "file.path") != nil {
			t.Errorf("reading the configuration was reported: %v %v", field(d, "event.action"), field(d, "file.path"))
		}
	}
}

// An intruder with ptrace rights closes the sensor's link on
// sched_process_exec (test/selfprotect/close_fd.py injects close(fd)):
// the next health tick writes a bpf-detach alert, and the metrics say so.
func TestDetachAlert(t *testing.T) {
	prot := t.TempDir()
	p := startSensor(t, prot, "")
	script, _ := filepath.Abs("../../test/selfprotect/close_fd.py")
	out, err := exec.Command("python3", script, strconv.Itoa(p.cmd.Process.Pid), "sched_process_exec").CombinedOutput()
	if err != nil {
		t.Fatalf("close_fd.py: %v %s", err, out)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[1] != "0" {
		t.Fatalf("close in the sensor: %q", out)
	}
	alert := waitAll(t, p.out, 5*time.Second, func(d map[string]any) bool { return field(d, "event.action") == "bpf-detach" })
	if alert == nil {
		t.Fatalf("no bpf-detach alert; stderr:\n%s", p.log())
	}
	det, _ := field(alert, "bansho.self.detached").([]any)
	if field(alert, "event.kind") != "alert" || field(alert, "bansho.self_target") != true ||
		len(det) != 1 || !strings.HasPrefix(fmt.Sprint(det[0]), "on_exec (tracepoint sched_process_exec)") {
		t.Errorf("alert: kind %v self %v detached %v", field(alert, "event.kind"), field(alert, "bansho.self_target"), det)
	}
	m := p.scrape()
	if m["bansho_self_programs_detached"] != 1 || m["bansho_self_detach_alerts_total"] != 1 {
		t.Errorf("detached %v alerts %v", m["bansho_self_programs_detached"], m["bansho_self_detach_alerts_total"])
	}
	// One alert per program, not one per tick.
	time.Sleep(2500 * time.Millisecond)
	n := 0
	for _, d := range allDocs(t, p.out) {
		if field(d, "event.action") == "bpf-detach" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d bpf-detach alerts after three ticks, want 1", n)
	}
	p.stop()
}

// Under systemd (Type=notify, WatchdogSec): READY=1 once running,
// WATCHDOG=1 pings, STOPPING=1 at SIGTERM, on a real notify socket.
func TestSDNotify(t *testing.T) {
	testutil.RequireBPF(t)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	prot := t.TempDir()
	out := filepath.Join(t.TempDir(), "events.json")
	p := launch(t, writeConfig(t, fileConfig(prot, out, "metrics:\n  listen: ''\n")), out, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	next := func(want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m := <-msgs:
				if m == want {
					return
				}
			case <-timeout:
				t.Fatalf("no %s on the notify socket", want)
			}
		}
	}
	next("READY=1")
	if waitAll(t, out, time.Second, func(d map[string]any) bool { return field(d, "event.action") == "sensor-started" }) == nil {
		t.Error("READY=1 before the sensor-started document")
	}
	next("WATCHDOG=1") // every 500ms with WatchdogSec=1s
	next("WATCHDOG=1")
	p.cmd.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

// What the file output's rotation deletes is counted in the health
// documents: with 4 KiB files and one backup, most of a run is removed,
// and the counts say how much.
func TestFileRotationRemovalsCounted(t *testing.T) {
	testutil.RequireBPF(t)
	prot := t.TempDir()
	out := filepath.Join(t.TempDir(), "out", "events.json")
	p := launch(t, writeConfig(t, fileConfig(prot, out, "")), out,
		"BANSHO_OUTPUTS_FILE_MAX_BYTES=4096", "BANSHO_OUTPUTS_FILE_MAX_BACKUPS=1")
	if waitAll(t, out, startWait(), func(d map[string]any) bool { return field(d, "event.action") == "sensor-started" }) == nil {
		t.Fatalf("no sensor-started document; stderr:\n%s", p.log())
	}
	for i := 0; i < 20; i++ {
		mustRun(t, "/bin/sh", "-c", fmt.Sprintf("echo %d > %s/f%d", i, prot, i))
	}
	p.stop()
	all := allDocs(t, out)
	if len(all) < 2 || field(all[len(all)-2], "event.action") != "sensor-health" {
		t.Fatalf("no final health document (%d documents)", len(all))
	}
	h := all[len(all)-2]
	files, bytes := field(h, "bansho.health.counters.file_removed_files"), field(h, "bansho.health.counters.file_removed_bytes")
	t.Logf("removed %v files, %v bytes; %d documents kept", files, bytes, len(all))
	if f, _ := files.(float64); f < 1 {
		t.Errorf("file_removed_files %v after more than two files of output", files)
	}
	if b, _ := bytes.(float64); b < 4096*0.5 {
		t.Errorf("file_removed_bytes %v", bytes)
	}
	if _, err := os.Stat(out + ".2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a second backup exists with max_backups 1")
	}
}
