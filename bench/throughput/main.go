// Command throughput measures what one document costs the whole `bansho
// run` end to end, and how far the rate can go with nothing lost
// (make bench-throughput; docs/benchmarks.md).
//
// It starts the sensor on its default configuration (rules, the store with
// fsync, the file output; stdout off, as under systemd where it would go
// to the journal), drives the load of a My Number server (load.go) at
// rates stepped up until the sensor loses something, and for each step
// reports the documents offered and written, the sensor's CPU per document
// (its threads' CPU time from /proc, and its kernel programs' run time from
// bpf_stats), what was lost and where, and its RSS. It does so with 1, 100
// and 10,000 live processes on the host, once more with the Kafka and
// Elasticsearch exporters on the local back ends, and runs auditd on the
// same load as the peer. The figures go to stdout as Markdown, to
// bench/results/throughput.{md,tsv}, and to an SVG plot.
//
// Environment:
//
//	BANSHO_BIN          the bansho binary (default: built from this tree)
//	BENCH_RATES         documents per second to offer, in order (default 1000,2000,5000,10000,20000,35000,50000,75000,100000)
//	BENCH_PROCS         live process counts (default 1,100,10000)
//	BENCH_STEP_SECONDS  load per step (default 6)
//	BENCH_EXPORTERS     1: also the configuration with Kafka and Elasticsearch (default 1)
//	BENCH_AUDITD        1: also auditd on the same load (default 1)
//	BENCH_PLOT          where the SVG plot goes (default bench/results/throughput.svg)
//	BENCH_CPUPROFILE    1: keep a CPU profile of each steady-state step (bench/results/)
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := loadMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "throughput load:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
}

type settings struct {
	bansho    string
	self      string // this program, for the load process
	rates     []float64
	procs     []int
	step      time.Duration
	exporters bool
	auditd    bool
	plot      string
	profile   bool
	results   string
	repo      string
}

func loadSettings() (*settings, error) {
	s := &settings{step: 6 * time.Second, exporters: true, auditd: true}
	var err error
	if s.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if s.repo, err = os.Getwd(); err != nil {
		return nil, err
	}
	s.results = filepath.Join(s.repo, "bench", "results")
	s.plot = env("BENCH_PLOT", filepath.Join(s.results, "throughput.svg"))
	s.bansho = os.Getenv("BANSHO_BIN")
	if s.bansho == "" {
		return nil, errors.New("BANSHO_BIN is not set (make bench-throughput builds it)")
	}
	for _, f := range strings.Split(env("BENCH_RATES", "1000,2000,5000,10000,20000,35000,50000,75000,100000"), ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("BENCH_RATES: %q is not a positive number", f)
		}
		s.rates = append(s.rates, v)
	}
	for _, f := range strings.Split(env("BENCH_PROCS", "1,100,10000"), ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("BENCH_PROCS: %q is not a positive count", f)
		}
		s.procs = append(s.procs, v)
	}
	if v := os.Getenv("BENCH_STEP_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("BENCH_STEP_SECONDS: %q: at least 2", v)
		}
		s.step = time.Duration(n) * time.Second
	}
	s.exporters = env("BENCH_EXPORTERS", "1") == "1"
	s.auditd = env("BENCH_AUDITD", "1") == "1"
	s.profile = env("BENCH_CPUPROFILE", "0") == "1"
	return s, nil
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "throughput: "+format+"\n", args...)
}

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the sensor loads BPF programs and auditd needs the audit subsystem")
	}
	s, err := loadSettings()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.results, 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("/var/tmp", "bansho-throughput-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	restore, err := enableBPFStats()
	if err != nil {
		return err
	}
	defer restore()

	rep := &report{started: time.Now(), step: s.step}
	for _, n := range s.procs {
		if err := s.series(rep, scratch, fmt.Sprintf("default, %d live processes", n), n, false); err != nil {
			return err
		}
	}
	if s.exporters {
		n := s.procs[0]
		if len(s.procs) > 1 {
			n = s.procs[1]
		}
		if err := s.series(rep, scratch, fmt.Sprintf("with Kafka and Elasticsearch, %d live processes", n), n, true); err != nil {
			return err
		}
	}
	if s.auditd {
		if err := s.auditdPeer(rep, scratch); err != nil {
			return err
		}
	}
	return rep.write(s)
}

// series runs the steps of one configuration: a calibration of documents
// per operation, then the rates in order until one loses documents, then
// one step at the lowest rate to show the sensor recovered.
func (s *settings) series(rep *report, scratch, name string, procs int, exporters bool) error {
	logf("series %q", name)
	stopSleepers, err := sleepers(procs)
	if err != nil {
		return err
	}
	defer stopSleepers()
	dir := filepath.Join(scratch, fmt.Sprintf("run-%d", len(rep.series)))
	sen, err := startSensor(s, dir, exporters)
	if err != nil {
		return err
	}
	defer sen.stop()
	ser := &series{name: name, procs: procs, exporters: exporters}
	rep.series = append(rep.series, ser)

	// Calibration: documents per operation at a rate nothing can miss.
	cal, err := sen.step(s, dir, 0, 400, 4*time.Second)
	if err != nil {
		return err
	}
	if cal.ops == 0 || cal.written == 0 {
		return fmt.Errorf("%s: the calibration step wrote nothing", name)
	}
	ser.docsPerOp = float64(cal.written) / float64(cal.ops)
	ser.alertShare = float64(cal.alerts) / float64(cal.written)
	logf("  %.2f documents per operation, %.1f%% alerts", ser.docsPerOp, 100*ser.alertShare)
	for _, target := range s.rates {
		st, err := sen.step(s, dir, target, target/ser.docsPerOp, s.step)
		if err != nil {
			return err
		}
		ser.steps = append(ser.steps, st)
		logf("  %.0f ops/s: offered %.0f docs/s, written %.0f/s (drain %.1f s), CPU %.1f us/doc (bpf %.1f), lost %d, RSS %.1f MiB",
			st.opsRate(), st.offeredRate(), st.writtenRate(), st.drain(), st.cpuPerDoc(), st.bpfPerDoc(), st.lost, st.rssMiB)
		if st.lost > 0 {
			break
		}
		if n := len(ser.steps); n >= 2 && !ser.steps[n-1].sustained() && !ser.steps[n-2].sustained() {
			break // two steps it did not keep up with: the next would only lose
		}
		if n := len(ser.steps); n >= 3 && ser.steps[n-1].opsRate() < 1.05*ser.steps[n-3].opsRate() {
			logf("  the load cannot go faster on this machine (%.0f operations/s)", ser.steps[n-1].opsRate())
			ser.loadBound = true
			break
		}
	}
	if last := ser.steps[len(ser.steps)-1]; !last.sustained() {
		rec, err := sen.step(s, dir, s.rates[0], s.rates[0]/ser.docsPerOp, s.step)
		if err != nil {
			return err
		}
		rec.recovery = true
		ser.steps = append(ser.steps, rec)
		logf("  recovery at %.0f/s: lost %d", s.rates[0], rec.lost)
	}
	return sen.stop()
}
