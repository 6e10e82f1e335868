package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/bansho-sec/bansho/internal/config"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
	"github.com/bansho-sec/bansho/pipeline/enrich"
	"github.com/bansho-sec/bansho/pipeline/proctree"
	"github.com/bansho-sec/bansho/sensor"
)

// enrichment is the running enrichment stage and what feeds its caches.
type enrichment struct {
	stage   *enrich.Stage
	users   *enrich.Users
	net     *enrich.Net
	kubelet *enrich.Kubelet
	cancel  context.CancelFunc
	done    chan struct{}
}

// startEnrich seeds the process table and starts the stage between the
// reader's queue (in) and the pipeline: the returned channel is what the
// pipeline reads. Disabled, it returns in itself. Call it after the
// reader runs, so that processes started while seeding are in the queue.
func startEnrich(cfg config.Enrich, host ecs.Host, clock *sensor.BootClock, enc *ecs.Encoder, log *slog.Logger,
	in <-chan *event.Event) (<-chan *event.Event, *enrichment, error) {
	if !cfg.Enabled {
		return in, nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	en := &enrichment{cancel: cancel, done: make(chan struct{})}
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/mnt", &st); err != nil {
		log.Warn("enrich: own mount namespace unknown; names resolved from / for every process", "error", err)
	}
	en.users = &enrich.Users{HostMntNS: uint32(st.Ino), Interval: cfg.NamesRefresh, MaxRoots: 1024}
	opt := enrich.Options{Host: host, Wall: clock.Wall, MaxExited: cfg.MaxExitedProcesses, HoldMax: cfg.HoldMax,
		HoldFor: cfg.Hold, Users: en.users, Log: log, ExactStarts: proctree.ExactStarts}

	// Each source is optional: what cannot start is logged once, and the
	// events go out without it.
	if m, err := enrich.NewMounts("/proc/self/mountinfo", "/sys"); err != nil {
		log.Warn("enrich: mount facts off", "error", err)
	} else if err := m.Watch(ctx.Done()); err != nil {
		log.Warn("enrich: mount changes not followed", "error", err)
		opt.Mounts = m
	} else {
		opt.Mounts = m
	}
	if n, err := enrich.NewNet(netns.None(), log); err != nil {
		log.Warn("enrich: destination classes off", "error", err)
	} else {
		en.net, opt.Net = n, n
		n.OnChange = enc.SetHostIPs
		enc.SetHostIPs(n.HostIPs())
		if err := n.Watch(ctx.Done()); err != nil {
			log.Warn("enrich: address and route changes not followed", "error", err)
		}
	}
	if k := cfg.Kubernetes; k.Enabled {
		// ${NODE_NAME} and the like from the environment: a DaemonSet sets
		// the node's name with the downward API.
		kc, err := enrich.NewKubelet(enrich.KubeletConfig{URL: os.ExpandEnv(k.URL), TokenFile: k.TokenFile, CAFile: k.CAFile,
			InsecureSkipVerify: k.InsecureSkipVerify, PollInterval: k.PollInterval, Timeout: k.Timeout,
			Cluster: k.ClusterName}, log)
		if err != nil {
			cancel()
			return nil, nil, err
		}
		en.kubelet, opt.Kubelet = kc, kc
		go kc.Run(ctx)
	}

	en.stage = enrich.New(opt)
	t0 := time.Now()
	res, err := en.stage.Seed()
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("enrich: %w", err)
	}
	if res.ExactErr != nil {
		log.Warn("enrich: exact start times of running processes unavailable; their entity ids use /proc's 10ms ticks until a kernel record names them",
			"error", res.ExactErr)
	}
	log.Info("process table seeded", "processes", res.Seeded, "exact_start", res.Exact, "skipped", res.Skipped,
		"took", time.Since(t0).Round(time.Millisecond))
	for _, err := range res.SkipErrs {
		log.Warn("enrich: a running process could not be read at start; its events carry what the kernel reports until it execs", "error", err)
	}

	go func() {
		tick := time.NewTicker(cfg.NamesRefresh)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				en.users.Refresh()
			}
		}
	}()
	out := make(chan *event.Event, cfg.QueueSize)
	go func() {
		defer close(en.done)
		en.stage.Run(in, out)
	}()
	return out, en, nil
}

// counters adds the stage's counters to a health document.
func (en *enrichment) counters(m map[string]uint64) {
	if en != nil && m != nil {
		en.stage.Counters(m)
	}
}

// close stops the caches' goroutines once the stage has drained (the
// reader closed its queue).
func (en *enrichment) close() {
	if en == nil {
		return
	}
	<-en.done
	en.cancel()
	if en.net != nil {
		en.net.Close()
	}
}

// collector is the stage's Prometheus collector, for the metrics
// endpoint (nil when enrichment is off).
func (en *enrichment) collector() *enrich.Collector {
	if en == nil {
		return nil
	}
	return &enrich.Collector{Stage: en.stage, Users: en.users, Kubelet: en.kubelet}
}
