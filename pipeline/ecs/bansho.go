package ecs

import (
	"strconv"
	"time"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
)

// bansho writes the fields ECS has no place for.
func (e *Encoder) bansho(o *obj, ev *event.Event, kernel bool) {
	o.section("bansho")
	if kernel {
		p := &ev.Proc
		if p.AUID != event.NoUID {
			o.section("login_user")
			mark := len(o.b)
			o.ustr("id", uint64(p.AUID))
			o.note(dockey.User, mark)
			name := ""
			if en := ev.Enriched; en != nil {
				name = en.LoginUserName
			} else if e.Names != nil {
				name = e.Names(p.AUID)
			}
			mark = len(o.b)
			o.userNE("name", name)
			o.note(dockey.User, mark)
			o.close()
		}
		if p.SessionID != event.NoUID {
			o.uint("audit_session_id", uint64(p.SessionID))
		}
		o.uint("cgroup_id", p.CgroupID)
		o.uint("mnt_ns", uint64(p.MntNS))
		o.uint("pid_ns", uint64(p.PidNS))
		if en := ev.Enriched; en != nil {
			if en.Unknown {
				// Not in the process table when it was emitted: the
				// process tree fields are what the kernel record had.
				o.section("process")
				o.boolean("unknown", true)
				o.close()
			}
			if en.Pod != nil && en.Pod.Node != "" {
				o.section("orchestrator")
				o.user("node", en.Pod.Node)
				o.close()
			}
		}
	}
	if ev.Has(event.FlagTruncated) {
		o.boolean("truncated", true)
	}
	if ev.Has(event.FlagReadFailed) {
		o.boolean("read_failed", true)
	}
	if ev.Compat {
		o.boolean("compat", true)
	}
	repeat(o, ev)
	if c := ev.Content; c != nil {
		o.section("content")
		contentFinding(o, "my_number", &c.MyNumber)
		contentFinding(o, "corporate_number", &c.CorporateNumber)
		o.uint("sampled_bytes", uint64(c.SampledBytes))
		o.boolean("truncated", c.Truncated)
		if len(c.PIITypes) > 0 {
			o.strs("pii_types", c.PIITypes)
		}
		if c.AtRest {
			o.boolean("at_rest", true)
			o.int("scanned_bytes", c.ScannedBytes)
		}
		o.close()
	}
	switch ev.Op {
	case event.OpExec, event.OpFork, event.OpExit:
		o.boolean("tainted", ev.Has(event.FlagTainted))
	}
	switch {
	case ev.Exec != nil:
		o.section("exec")
		o.userNE("filename", ev.Exec.Filename)
		if ev.Exec.OldPID != 0 && ev.Exec.OldPID != ev.Proc.PID {
			o.uint("old_pid", uint64(ev.Exec.OldPID))
		}
		o.close()
	case ev.Exit != nil:
		o.section("exit")
		o.uint("status", uint64(ev.Exit.Status))
		if sig := ev.Exit.Signal(); sig != 0 {
			o.uint("signal", uint64(sig))
		}
		o.close()
	case ev.File != nil:
		fileExtras(o, ev)
	case ev.Net != nil:
		n := ev.Net
		o.section("network")
		if ev.Op == event.OpTLSWrite {
			o.str("syscall", "SSL_write")
			o.boolean("tls", true)
		} else {
			o.key("syscall")
			o.b = appendSyscall(o.b, n.Syscall)
			o.int("ret", n.Ret)
		}
		if n.FD >= 0 {
			o.int("fd", int64(n.FD))
		}
		if n.Bytes > 0 {
			o.uint("bytes", n.Bytes)
		}
		o.boolean("tainted", ev.Has(event.FlagTainted))
		if en := ev.Enriched; en != nil {
			o.strNE("destination_class", en.Destination)
		}
		o.close()
	case ev.Self != nil:
		selfFields(o, ev)
	case ev.Health != nil:
		health(o, ev.Health)
	case ev.State != nil:
		s := ev.State
		o.section("state")
		o.strNE("version", s.Version)
		if len(s.Details) > 0 {
			o.section("details")
			for _, k := range sortedKeys(s.Details) {
				o.dynKey(k)
				v, changed := Redact(s.Details[k])
				o.redacted = o.redacted || changed
				o.b = appendString(o.b, v)
			}
			o.close()
		}
		o.close()
	}
	if ev.Has(event.FlagSelf) {
		o.boolean("self_target", true) // aimed at the sensor: its process or its own files
	}
	// Last: every string of the document has been written.
	if o.redacted {
		o.boolean("redacted", true)
	}
	o.close()
}

func health(o *obj, h *event.Health) {
	o.section("health")
	o.section("events")
	o.uint("received", h.Received)
	o.uint("emitted", h.Emitted)
	o.close()
	o.section("drops")
	o.uint("total", h.DropsTotal)
	for _, k := range sortedKeys(h.Drops) {
		if k == "total" {
			continue // the field above; a cause cannot shadow it
		}
		o.dynKey(k)
		o.b = strconv.AppendUint(o.b, h.Drops[k], 10)
	}
	o.close()
	if len(h.Counters) > 0 {
		o.section("counters")
		for _, k := range sortedKeys(h.Counters) {
			o.dynKey(k)
			o.b = strconv.AppendUint(o.b, h.Counters[k], 10)
		}
		o.close()
	}
	o.uint("output_errors", h.OutputErrors)
	o.key("uptime_seconds")
	o.b = strconv.AppendFloat(o.b, h.Uptime.Round(time.Millisecond).Seconds(), 'f', -1, 64)
	if h.KernelObject != "" {
		o.section("kernel")
		o.str("object", h.KernelObject)
		o.strs("features_off", h.FeaturesOff)
		o.close()
	}
	if len(h.Degraded) > 0 {
		o.strs("degraded", h.Degraded)
	}
	o.close()
}

// contentFinding writes what the detector found: counts, confidence and
// keyed hashes. event.Finding has no field that could hold a number.
func contentFinding(o *obj, name string, f *event.Finding) {
	o.section(name)
	o.uint("distinct", uint64(f.Distinct))
	o.uint("occurrences", uint64(f.Occurrences))
	o.strNE("confidence", f.Confidence)
	if len(f.Reasons) > 0 {
		o.strs("reasons", f.Reasons)
	}
	if len(f.Hashes) > 0 {
		o.strs("hashes", f.Hashes)
	}
	if len(f.Encodings) > 0 {
		o.strs("encodings", f.Encodings)
	}
	if len(f.Layouts) > 0 {
		o.strs("layouts", f.Layouts)
	}
	o.close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Small maps: insertion sort, no sort package closure.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
