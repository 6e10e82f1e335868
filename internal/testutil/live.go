package testutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bansho-sec/bansho/internal/event"
)

// Live collects the events of a sensor running on the real kernel (or of a
// stage behind one) so that a test can wait for what a real program did.
// It knows nothing of the sensor package, whose own tests use it: the
// caller starts the sensor and hands over the channel its events come on.
type Live struct {
	t      *testing.T
	mu     sync.Mutex
	events []*event.Event
	cancel context.CancelFunc
	done   chan struct{}
}

// WaitTimeout is how long WaitFor polls before it fails the test.
const WaitTimeout = 5 * time.Second

// StartLive calls start with a context that Stop cancels; start returns
// the channel the events arrive on, which its producer closes once the
// context is cancelled and the last event is sent. The test's cleanup
// stops the collection: cleanups registered before StartLive (closing the
// sensor) run after it.
func StartLive(t *testing.T, start func(ctx context.Context) <-chan *event.Event) *Live {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Live{t: t, cancel: cancel, done: make(chan struct{})}
	started := false
	t.Cleanup(func() {
		if started {
			l.Stop()
			return
		}
		cancel() // start failed the test: nothing to wait for
	})
	ch := start(ctx)
	started = true
	go func() {
		defer close(l.done)
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

// Logger is the sensor's logger in tests: quiet, and on stderr with -v.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Stop cancels the producer and waits for its last event. It may be
// called more than once.
func (l *Live) Stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel = nil
}

// Done is closed once the producer closed its channel.
func (l *Live) Done() <-chan struct{} { return l.done }

// WaitFor polls the collected events until pred matches one, and returns
// it; after WaitTimeout it fails the test with what was seen.
func (l *Live) WaitFor(what string, pred func(*event.Event) bool) *event.Event {
	l.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, ev := range l.events {
			if pred(ev) {
				l.mu.Unlock()
				return ev
			}
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	l.t.Fatalf("no event: %s\nseen:\n%s", what, l.Dump())
	return nil
}

// Settle waits until the ring buffer has been drained past now: it runs
// /bin/true with a marker argument and waits for that exec.
func (l *Live) Settle() {
	l.t.Helper()
	marker := fmt.Sprintf("settle-%d", time.Now().UnixNano())
	if err := exec.Command("/bin/true", marker).Run(); err != nil {
		l.t.Fatal(err)
	}
	l.WaitFor("settle marker", func(ev *event.Event) bool {
		return ev.Op == event.OpExec && ev.Exec != nil && len(ev.Exec.Args) == 2 && ev.Exec.Args[1] == marker
	})
}

// All returns the collected events pred matches, in arrival order.
func (l *Live) All(pred func(*event.Event) bool) []*event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*event.Event
	for _, ev := range l.events {
		if pred(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// Take returns the events collected so far and forgets them.
func (l *Live) Take() []*event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.events
	l.events = nil
	return evs
}

// Dump lists up to 60 collected events other than forks and exits, one a
// line, for a failure message.
func (l *Live) Dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	n := 0
	for _, ev := range l.events {
		if ev.Op == event.OpFork || ev.Op == event.OpExit {
			continue
		}
		if n++; n > 60 {
			b.WriteString("  ...\n")
			break
		}
		fmt.Fprintf(&b, "  %s pid=%d comm=%s", ev.Op, ev.Proc.PID, ev.Proc.Comm)
		if ev.File != nil {
			fmt.Fprintf(&b, " path=%q name=%q target=%q kind=%s ret=%d", ev.File.Path, ev.File.Name, ev.File.TargetPath, ev.File.Kind.Action(), ev.File.Ret)
		}
		if ev.Net != nil {
			fmt.Fprintf(&b, " %s -> %s ret=%d", ev.Net.Src, ev.Net.Dst, ev.Net.Ret)
		}
		if ev.Exec != nil {
			fmt.Fprintf(&b, " exe=%s args=%q", ev.Exec.Executable, ev.Exec.Args)
		}
		b.WriteString("\n")
	}
	return b.String()
}
