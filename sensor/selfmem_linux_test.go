package sensor

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// selfMemSensor starts the sensor in this process and returns it, the
// process's pid and the tid of one of its threads other than the first.
func selfMemSensor(t *testing.T) (*harness, int, string) {
	t.Helper()
	dir, _ := protectedDir(t)
	h := startSensor(t, dir)
	self := os.Getpid()
	threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", self))
	if err != nil || len(threads) < 2 {
		t.Fatalf("threads of the test process: %v (%d)", err, len(threads))
	}
	return h, self, threads[len(threads)-1].Name()
}

// Opening the sensor's /proc/<pid>/mem (root may read and write another
// process's memory through it without ptrace) is reported like ptrace,
// for the process and for one of its threads; the same open of another
// process's mem is not.
func TestSelfMemOpened(t *testing.T) {
	h, self, tid := selfMemSensor(t)
	pid := run(t, "/", "sh", "-c", fmt.Sprintf(`exec 3</proc/%d/mem 4<>/proc/%d/task/%s/mem 5</proc/self/mem`, self, self, tid))
	mem := func(flagsAcc int) *event.Event {
		return h.WaitFor(fmt.Sprintf("open of the sensor's mem (access mode %d)", flagsAcc), func(e *event.Event) bool {
			return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid && e.Self.Syscall == 257 && int(e.Self.Request)&3 == flagsAcc
		})
	}
	r := mem(0)
	if r.Self.TargetPID != uint32(self) || !r.Has(event.FlagSelf) || r.Self.Ret < 0 {
		t.Errorf("read-only open: %+v", r.Self)
	}
	want := 1 // without self_protection_threads, a thread's mem is not recognised
	if h.featureOn("self_protection_threads") {
		want = 2
		rw := mem(2)
		if rw.Self.TargetPID != uint32(self) || fmt.Sprint(rw.Self.TargetTID) != tid {
			t.Errorf("read-write open of thread %s: %+v", tid, rw.Self)
		}
	}
	h.Settle()
	n := 0
	for _, e := range h.All(func(e *event.Event) bool { return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid }) {
		n++
		if e.Self.TargetPID != uint32(self) {
			t.Errorf("an open of another process's mem was reported: %+v", e.Self)
		}
	}
	if n != want {
		t.Errorf("%d self-memory events, want %d:\n%s", n, want, strings.TrimSpace(h.Dump()))
	}
}

// A refused open of the sensor's mem (an unprivileged user fails the
// kernel's ptrace access check) is reported with its error, by an
// absolute name, a thread's name and a name relative to the cwd; a
// refused open of another process's mem is not.
func TestSelfMemOpenRefused(t *testing.T) {
	h, self, tid := selfMemSensor(t)
	// One access mode each (the sensor folds repeats of the same call and
	// flags by one process); `true` is not a special built-in, so a failed
	// redirection does not end the shell.
	script := fmt.Sprintf(`true </proc/%[1]d/mem; true <>/proc/%[1]d/task/%[2]s/mem; cd /proc/%[1]d && true >>mem; true >/proc/1/mem; exit 0`, self, tid)
	pid := run(t, "/", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/bin/sh", "-c", script)
	want := map[int]string{0: "", 2: tid, 1: ""} // access mode: the thread named, "" for the process
	if !h.featureOn("self_protection_threads") {
		delete(want, 2) // a thread's mem is not recognised
	}
	for acc, thread := range want {
		e := h.WaitFor(fmt.Sprintf("refused open of the sensor's mem (access mode %d)", acc), func(e *event.Event) bool {
			return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid && int(e.Self.Request)&3 == acc
		})
		if e.Self.Ret != -13 || e.Self.Syscall != 257 || e.Self.TargetPID != uint32(self) ||
			(thread != "" && fmt.Sprint(e.Self.TargetTID) != thread) {
			t.Errorf("access mode %d: %+v", acc, e.Self)
		}
	}
	h.Settle()
	if n := len(h.All(func(e *event.Event) bool { return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid })); n != len(want) {
		t.Errorf("%d self-memory events, want %d (none for pid 1):\n%s", n, len(want), strings.TrimSpace(h.Dump()))
	}
}
