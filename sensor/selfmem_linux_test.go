package sensor

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
)

// Opening the sensor's /proc/<pid>/mem (root may read and write another
// process's memory through it without ptrace) is reported like ptrace,
// for the process and for one of its threads; the same open of another
// process's mem is not.
func TestSelfMemOpened(t *testing.T) {
	dir, _ := protectedDir(t)
	h := startSensor(t, dir)
	self := os.Getpid()
	threads, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", self))
	if err != nil || len(threads) < 2 {
		t.Fatalf("threads of the test process: %v (%d)", err, len(threads))
	}
	tid := threads[len(threads)-1].Name()
	pid := run(t, "/", "sh", "-c", fmt.Sprintf(`exec 3</proc/%d/mem 4<>/proc/%d/task/%s/mem 5</proc/self/mem`, self, self, tid))
	mem := func(flagsAcc int) *event.Event {
		return h.WaitFor(fmt.Sprintf("open of the sensor's mem (access mode %d)", flagsAcc), func(e *event.Event) bool {
			return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid && e.Self.Syscall == 257 && int(e.Self.Request)&3 == flagsAcc
		})
	}
	r, rw := mem(0), mem(2)
	if r.Self.TargetPID != uint32(self) || !r.Has(event.FlagSelf) || r.Self.Ret < 0 {
		t.Errorf("read-only open: %+v", r.Self)
	}
	if rw.Self.TargetPID != uint32(self) || fmt.Sprint(rw.Self.TargetTID) != tid {
		t.Errorf("read-write open of thread %s: %+v", tid, rw.Self)
	}
	h.Settle()
	n := 0
	for _, e := range h.All(func(e *event.Event) bool { return e.Op == event.OpSelfPtrace && int(e.Proc.PID) == pid }) {
		n++
		if e.Self.TargetPID != uint32(self) {
			t.Errorf("an open of another process's mem was reported: %+v", e.Self)
		}
	}
	if n != 2 {
		t.Errorf("%d self-memory events, want 2:\n%s", n, strings.TrimSpace(h.Dump()))
	}
}
