//go:build linux

package sensor

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// What the kernel wrote before the stop is read out, not thrown away: a
// record submitted without a wakeup (below wakeup_bytes) sits in the ring
// until the next poll, and the stop comes before that poll.
func TestRunDrainsTheRingAtStop(t *testing.T) {
	h := startSensor(t, t.TempDir())
	h.Settle()
	var markers []string
	for i := 0; i < 20; i++ {
		m := fmt.Sprintf("drain-marker-%d-%d", time.Now().UnixNano(), i)
		if err := exec.Command("/bin/true", m).Run(); err != nil {
			t.Fatal(err)
		}
		markers = append(markers, m)
	}
	h.s.Detach()
	h.Stop()
	h.s.Close()
	seen := map[string]bool{}
	for _, ev := range h.All(func(ev *event.Event) bool { return ev.Op == event.OpExec && len(ev.Exec.Args) == 2 }) {
		seen[ev.Exec.Args[1]] = true
	}
	for _, m := range markers {
		if !seen[m] {
			t.Errorf("exec of %s, recorded before the stop, is not in the drained events", m)
		}
	}
	if st := h.s.rstats.QueueFull.Load(); st != 0 {
		t.Errorf("%d queue_full drops", st)
	}
}
