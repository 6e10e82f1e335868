package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/bansho-sec/bansho/test/backends"
)

// sensor is a running `bansho run` under measurement.
type sensor struct {
	cmd      *exec.Cmd
	addr     string // metrics endpoint
	backends *backends.Env
	log      string
	done     chan error
}

// startSensor writes the protected roster and a configuration into dir
// and starts the sensor on it; it returns once /readyz answers 200.
func startSensor(s *settings, dir string, exporters bool) (*sensor, error) {
	for _, d := range []string{"protected", "out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	var roster strings.Builder
	roster.WriteString("氏名,生年月日,個人番号\n")
	for i, n := range myNumbers(300) {
		fmt.Fprintf(&roster, "従業員%03d,1980-01-%02d,%s\n", i, 1+i%28, n)
	}
	if err := os.WriteFile(filepath.Join(dir, "protected", "roster.csv"), []byte(roster.String()), 0o600); err != nil {
		return nil, err
	}
	port, err := backends.FreePort()
	if err != nil {
		return nil, err
	}
	sen := &sensor{addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "sensor.log"), done: make(chan error, 1)}
	cfg := fmt.Sprintf(`protect:
  paths: [%s]
outputs:
  stdout: {enabled: false}
  file: {path: %s}
store:
  dir: %s
metrics:
  listen: %s
content:
  hash_key: %s
`, filepath.Join(dir, "protected"), filepath.Join(dir, "sensor-out", "events.json"), filepath.Join(dir, "store"), sen.addr, strings.Repeat("5a", 16))
	if exporters {
		be, err := backends.Start("kafka", "es")
		if err != nil {
			return nil, err
		}
		sen.backends = be
		cfg = strings.Replace(cfg, "outputs:\n", fmt.Sprintf(`outputs:
  kafka:
    enabled: true
    brokers: [%q]
    allow_auto_topic_creation: true
  elasticsearch:
    enabled: true
    addresses: [%q]
    template: {install: false}
`, be.Kafka, be.ES), 1)
	}
	cfgPath := filepath.Join(dir, "bansho.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(sen.log)
	if err != nil {
		return nil, err
	}
	sen.cmd = exec.Command(s.bansho, "run", "--config", cfgPath)
	sen.cmd.Stdout, sen.cmd.Stderr = logf, logf
	if s.profile {
		sen.cmd.Env = append(os.Environ(), "BANSHO_CPUPROFILE="+filepath.Join(s.results, "throughput-cpu.prof"))
	}
	if err := sen.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { sen.done <- sen.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-sen.done:
			b, _ := os.ReadFile(sen.log)
			return nil, fmt.Errorf("the sensor exited at start (%v):\n%s", err, b)
		default:
		}
		if resp, err := http.Get("http://" + sen.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return sen, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	sen.stop()
	return nil, fmt.Errorf("the sensor was not ready within 60 s; see %s", sen.log)
}

// stop ends the sensor with SIGTERM (it drains) and the back ends.
func (sen *sensor) stop() error {
	if sen.cmd == nil {
		return nil
	}
	sen.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-sen.done:
	case <-time.After(60 * time.Second):
		sen.cmd.Process.Kill()
		err = <-sen.done
		err = fmt.Errorf("did not stop within 60 s (%v)", err)
	}
	sen.cmd = nil
	if sen.backends != nil {
		sen.backends.Close()
	}
	if err != nil {
		return fmt.Errorf("the sensor: %v; see %s", err, sen.log)
	}
	return nil
}

// backlog is what the sensor has not written yet: events in the pipeline
// queue and bytes in the ring buffer.
func (sen *sensor) backlog() (queue, ring float64, err error) {
	fams, err := sen.scrape()
	if err != nil {
		return 0, 0, err
	}
	each(fams, "bansho_sensor_queue_length", "", func(_ string, v float64) { queue = v })
	each(fams, "bansho_sensor_ringbuf_pending_bytes", "", func(_ string, v float64) { ring = v })
	return queue, ring, nil
}

// scrape reads the sensor's /metrics.
func (sen *sensor) scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + sen.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tp expfmt.TextParser
	fams, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("the sensor's /metrics: %w", err)
	}
	return fams, nil
}

// each calls fn with every series of the family name: the value of its
// label by ("" for none) and its value.
func each(fams map[string]*dto.MetricFamily, name, by string, fn func(label string, v float64)) {
	for _, m := range fams[name].GetMetric() {
		label := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == by {
				label = l.GetValue()
			}
		}
		switch {
		case m.Counter != nil:
			fn(label, m.GetCounter().GetValue())
		case m.Gauge != nil:
			fn(label, m.GetGauge().GetValue())
		default:
			fn(label, m.GetUntyped().GetValue())
		}
	}
}

// counters are what a step compares before and after.
type counters struct {
	cpuNS   uint64 // the sensor's threads
	bpfNS   uint64 // its kernel programs (bpf_stats)
	encoded float64
	drops   map[string]float64 // bansho_sensor_drops_total by cause, store refusals, exporter losses
	alerts  float64
}

func (sen *sensor) sample() (counters, error) {
	c := counters{drops: map[string]float64{}}
	pid := sen.cmd.Process.Pid
	c.cpuNS = threadsCPU(pid)
	var err error
	if c.bpfNS, err = bpfRuntime(pid); err != nil {
		return c, err
	}
	fams, err := sen.scrape()
	if err != nil {
		return c, err
	}
	each(fams, "bansho_pipeline_documents_encoded_total", "", func(_ string, v float64) { c.encoded += v })
	each(fams, "bansho_rules_alerts_total", "", func(_ string, v float64) { c.alerts += v })
	each(fams, "bansho_sensor_drops_total", "cause", func(k string, v float64) { c.drops["sensor "+k] += v })
	each(fams, "bansho_store_refused_total", "reason", func(k string, v float64) { c.drops["store "+k] += v })
	each(fams, "bansho_exporter_dead_lettered_total", "exporter", func(k string, v float64) { c.drops["dead letter "+k] += v })
	return c, nil
}

// step is one rate: the load runs for d at opsRate operations a second,
// then the sensor is given until its output stops growing (the queue and
// ring buffer drained) before the counters are read again.
type step struct {
	target    float64 // documents per second offered (0: calibration)
	ops       int64
	secs      float64 // load time
	span      float64 // load and drain
	written   uint64
	alerts    uint64
	lost      uint64
	lostBy    map[string]uint64
	cpuNS     uint64
	bpfNS     uint64
	rssMiB    float64
	recovery  bool
	loadError string
}

// writtenRate is what the sensor wrote per second over the load and the
// drain after it: a sensor that falls behind shows a lower rate here and
// a long drain.
func (st step) writtenRate() float64 { return float64(st.written) / st.span }

// drain is how long the sensor needed after the load to write it all.
func (st step) drain() float64 { return st.span - st.secs }

// offeredRate is the documents the load made per second while it ran:
// every one is either written or counted lost (the sensor's accounting
// leaves nothing out), so written plus lost over the load's time. The
// kernel folds repeated identical calls into one summary, so documents
// per operation fall as the rate rises: the calibration does not say it.
func (st step) offeredRate() float64 { return float64(st.written+st.lost) / st.secs }

// opsRate is the load's operations per second.
func (st step) opsRate() float64 { return float64(st.ops) / st.secs }
func (st step) cpuPerDoc() float64 {
	if st.written == 0 {
		return 0
	}
	return float64(st.cpuNS) / 1e3 / float64(st.written)
}
func (st step) bpfPerDoc() float64 {
	if st.written == 0 {
		return 0
	}
	return float64(st.bpfNS) / 1e3 / float64(st.written)
}

// cores is the sensor's CPU use while loaded, in cores.
func (st step) cores() float64 { return float64(st.cpuNS) / 1e9 / st.span }

func (sen *sensor) step(s *settings, dir string, target, opsRate float64, d time.Duration) (step, error) {
	st := step{target: target}
	before, err := sen.sample()
	if err != nil {
		return st, err
	}
	t0 := time.Now()
	cmd := exec.Command(s.self, "load", dir, strconv.FormatFloat(opsRate, 'f', 1, 64),
		strconv.FormatFloat(d.Seconds(), 'f', 1, 64), strconv.Itoa(loadWorkers))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return st, fmt.Errorf("load at %.0f ops/s: %v: %s", opsRate, err, errb.String())
	}
	st.secs = time.Since(t0).Seconds()
	st.ops, _ = strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	// Drain: until the pipeline queue is (nearly) empty and the ring
	// buffer holds less than the reader's wakeup mark at two looks a
	// quarter second apart. The host's own activity keeps both from
	// being exactly zero and the document count moving.
	empty := 0
	for deadline := time.Now().Add(60 * time.Second); empty < 2 && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		queue, ring, err := sen.backlog()
		if err != nil {
			return st, err
		}
		if queue < 32 && ring < 256<<10 {
			empty++
		} else {
			empty = 0
		}
	}
	st.span = time.Since(t0).Seconds()
	time.Sleep(300 * time.Millisecond) // the pipeline's last flush (200 ms)
	after, err := sen.sample()
	if err != nil {
		return st, err
	}
	st.written = uint64(after.encoded - before.encoded)
	st.alerts = uint64(after.alerts - before.alerts)
	st.cpuNS = after.cpuNS - before.cpuNS
	st.bpfNS = after.bpfNS - before.bpfNS
	st.lostBy = map[string]uint64{}
	for k, v := range after.drops {
		if dv := uint64(v - before.drops[k]); dv > 0 {
			st.lostBy[k] = dv
			st.lost += dv
		}
	}
	st.rssMiB = rss(sen.cmd.Process.Pid)
	return st, nil
}

// loadWorkers are the load's threads: enough that the load, not its
// pacing, sets the rate on a 2-CPU machine.
const loadWorkers = 4

// threadsCPU is the CPU time in ns all threads of pid have used.
func threadsCPU(pid int) uint64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total uint64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseUint(f[0], 10, 64)
			total += v
		}
	}
	return total
}

func rss(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// enableBPFStats turns on kernel.bpf_stats_enabled (each program's run
// time) for the run and returns what puts it back.
func enableBPFStats() (func(), error) {
	const p = "/proc/sys/kernel/bpf_stats_enabled"
	old, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return nil, err
	}
	return func() { os.WriteFile(p, old, 0o644) }, nil
}

// bpfRuntime sums the run time of the BPF programs pid holds: their ids
// come from the fdinfo of its descriptors, their run times from bpftool.
func bpfRuntime(pid int) (uint64, error) {
	ids := map[int]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	for _, f := range fds {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "prog_id:"); ok {
				if id, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					ids[id] = true
				}
			}
		}
	}
	out, err := exec.Command("bpftool", "prog", "show", "--json").Output()
	if err != nil {
		return 0, fmt.Errorf("bpftool prog show: %v", err)
	}
	var progs []struct {
		ID        int    `json:"id"`
		RunTimeNS uint64 `json:"run_time_ns"`
	}
	if err := json.Unmarshal(out, &progs); err != nil {
		return 0, err
	}
	var total uint64
	for _, p := range progs {
		if ids[p.ID] {
			total += p.RunTimeNS
		}
	}
	return total, nil
}

// sleepers starts n-1 idle processes (the load and the sensor make the
// rest), so the process table and enrichment hold that many.
func sleepers(n int) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
	for i := 1; i < n; i++ {
		// No pipes to them: 10,000 children would hold 20,000
		// descriptors of this process (nil is /dev/null in the child).
		c := exec.Command("sleep", "3600")
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}
