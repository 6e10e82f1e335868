package daemon

import (
	"net"
	"os"
	"strconv"
	"time"
)

// sdNotifier speaks systemd's notify protocol (sd_notify(3)): one unix
// datagram per state change to $NOTIFY_SOCKET. Without the variable (not
// under systemd, or no Type=notify) it does nothing.
type sdNotifier struct {
	addr *net.UnixAddr
}

func newSDNotifier() *sdNotifier {
	p := os.Getenv("NOTIFY_SOCKET")
	if p == "" {
		return &sdNotifier{}
	}
	if p[0] == '@' {
		p = "\x00" + p[1:] // abstract socket
	}
	return &sdNotifier{addr: &net.UnixAddr{Name: p, Net: "unixgram"}}
}

// send writes one state line ("READY=1", "STOPPING=1", "WATCHDOG=1").
// Errors are ignored: systemd not listening must not stop the sensor.
func (n *sdNotifier) send(state string) {
	if n.addr == nil {
		return
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}

// watchdogInterval is WatchdogSec when systemd asked this process for
// pings ($WATCHDOG_USEC, and $WATCHDOG_PID unset or ours), else 0.
func (n *sdNotifier) watchdogInterval() time.Duration {
	if n.addr == nil {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}
