package daemon

import (
	"os"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline"
	"github.com/bansho-sec/bansho/sensor"
)

// stateEvent is a document about the sensor itself (started, stopped,
// rules reloaded, store notices).
func (d *daemon) stateEvent(action, msg string, details map[string]string) *event.Event {
	now := sensor.BootNS()
	return &event.Event{
		Op:    event.OpState,
		KTime: now,
		Time:  d.clock.Wall(now),
		Proc:  selfProc(),
		State: &event.State{Action: action, Message: msg, Version: d.version, Details: details},
	}
}

// healthEvent is the periodic sensor-health document: what was read and
// written, every drop by cause, and the counters of every part that runs
// (kernel, enrichment, store, exporters, file output), with the parts the
// sensor runs without.
func (d *daemon) healthEvent(s *sensor.Sensor, p *pipeline.Pipeline, up time.Duration) *event.Event {
	st, err := sensorStats(s, p)
	if err != nil {
		d.log.Error("read sensor counters", "error", err)
	}
	d.enr.counters(st.Counters)
	storeHealth(d.db, st.Counters)
	d.exp.health(st.Counters)
	if d.fileOut != nil {
		// Retention of the file output, as the store's evictions are counted.
		rm := d.fileOut.Removed()
		st.Counters["file_removed_files"], st.Counters["file_removed_bytes"] = rm.Files, rm.Bytes
	}
	st.Counters["self_programs_detached"] = d.ops.detachedNow()
	if c := p.Content; c != nil && c.Rest != nil {
		r := c.Rest
		st.Counters["content_rest_scanned"] = r.Scanned.Load()
		st.Counters["content_rest_bytes"] = r.Bytes.Load()
		st.Counters["content_rest_pending"] = uint64(r.Pending())
		for reason, n := range r.Skipped() {
			st.Counters["content_rest_skipped_"+reason] = n
		}
	}
	now := sensor.BootNS()
	h := &event.Health{
		Received:     st.Received,
		Emitted:      p.Emitted(),
		Drops:        st.Drops,
		DropsTotal:   st.DropsTotal,
		Counters:     st.Counters,
		OutputErrors: p.OutputErrors(),
		Uptime:       up,
		KernelObject: string(s.Object()),
		Degraded:     d.up.names(),
	}
	for _, f := range s.Features() {
		if !f.Enabled {
			h.FeaturesOff = append(h.FeaturesOff, f.Name)
		}
	}
	return &event.Event{Op: event.OpHealth, KTime: now, Time: d.clock.Wall(now), Proc: selfProc(), Health: h}
}

// sensorStats are the kernel side's counters with the pipeline's own drop
// (output_lost) added, the one place the health document and
// bansho_sensor_drops_total both take them from.
func sensorStats(s *sensor.Sensor, p *pipeline.Pipeline) (sensor.Stats, error) {
	st, err := s.Stats()
	if st.Drops == nil {
		st.Drops = map[string]uint64{}
	}
	if st.Counters == nil {
		st.Counters = map[string]uint64{}
	}
	lost := p.OutputLost()
	st.Drops["output_lost"] = lost
	st.DropsTotal += lost
	return st, err
}

func selfProc() event.Process {
	return event.Process{PID: uint32(os.Getpid()), TID: uint32(os.Getpid()), PPID: uint32(os.Getppid()),
		UID: uint32(os.Getuid()), EUID: uint32(os.Geteuid()), GID: uint32(os.Getgid()), EGID: uint32(os.Getegid()),
		AUID: event.NoUID, Comm: "bansho"}
}
