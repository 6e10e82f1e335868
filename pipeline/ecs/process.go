package ecs

import (
	"strconv"
	"strings"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
)

// process writes process.* for the acting task. With an enrichment, the
// process's program and arguments come from the process table on every
// event (not only its exec), and parent, group, session and entry leaders
// are written in full (Kibana's Session View builds its tree from them).
func (e *Encoder) process(o *obj, ev *event.Event) {
	p := &ev.Proc
	en := ev.Enriched
	o.section("process")
	if p.StartBoot != 0 {
		mark := len(o.b)
		o.key("entity_id")
		o.b = e.appendEntity(o.b, p.PID, p.StartBoot)
		o.note(dockey.Entity, mark)
	}
	mark := len(o.b)
	o.uint("pid", uint64(p.PID))
	o.note(dockey.PID, mark)
	o.section("thread")
	o.uint("id", uint64(p.TID))
	o.close()
	o.userNE("name", p.Comm)
	if !p.Start.IsZero() {
		o.time("start", p.Start)
	}
	if x := ev.Exec; x != nil {
		o.userNE("executable", x.Executable)
		o.userNE("working_directory", x.Cwd)
		if len(x.Args) > 0 {
			appendArgs(o, x.Args)
			argc := uint64(x.Argc)
			if argc == 0 {
				argc = uint64(len(x.Args))
			}
			o.uint("args_count", argc)
		}
	} else if en != nil && en.Process != nil {
		if pi := en.Process; pi.Unknown {
			e.program(o, pi)
		} else {
			e.ownProgram(o, pi)
		}
	}
	if x := ev.Exit; x != nil {
		o.int("exit_code", int64(x.Code()))
		o.time("end", ev.Time)
	}
	o.boolean("interactive", p.TTY != 0)
	if p.TTY != 0 {
		o.section("tty")
		o.section("char_device")
		o.uint("major", uint64(p.TTY>>20))
		o.uint("minor", uint64(p.TTY&0xfffff))
		o.close()
		o.close()
	}
	e.idSection(o, ev, "user", p.EUID, false)
	e.idSection(o, ev, "group", p.EGID, true)
	e.idSection(o, ev, "real_user", p.UID, false)
	e.idSection(o, ev, "real_group", p.GID, true)

	if en != nil && en.Parent != nil {
		e.procInfo(o, "parent", en.Parent)
		o.noteString(dockey.Parent, en.Parent.EntityID)
		o.close()
	} else {
		o.section("parent")
		o.uint("pid", uint64(p.PPID))
		if p.ParentStartBoot != 0 {
			mark := len(o.b)
			o.key("entity_id")
			o.b = e.appendEntity(o.b, p.PPID, p.ParentStartBoot)
			o.note(dockey.Parent, mark)
			o.time("start", p.ParentStart)
		}
		o.close()
	}
	if en != nil {
		e.enrichedLeader(o, "session_leader", p.SID, en.SessionLeader, ev)
		e.enrichedLeader(o, "group_leader", p.PGID, en.GroupLeader, ev)
		if l := en.EntryLeader; l != nil {
			e.procInfo(o, "entry_leader", l)
			o.boolean("same_as_process", l.PID == p.PID && !l.Unknown)
			o.section("entry_meta")
			o.strNE("type", en.EntryType)
			if en.EntrySourceIP.IsValid() {
				o.section("source")
				o.key("ip")
				o.b = append(o.b, '"')
				o.b = en.EntrySourceIP.AppendTo(o.b)
				o.b = append(o.b, '"')
				o.close()
			}
			o.close()
			o.close()
		}
	} else {
		e.leader(o, "session_leader", p.SID, p)
		e.leader(o, "group_leader", p.PGID, p)
	}
	o.close()
}

// procInfo opens section k and writes one process of the tree from the
// process table; the caller closes it.
func (e *Encoder) procInfo(o *obj, k string, pi *event.ProcInfo) {
	o.section(k)
	if pi.Unknown {
		// Made for one event (enrich): not worth a cache entry.
		e.procInfoBody(o, pi)
		return
	}
	f := e.procFrag(pi)
	o.used[o.depth-1] = true
	o.b = append(o.b, f.b...)
	o.redacted = o.redacted || f.redacted
}

// procInfoBody writes the members of a procInfo section. It returns where
// in o.b the program's members (see program) are, and whether a string
// of theirs had a My Number masked.
func (e *Encoder) procInfoBody(o *obj, pi *event.ProcInfo) (prog [2]int, progRedacted bool) {
	if pi.EntityID != "" {
		o.str("entity_id", pi.EntityID)
	}
	o.uint("pid", uint64(pi.PID))
	if !pi.Start.IsZero() {
		o.time("start", pi.Start)
	}
	o.userNE("name", pi.Name)
	before := o.redacted
	o.redacted = false
	prog[0] = len(o.b)
	e.program(o, pi)
	prog[1] = len(o.b)
	progRedacted = o.redacted
	o.redacted = o.redacted || before
	if !pi.Unknown {
		o.boolean("interactive", pi.Interactive)
		o.section("user")
		o.ustr("id", uint64(pi.UID))
		o.userNE("name", pi.UserName)
		o.close()
	}
	return prog, progRedacted
}

// program writes the executable, working directory and arguments of a
// process of the table.
func (e *Encoder) program(o *obj, pi *event.ProcInfo) {
	o.userNE("executable", pi.Executable)
	o.userNE("working_directory", pi.WorkingDirectory)
	if len(pi.Args) > 0 {
		e.tableArgs(o, pi.Args)
		o.uint("args_count", uint64(max(pi.ArgsCount, len(pi.Args))))
	}
}

// enrichedLeader writes a session or group leader from the process table,
// or only its pid when the table does not have it.
func (e *Encoder) enrichedLeader(o *obj, k string, pid uint32, pi *event.ProcInfo, ev *event.Event) {
	if pid == 0 {
		return
	}
	if pi == nil || pi.PID != pid {
		e.leader(o, k, pid, &ev.Proc)
		return
	}
	e.procInfo(o, k, pi)
	o.boolean("same_as_process", pid == ev.Proc.PID)
	o.close()
}

// leader writes a session or process group leader: its pid, and when it
// is the process itself, what is known of it.
func (e *Encoder) leader(o *obj, k string, pid uint32, p *event.Process) {
	if pid == 0 {
		return
	}
	o.section(k)
	o.uint("pid", uint64(pid))
	same := pid == p.PID
	o.boolean("same_as_process", same)
	if same && p.StartBoot != 0 {
		o.key("entity_id")
		o.b = e.appendEntity(o.b, p.PID, p.StartBoot)
		o.time("start", p.Start)
	}
	o.close()
}

// appendArgs writes process.args and process.command_line (the arguments
// joined with spaces). A My Number is masked in each, also one spread
// over several arguments (`cmd 1234 5678 9018`): in args, the digits of
// every argument it touches become '*'.
func appendArgs(o *obj, args []string) {
	if digitCount(args) < 12 {
		// Too few digits for any number: no masking, no allocation.
		o.strs("args", args)
		o.key("command_line")
		o.b = append(o.b, '"')
		for i, a := range args {
			if i > 0 {
				o.b = append(o.b, ' ')
			}
			o.b = appendStringBody(o.b, a)
		}
		o.b = append(o.b, '"')
		return
	}
	line := strings.Join(args, " ")
	masked, changed := Redact(line)
	o.redacted = o.redacted || changed
	o.key("args")
	o.b = append(o.b, '[')
	off := 0
	for i, a := range args {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		if changed {
			a = maskSpans(line, off, off+len(a))
		}
		o.b = appendString(o.b, a)
		off += len(a) + 1
	}
	o.b = append(o.b, ']')
	o.str("command_line", masked)
}

// maskSpans returns line[from:to] with the digits of any number that
// overlaps it replaced by '*'.
func maskSpans(line string, from, to int) string {
	var out []byte
	for s, e, ok := nextNumber(line, 0); ok && s < to; s, e, ok = nextNumber(line, e) {
		if e <= from {
			continue
		}
		if out == nil {
			out = []byte(line[from:to])
		}
		for i := max(s, from); i < min(e, to); i++ {
			if line[i] >= '0' && line[i] <= '9' {
				out[i-from] = '*'
			} else if line[i] == 0xEF && i+2 < len(line) && line[i+1] == 0xBC && line[i+2] >= 0x90 && line[i+2] <= 0x99 {
				// A full-width digit: three bytes, kept as three '*'.
				for j := i; j < i+3 && j < to; j++ {
					out[j-from] = '*'
				}
				i += 2
			}
		}
	}
	if out == nil {
		return line[from:to]
	}
	return string(out)
}

func digitCount(args []string) int {
	n := 0
	for _, a := range args {
		for i := 0; i < len(a); i++ {
			// ASCII digits, and the last byte of a full-width one (EF BC 90-99).
			if c := a[i]; c >= '0' && c <= '9' || (c >= 0x90 && c <= 0x99 && i >= 2 && a[i-1] == 0xBC && a[i-2] == 0xEF) {
				n++
			}
		}
	}
	return n
}

// related writes related.ip (both ends of a connection) and related.user
// (the ids, and names, of the effective, real and login users, once each).
func (e *Encoder) related(o *obj, ev *event.Event) {
	p := &ev.Proc
	o.section("related")
	if ev.Net != nil {
		src, dst := ev.Net.Src.Addr(), ev.Net.Dst.Addr()
		if src.IsValid() || dst.IsValid() {
			o.key("ip")
			o.b = append(o.b, '[')
			if src.IsValid() {
				o.b = append(o.b, '"')
				o.b = src.AppendTo(o.b)
				o.b = append(o.b, '"')
			}
			if dst.IsValid() && dst != src {
				if src.IsValid() {
					o.b = append(o.b, ',')
				}
				o.b = append(o.b, '"')
				o.b = dst.AppendTo(o.b)
				o.b = append(o.b, '"')
			}
			o.b = append(o.b, ']')
		}
	}
	uids := [3]uint32{p.EUID, p.UID, p.AUID}
	n := 2
	if p.AUID != event.NoUID {
		n = 3
	}
	o.key("user")
	o.b = append(o.b, '[')
	first := true
	for i := 0; i < n; i++ {
		if (i >= 1 && uids[i] == uids[0]) || (i == 2 && uids[2] == uids[1]) {
			continue
		}
		if !first {
			o.b = append(o.b, ',')
		}
		first = false
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, uint64(uids[i]), 10)
		o.b = append(o.b, '"')
		if name, _ := Redact(e.nameFor(ev, uids[i])); name != "" {
			o.b = append(o.b, ',')
			o.b = appendString(o.b, name)
		}
	}
	o.b = append(o.b, ']')
	o.close()
}
