package proctree

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// Each process carries its ancestors' entity ids, names and executables
// (made once, when it starts) and its command line; a process reparented
// to init keeps the lineage of the processes that started it; the
// lineage is bounded.
func TestLineageNamesAndReparenting(t *testing.T) {
	tb := New(Options{EntityID: func(pid uint32, start uint64) string { return fmt.Sprintf("e%d", pid) }})
	procs := map[uint32]event.Process{}
	clock := uint64(1000)
	apply := func(op event.Op, pid, ppid uint32, comm, exe string, args ...string) *Proc {
		k, ok := procs[pid]
		if !ok {
			clock += 1000
			k = event.Process{PID: pid, TID: pid, StartBoot: clock, AUID: event.NoUID}
		}
		k.PPID, k.ParentStartBoot = ppid, procs[ppid].StartBoot
		if comm != "" {
			k.Comm = comm
		} else {
			k.Comm = procs[ppid].Comm
		}
		procs[pid] = k
		ev := &event.Event{Op: op, Proc: k}
		if op == event.OpExec {
			ev.Exec = &event.Exec{Executable: exe, Args: args}
		}
		return tb.Apply(ev)
	}
	apply(event.OpExec, 1, 0, "systemd", "/usr/lib/systemd/systemd", "/sbin/init")
	apply(event.OpFork, 900, 1, "", "")
	apply(event.OpExec, 900, 1, "backup", "/usr/local/bin/backup", "backup", "--nightly")
	// backup -> 901 (exits) -> 902, reparented to init, then execs tar.
	apply(event.OpFork, 901, 900, "", "")
	c := apply(event.OpFork, 902, 901, "", "")
	if c.Info.CommandLine != "backup --nightly" {
		t.Errorf("forked child's command line %q, want its parent's", c.Info.CommandLine)
	}
	tb.Apply(&event.Event{Op: event.OpExit, Proc: procs[901], Exit: &event.Exit{}})
	p := apply(event.OpExec, 902, 1, "tar", "/usr/bin/tar", "tar", "-czf", "/backup/x.tgz")
	if p.Parent() == nil || p.Parent().PID != 1 {
		t.Fatalf("parent of the reparented process: %v", p.Parent())
	}
	if want := []string{"e901", "e900", "e1"}; !slices.Equal(p.Ancestors, want) {
		t.Errorf("ancestors %q, want %q (the starters, not init)", p.Ancestors, want)
	}
	if want := []string{"backup", "backup", "systemd"}; !slices.Equal(p.Lineage.Names, want) {
		t.Errorf("ancestor names %q, want %q", p.Lineage.Names, want)
	}
	if want := []string{"/usr/local/bin/backup", "/usr/local/bin/backup", "/usr/lib/systemd/systemd"}; !slices.Equal(p.Lineage.Executables, want) {
		t.Errorf("ancestor executables %q, want %q", p.Lineage.Executables, want)
	}
	if p.Info.CommandLine != "tar -czf /backup/x.tgz" {
		t.Errorf("command line %q", p.Info.CommandLine)
	}

	// A chain deeper than the bound: the nearest MaxAncestors.
	parent := uint32(1)
	for pid := uint32(2000); pid < 2040; pid++ {
		apply(event.OpFork, pid, parent, "", "")
		p = apply(event.OpExec, pid, parent, fmt.Sprintf("sh%d", pid), "/bin/sh", "sh")
		parent = pid
	}
	if len(p.Ancestors) != event.MaxAncestors || len(p.Lineage.Names) != event.MaxAncestors || len(p.Lineage.Executables) != event.MaxAncestors {
		t.Fatalf("lineage of %d, %d, %d; want %d each", len(p.Ancestors), len(p.Lineage.Names), len(p.Lineage.Executables), event.MaxAncestors)
	}
	if p.Lineage.Names[0] != "sh2038" || p.Ancestors[event.MaxAncestors-1] != fmt.Sprintf("e%d", 2039-event.MaxAncestors) {
		t.Errorf("nearest first: %q, %q", p.Lineage.Names[0], p.Ancestors[event.MaxAncestors-1])
	}
}
