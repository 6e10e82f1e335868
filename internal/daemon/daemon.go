// Package daemon assembles `bansho run`: the kernel sensor, the pipeline
// and its outputs, the store and its exporters, the rules, enrichment and
// the operational side (metrics, health, sd_notify, bounded shutdown).
//
// Start-up has two phases. Check (check.go) is everything a configuration
// can be wrong about, and `bansho config check` runs the same function.
// Then each part starts under the policy in startup.go: only a kernel
// that cannot run the sensor at all, a wrong configuration and missing
// privileges stop start-up; any other part that fails (an output, the
// store, an exporter, the TLS probes, the metrics endpoint) is left out,
// and the sensor keeps watching and says what it runs without.
package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/exporters/stdout"
	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/store"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/sensor"
)

// Options are what the command line gives a run.
type Options struct {
	Config     *config.Config
	ConfigFile string // "" for the embedded defaults
	Version    string // for the documents and bansho_build_info
}

// NewLogger is the sensor's logger on stderr, as log.level and log.format
// say.
func NewLogger(c config.Log) *slog.Logger {
	lvl := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError}[c.Level]
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// daemon is one run: the parts start-up assembled.
type daemon struct {
	cfg     *config.Config
	version string
	log     *slog.Logger
	up      *startup
	ops     *ops
	host    ecs.Host
	clock   *sensor.BootClock
	fileOut *file.Exporter
	db      *store.Store
	exp     *exportSet
	rules   *ruleSet
	enr     *enrichment
}

// Run runs the sensor until SIGTERM or SIGINT (or ctx ends). It returns an
// error only for what stops start-up (see startup.go) or a reader that
// failed while running.
func Run(ctx context.Context, opt Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := opt.Config
	log := NewLogger(cfg.Log)
	d := &daemon{cfg: cfg, version: opt.Version, log: log, up: newStartup(log), exp: &exportSet{}}
	tuneGC()
	stopProfiles, err := profiles(log)
	if err != nil {
		return err
	}
	defer stopProfiles()

	// Phase one: everything the configuration can be wrong about, the
	// same checks as `bansho config check`.
	chk, err := Check(cfg)
	if err != nil {
		return d.up.fail(partConfig, err)
	}
	scfg := sensorConfig(cfg)
	if err := sensor.Preflight(scfg); err != nil {
		return d.up.fail(partKernel, err)
	}

	// Phase two: the parts, each under its policy.
	d.ops = newOps(cfg, opt.ConfigFile, opt.Version, log)
	d.up.try(partMetrics, d.ops.listen)
	if d.host, err = ecs.LocalHost(); err != nil {
		log.Warn("host facts incomplete", "error", err)
	}
	outs := d.openOutputs()
	d.up.try(partStore, func() error {
		d.db, err = openStore(cfg.Store, log)
		return err
	})
	if d.db != nil {
		outs = append(outs, d.db)
	}
	p := &pipeline.Pipeline{
		Encoder:   &ecs.Encoder{Host: d.host, Version: d.version},
		Exporters: d.ops.wrapOutputs(outs),
		Log:       log,
	}
	defer p.Close()
	d.startExporters()
	defer d.exp.stop(log)

	if cfg.Content.SampleBytes > 0 {
		det, err := NewDetector(cfg.Content, log)
		if err != nil {
			return d.up.fail(partContentKey, err)
		}
		p.Content = &pipeline.ContentScanner{Detector: det, SampleBytes: cfg.Content.SampleBytes}
		if r := cfg.Content.RestScan; r.Enabled {
			// Files written past the samples, scanned whole once written;
			// stopped before the final health document counts them.
			p.Content.Rest = &pipeline.RestScanner{Detector: det, Emit: p.Emit, MaxBytes: r.MaxBytes,
				BytesPerSecond: r.BytesPerSecond, Settle: r.Settle, Queue: r.Queue}
			p.Content.Rest.Start()
			defer p.Content.Rest.Stop()
		}
	}

	s, err := sensor.New(scfg, log)
	if err != nil {
		return d.up.fail(partKernel, err)
	}
	defer s.Close()
	if cfg.Content.SampleBytes > 0 {
		d.up.try(partTLSProbes, func() error {
			libs, err := s.AttachTLS(cfg.Content.TLSLibraries)
			if err != nil {
				return err
			}
			log.Info("TLS plaintext probes attached", "libraries", libs)
			return nil
		})
	}
	d.clock = sensor.NewBootClock()
	defer watchStore(d.db, p, d)()
	if d.rules, err = startRules(cfg.Rules, chk, p, d.host, func(a, m string, det map[string]string) {
		p.Emit(d.stateEvent(a, m, det))
	}, log); err != nil {
		return d.up.fail(partConfig, err)
	}
	defer d.rules.stop()

	started := time.Now()
	details := d.startedDetails(s)
	events := make(chan *event.Event, scfg.QueueSize)
	if err := d.ops.attach(s, p, events); err != nil {
		return d.up.fail(partKernel, err)
	}
	d.ops.details(details)

	stopped := d.ops.signals(ctx)
	rctx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	readErr := make(chan error, 1)
	go func() { readErr <- s.Run(rctx, events, d.clock) }()
	enriched, enr, err := startEnrich(cfg.Enrich, d.host, d.clock, p.Encoder, log, events)
	if err != nil {
		// The stage is optional: events go out without enrichment.
		d.up.degrade(partEnrichment, err)
		enriched, enr = events, nil
	}
	d.enr = enr
	defer enr.close()
	d.up.try(partMetrics, d.registerCollectors)
	d.up.details(details)
	// sensor-started once the process table is seeded: from here on every
	// process, also one that started before the sensor, is attributed.
	// Records of the seeding's few milliseconds wait in the queue.
	p.Emit(d.stateEvent("sensor-started", "probes attached", details))
	log.Info("sensor running", "protected", cfg.Protect.Paths, "version", d.version, "degraded", d.up.names())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Run(rctx, enriched)
	}()

	health := func() { p.Emit(d.healthEvent(s, p, time.Since(started))) }
	tick := time.NewTicker(cfg.Health.Interval)
	defer tick.Stop()
	health() // a first health document at once: /readyz and READY=1 wait for it
	d.ops.tick(s, p, d.clock)
	d.ops.started()
	var runErr error
	readDone := false
loop:
	for {
		select {
		case <-tick.C:
			d.clock.Refresh()
			health()
			d.ops.tick(s, p, d.clock)
		case runErr = <-readErr:
			readDone = true
			break loop
		case <-stopped:
			break loop
		}
	}
	// Detach, drain the ring buffer and the queue, final documents, flush.
	if err := d.ops.drain(s, stopReading, readErr, readDone, &wg, func() {
		if p.Content != nil && p.Content.Rest != nil {
			p.Content.Rest.Stop() // what still waits is counted (shutdown)
		}
		health()
		p.Emit(d.stateEvent("sensor-stopped", "shutdown", nil))
	}); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	log.Info("sensor stopped")
	return nil
}

// profiles starts the profiles the environment asks for:
// BANSHO_CPUPROFILE=FILE, a CPU profile of the whole run, and
// BANSHO_MEMPROFILE=FILE, a heap profile when the run ends (go tool pprof
// -sample_index=inuse_space). The returned function writes them.
func profiles(log *slog.Logger) (func(), error) {
	var stops []func()
	if p := os.Getenv("BANSHO_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return nil, fmt.Errorf("BANSHO_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("BANSHO_CPUPROFILE: %w", err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if p := os.Getenv("BANSHO_MEMPROFILE"); p != "" {
		stops = append(stops, func() {
			f, err := os.Create(p)
			if err != nil {
				log.Error("BANSHO_MEMPROFILE", "error", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				log.Error("BANSHO_MEMPROFILE", "error", err)
			}
		})
	}
	return func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}, nil
}

func sensorConfig(cfg *config.Config) sensor.Config {
	return sensor.Config{
		ProtectPaths:    cfg.Protect.Paths,
		RingBufferBytes: cfg.Sensor.RingBufferBytes,
		WakeupBytes:     cfg.Sensor.WakeupBytes,
		PollInterval:    cfg.Sensor.PollInterval,
		QueueSize:       cfg.Sensor.QueueSize,
		SendDedupe:      cfg.Sensor.UDPSendDedupe,
		TraceAccept:     cfg.Sensor.TraceAccept,
		TraceUDPSend:    cfg.Sensor.TraceUDPSend,
		SampleBytes:     cfg.Content.SampleBytes,
		FoldWindow:      cfg.Sensor.FoldWindow,
	}
}

// openOutputs opens the file output (degraded when it cannot be opened:
// the other outputs and the store still get every document) and stdout.
func (d *daemon) openOutputs() []exporters.Exporter {
	var outs []exporters.Exporter
	c := d.cfg.Outputs
	if c.File.Path != "" {
		d.up.try(partFileOutput, func() error {
			f, err := file.New(file.Options{
				Path:       c.File.Path,
				MaxBytes:   c.File.MaxBytes,
				MaxBackups: c.File.MaxBackups,
				Fsync:      c.File.Fsync,
			})
			if err != nil {
				return fmt.Errorf("outputs.file.path: %w", err)
			}
			d.fileOut = f
			if m := f.SharedDir(); m != 0 {
				d.log.Warn("the output file's directory holds other files and is left as it is: give the output a directory of its own, which bansho keeps 0700",
					"dir", filepath.Dir(c.File.Path), "mode", fmt.Sprintf("%o", m))
			}
			outs = append(outs, f)
			return nil
		})
	}
	if c.Stdout.Enabled {
		outs = append(outs, stdout.New(os.Stdout))
	}
	return outs
}

// startedDetails is what the sensor-started document says about the
// kernel side: protected paths, missing hooks, the object and features.
func (d *daemon) startedDetails(s *sensor.Sensor) map[string]string {
	details := map[string]string{}
	for i, pd := range s.Protected() {
		details[fmt.Sprintf("protected_%d", i)] = pd.Path
	}
	for i, m := range s.MissingHooks() {
		details[fmt.Sprintf("missing_hook_%d", i)] = m
	}
	details["kernel_object"] = string(s.Object())
	for _, f := range s.Features() {
		v := "on"
		if !f.Enabled {
			v = "off: " + f.Reason
			if f.Lost != "" {
				v += "; not reported: " + f.Lost
			}
		}
		details["feature_"+f.Name] = v
	}
	return details
}
