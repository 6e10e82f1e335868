package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/exporters/file"
	"github.com/bansho-sec/bansho/exporters/stdout"
	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/sensor"
)

func runCmd() *cobra.Command {
	var cfgFile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the sensor",
		Long: `Run the sensor until SIGTERM or SIGINT.

Without --config the embedded defaults apply: protect /srv/mynumber, write
ECS JSON lines to stdout and to /var/lib/bansho/events.json, and keep every
document in the store /var/lib/bansho/store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgFile, cmd.Flags())
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg, cfgFile)
		},
	}
	cmd.Flags().StringVarP(&cfgFile, "config", "c", "", "YAML configuration file")
	cmd.Flags().StringSlice("protect", nil, "protected directories (protect.paths)")
	cmd.Flags().String("output-file", "", "JSON-lines output file (outputs.file.path)")
	cmd.Flags().Bool("stdout", true, "write documents to stdout (outputs.stdout.enabled)")
	cmd.Flags().String("log-level", "info", "log level: debug, info, warn, error (log.level)")
	cmd.Flags().String("metrics", "127.0.0.1:9090", "address of /metrics, /healthz, /readyz; empty disables (metrics.listen)")
	return cmd
}

func newLogger(c config.Log) *slog.Logger {
	lvl := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError}[c.Level]
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func run(parent context.Context, cfg *config.Config, cfgFile string) error {
	if parent == nil {
		parent = context.Background()
	}
	log := newLogger(cfg.Log)
	tuneGC()
	// BANSHO_CPUPROFILE=FILE writes a CPU profile of the whole run (go tool
	// pprof), for finding where the sensor spends its time under load.
	if p := os.Getenv("BANSHO_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("BANSHO_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("BANSHO_CPUPROFILE: %w", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	// BANSHO_MEMPROFILE=FILE writes a heap profile when the run ends (go
	// tool pprof -sample_index=inuse_space), for finding what holds memory.
	if p := os.Getenv("BANSHO_MEMPROFILE"); p != "" {
		defer func() {
			f, err := os.Create(p)
			if err != nil {
				log.Error("BANSHO_MEMPROFILE", "error", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				log.Error("BANSHO_MEMPROFILE", "error", err)
			}
		}()
	}
	scfg := sensor.Config{
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
	if err := sensor.Preflight(scfg); err != nil {
		return err
	}
	o, err := newOps(cfg, cfgFile, log)
	if err != nil {
		return err
	}

	host, err := ecs.LocalHost()
	if err != nil {
		log.Warn("host facts incomplete", "error", err)
	}
	outs, err := openOutputs(cfg.Outputs)
	if err != nil {
		return err
	}
	var fileOut *file.Exporter
	for _, x := range outs {
		if f, ok := x.(*file.Exporter); ok {
			fileOut = f
		}
	}
	db, err := openStore(cfg.Store, log) // store.go
	if err != nil {
		return err
	}
	if db != nil {
		outs = append(outs, db)
	}
	p := &pipeline.Pipeline{
		Encoder:   &ecs.Encoder{Host: host, Version: version},
		Exporters: o.wrapOutputs(outs),
		Log:       log,
	}
	defer p.Close()
	stopExport, err := startExporters(cfg.Outputs, db, log) // export.go
	if err != nil {
		return err
	}
	defer stopExport()
	if cfg.Content.SampleBytes > 0 {
		det, err := newDetector(cfg.Content, log)
		if err != nil {
			return err
		}
		p.Content = &pipeline.ContentScanner{Detector: det, SampleBytes: cfg.Content.SampleBytes}
	}

	s, err := sensor.New(scfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	if cfg.Content.SampleBytes > 0 {
		libs, err := s.AttachTLS(cfg.Content.TLSLibraries)
		if err != nil {
			return err
		}
		log.Info("TLS plaintext probes attached", "libraries", libs)
	}
	clock := sensor.NewBootClock()
	defer watchStore(db, p, clock)()
	stopRules, err := startRules(cfg.Rules, cfg.Protect.Paths, p, host, func(a, m string, d map[string]string) {
		p.Emit(stateEvent(clock, a, m, d))
	}, log)
	if err != nil {
		return err
	}
	defer stopRules()
	started := time.Now()
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
	events := make(chan *event.Event, scfg.QueueSize)
	if err := o.attach(s, p, events); err != nil {
		return err
	}
	o.details(details)

	stopped := o.signals(parent)
	ctx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	readErr := make(chan error, 1)
	go func() { readErr <- s.Run(ctx, events, clock) }()
	enriched, enr, err := startEnrich(cfg.Enrich, host, clock, p.Encoder, log, events)
	if err != nil {
		stopReading()
		<-readErr // the reader is done with the maps before they close
		return err
	}
	defer enr.close()
	// sensor-started once the process table is seeded: from here on every
	// process, also one that started before the sensor, is attributed.
	// Records of the seeding's few milliseconds wait in the queue.
	p.Emit(stateEvent(clock, "sensor-started", "probes attached", details))
	log.Info("sensor running", "protected", cfg.Protect.Paths, "version", fullVersion())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Run(ctx, enriched)
	}()

	health := func() {
		st, err := s.Stats()
		if err != nil {
			log.Error("read sensor counters", "error", err)
		}
		if st.Drops == nil {
			st.Drops = map[string]uint64{}
		}
		enr.counters(st.Counters)
		st.Drops["output_lost"] = p.OutputLost()
		st.Counters = storeHealth(db, st.Counters) // store.go
		st.Counters = exportHealth(st.Counters)    // export.go
		if fileOut != nil {
			// Retention of the file output, as the store's evictions are counted.
			rm := fileOut.Removed()
			st.Counters["file_removed_files"], st.Counters["file_removed_bytes"] = rm.Files, rm.Bytes
		}
		st.DropsTotal += p.OutputLost()
		st.Counters["self_programs_detached"] = o.detachedNow()
		ev := healthEvent(clock, st, p, time.Since(started))
		ev.Health.KernelObject = string(s.Object())
		for _, f := range s.Features() {
			if !f.Enabled {
				ev.Health.FeaturesOff = append(ev.Health.FeaturesOff, f.Name)
			}
		}
		p.Emit(ev)
	}
	tick := time.NewTicker(cfg.Health.Interval)
	defer tick.Stop()
	health() // a first health document at once: /readyz and READY=1 wait for it
	o.tick(s, p, clock)
	if err := o.registerCollectors(db, enr); err != nil {
		return err
	}
	o.started()
	var runErr error
	readDone := false
loop:
	for {
		select {
		case <-tick.C:
			clock.Refresh()
			health()
			o.tick(s, p, clock)
		case runErr = <-readErr:
			readDone = true
			break loop
		case <-stopped:
			break loop
		}
	}
	// Detach, drain the ring buffer and the queue, final documents, flush.
	if err := o.drain(s, stopReading, readErr, readDone, &wg, func() {
		health()
		p.Emit(stateEvent(clock, "sensor-stopped", "shutdown", nil))
	}); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	log.Info("sensor stopped")
	return nil
}

func openOutputs(c config.Outputs) ([]exporters.Exporter, error) {
	var outs []exporters.Exporter
	if c.File.Path != "" {
		f, err := file.New(file.Options{
			Path:       c.File.Path,
			MaxBytes:   c.File.MaxBytes,
			MaxBackups: c.File.MaxBackups,
			Fsync:      c.File.Fsync,
		})
		if err != nil {
			return nil, fmt.Errorf("outputs.file.path: %w", err)
		}
		outs = append(outs, f)
	}
	if c.Stdout.Enabled {
		outs = append(outs, stdout.New(os.Stdout))
	}
	return outs, nil
}

func stateEvent(clock *sensor.BootClock, action, msg string, details map[string]string) *event.Event {
	now := sensor.BootNS()
	return &event.Event{
		Op:    event.OpState,
		KTime: now,
		Time:  clock.Wall(now),
		Proc:  selfProc(),
		State: &event.State{Action: action, Message: msg, Version: fullVersion(), Details: details},
	}
}

func healthEvent(clock *sensor.BootClock, st sensor.Stats, p *pipeline.Pipeline, up time.Duration) *event.Event {
	now := sensor.BootNS()
	return &event.Event{
		Op:    event.OpHealth,
		KTime: now,
		Time:  clock.Wall(now),
		Proc:  selfProc(),
		Health: &event.Health{
			Received:     st.Received,
			Emitted:      p.Emitted(),
			Drops:        st.Drops,
			DropsTotal:   st.DropsTotal,
			Counters:     st.Counters,
			OutputErrors: p.OutputErrors(),
			Uptime:       up,
		},
	}
}

func selfProc() event.Process {
	return event.Process{PID: uint32(os.Getpid()), TID: uint32(os.Getpid()), PPID: uint32(os.Getppid()),
		UID: uint32(os.Getuid()), EUID: uint32(os.Geteuid()), GID: uint32(os.Getgid()), EGID: uint32(os.Getegid()),
		AUID: event.NoUID, Comm: "bansho"}
}
