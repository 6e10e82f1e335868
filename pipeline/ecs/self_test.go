package ecs

import (
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

func TestSelfProtectionDocuments(t *testing.T) {
	enc := testEncoder()
	kill := proc()
	kill.Comm = "kill"
	cases := []struct {
		name string
		ev   *event.Event
		want map[string]any
	}{
		{"signal", &event.Event{Op: event.OpSelfSignal, Flags: event.FlagSelf, Time: t0, Proc: kill,
			Self: &event.Self{Signal: 10, TargetPID: 812, TargetTID: 815}},
			map[string]any{"event.action": "signal", "event.kind": "event", "event.outcome": "success",
				"process.name": "kill", "process.pid": float64(4242), "bansho.self_target": true,
				"bansho.signal.number": float64(10), "bansho.signal.name": "SIGUSR1", "bansho.target.pid": float64(812)}},
		{"ptrace refused", &event.Event{Op: event.OpSelfPtrace, Flags: event.FlagSelf, Time: t0, Proc: proc(),
			Self: &event.Self{Syscall: 101, Request: 0x4206, Ret: -1, TargetPID: 812, TargetTID: 812}},
			map[string]any{"event.action": "ptrace", "event.outcome": "failure", "bansho.ptrace.syscall": "ptrace",
				"bansho.ptrace.request_name": "PTRACE_SEIZE", "bansho.self_target": true, "bansho.target.tid": float64(812)}},
		{"process_vm_readv", &event.Event{Op: event.OpSelfPtrace, Flags: event.FlagSelf, Time: t0, Proc: proc(),
			Self: &event.Self{Syscall: 310, TargetPID: 812}},
			map[string]any{"event.action": "ptrace", "bansho.ptrace.syscall": "process_vm_readv", "bansho.ptrace.request": nil}},
		{"pidfd_getfd", &event.Event{Op: event.OpSelfPtrace, Flags: event.FlagSelf, Time: t0, Proc: proc(),
			Self: &event.Self{Syscall: 438, Request: 9, Ret: 5, TargetPID: 812}},
			map[string]any{"bansho.ptrace.syscall": "pidfd_getfd", "bansho.ptrace.target_fd": float64(9),
				"bansho.ptrace.request_name": nil, "event.outcome": "success"}},
		{"detach", &event.Event{Op: event.OpSelfDetach, Flags: event.FlagSelf, Time: t0, Proc: daemon(),
			Self: &event.Self{Detached: []string{"on_exec (tracepoint sched_process_exec): link 7 no longer exists"}}},
			map[string]any{"event.kind": "alert", "event.action": "bpf-detach", "bansho.self_target": true,
				"process.pid": nil}},
		{"integrity write", &event.Event{Op: event.OpFileOpen, Flags: event.FlagIntegrity, Time: t0, Proc: proc(),
			File: &event.File{Syscall: 257, Ret: 3, FD: 3, Flags: 01101, Path: "/usr/bin/ls"}},
			map[string]any{"event.action": "open", "bansho.file.integrity": true, "bansho.file.protected": false,
				"bansho.self_target": nil}},
		{"own config", &event.Event{Op: event.OpFileNS, Flags: event.FlagIntegrity | event.FlagSelf, Time: t0, Proc: proc(),
			File: &event.File{Syscall: 82, Kind: event.NSRename, FD: -1, Path: "/etc/bansho/bansho.yaml"}},
			map[string]any{"event.action": "rename", "bansho.file.integrity": true, "bansho.self_target": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := checkDocument(t, enc.Append(nil, c.ev))
			for k, want := range c.want {
				got := lookup(doc, k)
				if n, ok := got.(interface{ Float64() (float64, error) }); ok {
					got, _ = n.Float64()
				}
				if got != want {
					t.Errorf("%s = %v (%T), want %v", k, got, got, want)
				}
			}
		})
	}
}

func lookup(m map[string]any, path string) any {
	var cur any = m
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[path[start:i]]
		start = i + 1
	}
	return cur
}
