//go:build linux

package sensor

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// tlsSymbols are the libssl functions whose plaintext argument is sampled.
var tlsSymbols = []string{"SSL_write", "SSL_write_ex"}

// tlsProbes attaches the SSL_write uprobe to each libssl file once. A
// uprobe is set on a file (inode), so one attachment covers every process
// that maps that file, whenever it starts.
type tlsProbes struct {
	prog  *ebpf.Program
	mu    sync.Mutex
	seen  map[[2]uint64]string // (dev, ino) -> path attached
	links []io.Closer
	pids  chan uint32
	done  map[uint32]struct{} // processes whose maps were read
}

func newTLSProbes(prog *ebpf.Program) *tlsProbes {
	return &tlsProbes{prog: prog, seen: map[[2]uint64]string{}, pids: make(chan uint32, 256), done: map[uint32]struct{}{}}
}

// attach sets the probes on the libssl at path, once per file.
func (t *tlsProbes) attach(path string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return false, err
	}
	key := [2]uint64{st.Dev, st.Ino}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[key]; ok {
		return false, nil
	}
	n := 0
	var errs []error
	for _, sym := range tlsSymbols {
		l, err := attachUprobe(t.prog, path, sym)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sym, err))
			continue
		}
		t.links = append(t.links, l)
		n++
	}
	if n == 0 {
		return false, errors.Join(errs...)
	}
	t.seen[key] = path
	return true, nil
}

// discover reads a process's maps for libssl copies not probed yet (a
// container's own, a bundled one), through /proc/PID/root so paths inside
// containers resolve.
func (t *tlsProbes) discover(pid uint32) []string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var attached []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, "/")
		if i < 0 || !strings.Contains(line[i:], "libssl.so") {
			continue
		}
		p := filepath.Join(fmt.Sprintf("/proc/%d/root", pid), line[i:])
		if ok, err := t.attach(p); err == nil && ok {
			attached = append(attached, line[i:])
		}
	}
	return attached
}

// attachUprobe attaches prog at symbol in the ELF file at path through the
// kernel's uprobe PMU and a BPF perf-event link. (cilium/ebpf's
// OpenExecutable insists on an execute bit, which shared libraries such as
// Debian's libssl.so.3 (0644) do not have; the kernel does not need it.)
func attachUprobe(prog *ebpf.Program, path, symbol string) (io.Closer, error) {
	off, err := symbolOffset(path, symbol)
	if err != nil {
		return nil, err
	}
	pmu, err := os.ReadFile("/sys/bus/event_source/devices/uprobe/type")
	if err != nil {
		return nil, fmt.Errorf("uprobe PMU: %w", err)
	}
	typ, err := strconv.ParseUint(strings.TrimSpace(string(pmu)), 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uprobe PMU type: %w", err)
	}
	cpath, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	attr := unix.PerfEventAttr{
		Type:   uint32(typ),
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: 1,
		Wakeup: 1,
		Ext1:   uint64(uintptr(unsafe.Pointer(cpath))), // config1: the path
		Ext2:   off,                                    // config2: the file offset
	}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	runtime.KeepAlive(cpath)
	if err != nil {
		return nil, fmt.Errorf("perf_event_open uprobe %s:%s: %w", path, symbol, err)
	}
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
	if err == nil {
		unix.Close(fd) // the link keeps the event alive
		return l, nil
	}
	// BPF links for perf events came in 5.15; before, the program is set
	// on the event with an ioctl and the event's fd is kept open.
	if ierr := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); ierr != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("link uprobe %s:%s: %w (and PERF_EVENT_IOC_SET_BPF: %v)", path, symbol, err, ierr)
	}
	if ierr := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); ierr != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("enable uprobe %s:%s: %w", path, symbol, ierr)
	}
	return perfEventFD(fd), nil
}

// perfEventFD is a uprobe attached with PERF_EVENT_IOC_SET_BPF: closing
// the event detaches the program.
type perfEventFD int

func (fd perfEventFD) Close() error {
	unix.IoctlSetInt(int(fd), unix.PERF_EVENT_IOC_DISABLE, 0)
	return unix.Close(int(fd))
}

// symbolOffset is the file offset of a function symbol, as uprobes take it.
func symbolOffset(path, symbol string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	syms, _ := f.DynamicSymbols()
	if more, err := f.Symbols(); err == nil {
		syms = append(syms, more...)
	}
	for _, s := range syms {
		if s.Name != symbol || elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 {
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Memsz {
				return s.Value - p.Vaddr + p.Off, nil
			}
		}
		return s.Value, nil
	}
	return 0, fmt.Errorf("%s has no function %s", path, symbol)
}

func (t *tlsProbes) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.links {
		l.Close()
	}
	t.links = nil
}

// AttachTLS probes libssl files matching the patterns; returns the paths
// attached. A pattern that matches nothing is not an error.
func (s *Sensor) AttachTLS(patterns []string) ([]string, error) {
	if s.tls == nil {
		return nil, errors.New("TLS probe program not loaded")
	}
	var out []string
	for _, pat := range patterns {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return out, fmt.Errorf("content.tls_libraries %q: %w", pat, err)
		}
		for _, m := range matches {
			ok, err := s.tls.attach(m)
			if err != nil {
				s.log.Warn("cannot probe TLS library", "path", m, "error", err)
				continue
			}
			if ok {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// noteConnect asks the TLS discoverer to look at a process that just
// connected; it never waits (a full queue skips the look).
func (s *Sensor) noteConnect(pid uint32) {
	if s.tls == nil {
		return
	}
	select {
	case s.tls.pids <- pid:
	default:
	}
}

// runTLSDiscovery reads the maps of connecting processes until stop.
func (s *Sensor) runTLSDiscovery(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case pid := <-s.tls.pids:
			if _, ok := s.tls.done[pid]; ok {
				continue
			}
			if len(s.tls.done) > 65536 {
				clear(s.tls.done)
			}
			s.tls.done[pid] = struct{}{}
			for _, p := range s.tls.discover(pid) {
				s.log.Info("probing TLS library", "path", p, "found_in_pid", pid)
			}
		}
	}
}
