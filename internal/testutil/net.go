package testutil

import (
	"net"
	"sync"
	"testing"
)

// Listen listens on addr (network "tcp" or "tcp4") and accepts every
// connection in the background, holding it open until the test ends, when
// the listener and the connections are closed: a peer for the real
// programs a test runs, which keeps its socket's peer address while they
// look.
func Listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln
}
