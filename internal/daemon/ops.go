package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/metrics"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/sensor"
)

// ops is the operational side of `bansho run`: the metrics and health
// endpoint, sd_notify, self-protection checks and the bounded shutdown.
type ops struct {
	cfg     *config.Config
	cfgFile string
	log     *slog.Logger
	health  *metrics.Health
	srv     *metrics.Server
	outs    *metrics.Outputs
	notify  *sdNotifier

	lastTick     atomic.Int64
	stopping     atomic.Bool
	detached     atomic.Int64
	detachAlerts atomic.Uint64
	alerted      map[string]bool // detached programs already alerted on
	stopWatchdog chan struct{}

	// For naming what did not drain at shutdown.
	deadlineOnce sync.Once
	phase        atomic.Value // string
	ring         func() int
	queue        chan *event.Event

	guarded []sensor.IntegrityPath
	skipped []string
}

// details adds the integrity paths to the sensor-started document, so the
// record says what was guarded from when.
func (o *ops) details(d map[string]string) {
	for i, g := range o.guarded {
		v := g.Path
		if g.Self {
			v += " (sensor's own)"
		}
		d[fmt.Sprintf("integrity_%d", i)] = v
	}
	for i, sk := range o.skipped {
		d[fmt.Sprintf("integrity_skipped_%d", i)] = sk
	}
}

// newOps prepares the operational side; listen starts the endpoint.
func newOps(cfg *config.Config, cfgFile, version string, log *slog.Logger) *ops {
	o := &ops{cfg: cfg, cfgFile: cfgFile, log: log, outs: metrics.NewOutputs(), notify: newSDNotifier(),
		alerted: map[string]bool{}, stopWatchdog: make(chan struct{})}
	for _, w := range config.UnknownEnv(os.Environ()) {
		log.Warn("ignored environment variable", "problem", w)
	}
	o.health = metrics.NewHealth(cfg.Health.StallAfter, log)
	o.health.Need("probes_attached", "outputs_open", "first_health_tick")
	o.srv = metrics.New(o.health)
	// Neither can fail on a fresh registry: the collectors are distinct.
	_ = o.srv.Register(o.outs)
	_ = o.srv.Register(metrics.BuildInfo(version))
	return o
}

// listen starts the metrics endpoint early, so /healthz answers (and
// /readyz says what is missing) while the programs load.
func (o *ops) listen() error {
	if o.cfg.Metrics.Listen == "" {
		return nil
	}
	if err := o.srv.Start(o.cfg.Metrics.Listen); err != nil {
		return err
	}
	o.log.Info("metrics listening", "addr", o.srv.Addr())
	return nil
}

// wrapOutputs counts every output's writes, losses and latency.
func (o *ops) wrapOutputs(outs []exporters.Exporter) []exporters.Exporter {
	for i, x := range outs {
		outs[i] = o.outs.Wrap(x)
	}
	o.health.Ready("outputs_open")
	return outs
}

// attach registers the sensor's and the pipeline's collectors and loops
// and guards the integrity paths; the probes are attached by then.
func (o *ops) attach(s *sensor.Sensor, p *pipeline.Pipeline, queue chan *event.Event) error {
	o.ring, o.queue = s.RingPending, queue
	err := o.srv.Register(metrics.SensorCollector{Snapshot: func() (metrics.SensorSnapshot, error) {
		st, err := sensorStats(s, p)
		return metrics.SensorSnapshot{Read: st.Received, Queued: st.Delivered, Drops: st.Drops, Kernel: st.Counters,
			RingSize: st.RingBufBytes, RingUsed: s.RingPending(), QueueLen: len(queue), QueueCap: cap(queue),
			Detached: int(o.detached.Load()), SelfAlert: o.detachAlerts.Load()}, err
	}})
	if err != nil {
		return err
	}
	err = o.srv.Register(metrics.PipelineCollector{Snapshot: func() metrics.PipelineSnapshot {
		ps := metrics.PipelineSnapshot{Encoded: p.Emitted(), OutputErrors: p.OutputErrors()}
		if c := p.Content; c != nil {
			ps.Scanned, ps.ReadBack, ps.ReadBackFailed = c.Scanned.Load(), c.ReadBack.Load(), c.Failed.Load()
			ps.MyNumberHits, ps.CorporateHits = c.MyNumberHits.Load(), c.CorporateHits.Load()
			if r := c.Rest; r != nil {
				ps.Rest, ps.RestScanned, ps.RestBytes = true, r.Scanned.Load(), r.Bytes.Load()
				ps.RestSkipped, ps.RestPending = r.Skipped(), r.Pending()
			}
		}
		return ps
	}})
	if err != nil {
		return err
	}
	enabled := map[string]bool{}
	for _, f := range s.Features() {
		enabled[f.Name] = f.Enabled
	}
	if err := o.srv.Register(metrics.KernelFeatures(string(s.Object()), enabled)); err != nil {
		return err
	}
	o.health.Loop("reader", 0, s.LastTurn)
	o.health.Loop("pipeline", 0, p.LastTurn)
	o.health.Loop("health", o.cfg.Health.Interval, func() time.Time {
		if n := o.lastTick.Load(); n != 0 {
			return time.Unix(0, n)
		}
		return time.Time{}
	})
	reg, skipped, err := s.RegisterIntegrity(o.cfg.Protect.IntegrityPaths, o.selfPaths())
	if err != nil {
		return err
	}
	for _, sk := range skipped {
		o.log.Warn("integrity path skipped", "path", sk)
	}
	o.log.Info("integrity paths registered", "paths", len(reg))
	o.guarded, o.skipped = reg, skipped
	o.health.Ready("probes_attached")
	return nil
}

// selfPaths are the sensor's own files: its binary, configuration, outputs,
// key, store and rules, reported with bansho.self_target.
func (o *ops) selfPaths() []string {
	var out []string
	if exe, err := os.Executable(); err == nil {
		out = append(out, exe)
	}
	if o.cfgFile != "" {
		if abs, err := filepath.Abs(o.cfgFile); err == nil {
			out = append(out, abs)
		}
	}
	if p := o.cfg.Outputs.File.Path; p != "" {
		out = append(out, filepath.Dir(p))
	}
	if o.cfg.Content.HashKey == "" && o.cfg.Content.HashKeyFile != "" {
		out = append(out, o.cfg.Content.HashKeyFile)
	}
	if o.cfg.Store.Enabled && o.cfg.Store.Dir != "" {
		out = append(out, o.cfg.Store.Dir)
	}
	if o.cfg.Rules.Enabled && o.cfg.Rules.Dir != "" {
		out = append(out, o.cfg.Rules.Dir)
	}
	return append(out, "/etc/bansho")
}

// started tells systemd the sensor is up and starts the watchdog pings.
func (o *ops) started() {
	o.notify.send("READY=1")
	if iv := o.notify.watchdogInterval(); iv > 0 {
		go func() {
			t := time.NewTicker(iv / 2)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					// Only a sensor whose loops turn is alive for systemd.
					if len(o.health.Stalled()) == 0 {
						o.notify.send("WATCHDOG=1")
					}
				case <-o.stopWatchdog:
					return
				}
			}
		}()
	}
}

// tick runs after every health document: readiness, and whether every
// program is still attached (an alert document for each one that is not).
func (o *ops) tick(s *sensor.Sensor, p *pipeline.Pipeline, clock *sensor.BootClock) {
	o.lastTick.Store(time.Now().UnixNano())
	o.health.Ready("first_health_tick")
	if o.stopping.Load() {
		return
	}
	bad := s.CheckAttached()
	o.detached.Store(int64(len(bad)))
	var fresh []string
	for _, b := range bad {
		// One alert per program: the reason may change from one check
		// to the next (a closed link's descriptor number reused by the
		// sensor gives another error), the program does not.
		prog, _, _ := strings.Cut(b, ": ")
		if !o.alerted[prog] {
			o.alerted[prog] = true
			fresh = append(fresh, b)
		}
	}
	if len(fresh) == 0 {
		return
	}
	o.log.Error("kernel programs detached", "programs", fresh)
	o.detachAlerts.Add(1)
	now := sensor.BootNS()
	p.Emit(&event.Event{Op: event.OpSelfDetach, Flags: event.FlagSelf, KTime: now, Time: clock.Wall(now),
		Proc: selfProc(), Self: &event.Self{Detached: fresh, TargetPID: uint32(os.Getpid())}})
}

// detachedNow is how many programs the last check found missing, for the
// health document's counters.
func (o *ops) detachedNow() uint64 { return uint64(o.detached.Load()) }

// signals returns a channel closed at the first SIGTERM or SIGINT (or
// when parent is done), which also arms the shutdown deadline. A second
// signal exits at once, status 1.
func (o *ops) signals(parent context.Context) <-chan struct{} {
	// SIGUSR1/2 and SIGHUP would end a Go program by default: another
	// process could stop the sensor with them. They are reported by the
	// kernel (bansho.signal.*) and otherwise ignored; a reload handler may
	// take SIGHUP over with signal.Notify.
	signal.Ignore(syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	first := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			o.log.Info("stopping", "signal", sig.String(), "timeout", o.cfg.Shutdown.Timeout)
		case <-parent.Done():
		}
		o.phase.CompareAndSwap(nil, "waiting for the main loop to start the drain (blocked writing to an output?)")
		o.armDeadline()
		close(first)
		sig := <-ch
		fmt.Fprintf(os.Stderr, "bansho: second %s: exiting without draining (%s)\n", sig, o.pending())
		os.Exit(1)
	}()
	return first
}

// armDeadline starts the shutdown.timeout clock once. It runs apart from
// the main loop, which may be the part that is stuck (an output that
// blocks holds the pipeline and the health document behind it).
func (o *ops) armDeadline() {
	o.deadlineOnce.Do(func() {
		time.AfterFunc(o.cfg.Shutdown.Timeout, func() {
			fmt.Fprintf(os.Stderr, "bansho: shutdown: did not drain within %s: %s\n", o.cfg.Shutdown.Timeout, o.pending())
			os.Exit(1)
		})
	})
}

// pending names the shutdown step under way and what is left in it.
func (o *ops) pending() string {
	ph, _ := o.phase.Load().(string)
	if ph == "" {
		ph = "running"
	}
	var left []string
	if o.ring != nil {
		if n := o.ring(); n > 0 {
			left = append(left, fmt.Sprintf("ring buffer: %d bytes not read", n))
		}
	}
	if o.queue != nil {
		if n := len(o.queue); n > 0 {
			left = append(left, fmt.Sprintf("pipeline queue: %d events not written", n))
		}
	}
	if len(left) == 0 {
		return ph
	}
	return ph + "; " + strings.Join(left, "; ")
}

// drain is the shutdown: detach the programs so nothing new is recorded,
// let the reader empty the ring buffer into the queue, let the pipeline
// write the queue out, then write the final documents and flush. The
// deadline armed at the signal bounds all of it.
func (o *ops) drain(s *sensor.Sensor, stopReading context.CancelFunc, readErr <-chan error, readDone bool,
	pipeDone *sync.WaitGroup, final func()) error {
	o.armDeadline() // also when the reader ended on its own
	o.stopping.Store(true)
	o.health.Stopping()
	close(o.stopWatchdog)
	o.notify.send("STOPPING=1")
	start := time.Now()

	o.phase.Store("detaching the kernel programs")
	s.Detach()
	o.phase.Store("draining the ring buffer")
	stopReading()
	var runErr error
	if !readDone {
		runErr = <-readErr
	}
	o.phase.Store("writing the pipeline queue to the outputs")
	pipeDone.Wait()
	o.phase.Store("writing the final documents and flushing the outputs")
	final()
	o.log.Info("drained", "took", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	o.srv.Close(ctx)
	return runErr
}
