//go:build linux

package sensor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// hook is one kernel program and what losing it costs.
type hook struct {
	prog       string // program name in the object
	tracepoint string // tp_btf target
	optional   bool
	ctime      bool   // one of the ctime tracepoints: the path_changes feature
	lost       string // what goes unreported when an optional hook is missing
}

// hooks are the programs attached to tracepoints. The sys_exit family
// programs (sys_open, sys_write...) are not: on_sys_exit tail-calls them
// through the sys_progs array, which the collection fills at load.
var hooks = []hook{
	{prog: "on_exec", tracepoint: "sched_process_exec"},
	{prog: "on_fork", tracepoint: "sched_process_fork"},
	{prog: "on_exit", tracepoint: "sched_process_exit"},
	{prog: "on_exit_group", tracepoint: "sched_process_exit"},
	{prog: "on_sys_exit", tracepoint: "sys_exit"},
	{prog: "on_ctime_set", tracepoint: "inode_set_ctime_to_ts", optional: true, ctime: true,
		lost: "rename, unlink, link, chmod, chown and truncate by path on file systems without multigrain timestamps"},
	{prog: "on_ctime_xchg", tracepoint: "ctime_ns_xchg", optional: true, ctime: true,
		lost: "rename, unlink, link, chmod, chown and truncate by path on multigrain file systems (ext4, xfs, btrfs, tmpfs)"},
	{prog: "on_ctime_skip", tracepoint: "ctime_xchg_skip", optional: true, ctime: true,
		lost: "namespace changes that leave a multigrain ctime unchanged"},
	{prog: "on_signal", tracepoint: "signal_generate", optional: true,
		lost: "signals sent to the sensor by other processes"},
}

// programOptions are the load options of every program; the budget test
// asks the verifier for its statistics with them.
var programOptions ebpf.ProgramOptions

// Sensor owns the loaded kernel objects and their attachments.
type Sensor struct {
	cfg       Config
	log       *slog.Logger
	coll      *ebpf.Collection
	maps      sensorMaps
	links     []link.Link
	protected []ProtectedDir
	missing   []string // optional hooks not attached, with what is lost
	object    Object
	features  []Feature
	nsColl    *ebpf.Collection // fentry path-change hooks, where used
	nsLinks   map[string]link.Link

	probeMu sync.Mutex
	inoBits inoFilter
	rstats  ReaderStats

	foldSummaries, foldHeadsMissing, foldHeadsDropped atomic.Uint64
	foldSwept                                         atomic.Uint64 // summaries of windows userspace closed
	tls                                               *tlsProbes
}

// ProtectedDir is a configured directory and the identity the kernel uses.
type ProtectedDir struct {
	Path string
	Dev  uint64 // kernel dev_t
	Ino  uint64
}

// Preflight checks what the sensor needs before anything is loaded, so a
// wrong setup stops with one message naming the cause.
func Preflight(cfg Config) error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("unsupported architecture %s: the kernel programs decode x86_64 syscalls", runtime.GOARCH)
	}
	if os.Geteuid() != 0 {
		return errors.New("bansho must run as root (it needs CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE and CAP_SYS_PTRACE to load and attach its programs)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("kernel BTF not found at /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF=y is required): %w", err)
	}
	return cfg.Validate()
}

// New loads and attaches the kernel programs and registers the protected
// directories. The caller must Close the sensor.
func New(cfg Config, log *slog.Logger) (*Sensor, error) {
	cfg = cfg.withDefaults()
	if err := Preflight(cfg); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		return nil, fmt.Errorf("read kernel BTF: %w", err)
	}
	obj, spec, reads, err := chooseObject(kernel)
	if err != nil {
		return nil, err
	}
	s := &Sensor{cfg: cfg, log: log, object: obj, features: objectFeatures(obj, reads)}
	// sched_process_exit passes group_dead from 6.16 on: keep the
	// program written for the kernel's shape.
	if tracepointArgs(kernel, "sched_process_exit") >= 2 {
		delete(spec.Programs, "on_exit")
	} else {
		delete(spec.Programs, "on_exit_group")
	}
	for _, h := range hooks {
		if _, ok := spec.Programs[h.prog]; !ok {
			continue
		}
		if tracepointArgs(kernel, h.tracepoint) >= 0 {
			if h.optional && !h.ctime {
				s.features = append(s.features, Feature{Name: h.tracepoint, Enabled: true})
			}
			continue
		}
		if !h.optional {
			return nil, fmt.Errorf("kernel has no tracepoint %s, which bansho requires", h.tracepoint)
		}
		delete(spec.Programs, h.prog)
		s.missing = append(s.missing, h.tracepoint+": "+h.lost)
		if !h.ctime {
			s.features = append(s.features, Feature{Name: h.tracepoint, Reason: "the kernel has no tracepoint " + h.tracepoint, Lost: h.lost})
		}
	}
	// Path changes come from the ctime tracepoints (6.13 on) or, before,
	// from fentry on the security_inode_* hooks, loaded apart from the rest
	// (nsHooks) so that a kernel refusing fentry costs only this feature.
	useFentry := tracepointArgs(kernel, "ctime_ns_xchg") < 0 && tracepointArgs(kernel, "inode_set_ctime_to_ts") < 0
	switch os.Getenv(NSHooksEnv) {
	case "off":
		useFentry = false
	case "fentry":
		useFentry = true
		for _, h := range hooks {
			if h.ctime {
				delete(spec.Programs, h.prog)
			}
		}
	}
	nsSpec := splitNSHooks(spec, kernel, useFentry)

	if err := setVars(spec, map[string]any{
		"self_tgid":      uint32(os.Getpid()),
		"wakeup_bytes":   uint64(cfg.WakeupBytes),
		"send_dedupe_ns": uint64(cfg.SendDedupe.Nanoseconds()),
		"trace_accept":   boolByte(cfg.TraceAccept),
		"trace_udp_send": boolByte(cfg.TraceUDPSend),
		"sample_bytes":   uint32(cfg.SampleBytes),
		"fold_window_ns": uint64(cfg.FoldWindow.Nanoseconds()),
	}); err != nil {
		return nil, err
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingBufferBytes)
	words, err := pidWords("/proc")
	if err != nil {
		return nil, err
	}
	spec.Maps["proc_present"].MaxEntries = words

	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: programOptions})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("kernel verifier rejected a program: %+v", ve)
		}
		return nil, fmt.Errorf("load programs: %w", err)
	}
	s.coll = coll
	if err := s.maps.from(coll); err != nil {
		coll.Close()
		return nil, err
	}
	s.inoBits.bits = s.maps.inoUserBits
	for _, h := range hooks {
		p := coll.Programs[h.prog]
		if p == nil {
			continue
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("attach %s to tracepoint %s: %w", h.prog, h.tracepoint, err)
		}
		s.links = append(s.links, l)
	}
	s.features = append(s.features, s.attachNSHooks(nsSpec))
	log.Info("kernel object loaded", "object", string(obj))
	for _, f := range s.features {
		if !f.Enabled {
			log.Warn("kernel feature off, continuing without it", "feature", f.Name, "reason", f.Reason, "lost", f.Lost)
		}
	}
	if p := coll.Programs["on_ssl_write"]; p != nil && cfg.SampleBytes > 0 {
		s.tls = newTLSProbes(p)
	}
	if err := s.registerProtected(cfg.ProtectPaths); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// sensorMaps are the maps userspace reads or writes. Programs are taken
// from the collection by name, since optional ones may be absent.
type sensorMaps struct {
	events, stats, drops                          *ebpf.Map
	protectedDirs, protectedInodes                *ebpf.Map
	selfProbe, fdTable, procStates                *ebpf.Map
	generation, foldMap, procPresent, inoUserBits *ebpf.Map
}

func (m *sensorMaps) from(c *ebpf.Collection) error {
	for name, dst := range map[string]**ebpf.Map{
		"events": &m.events, "stats": &m.stats, "drops": &m.drops,
		"protected_dirs": &m.protectedDirs, "protected_inodes": &m.protectedInodes,
		"self_probe": &m.selfProbe, "fd_table": &m.fdTable, "proc_states": &m.procStates,
		"generation": &m.generation, "fold_map": &m.foldMap,
		"proc_present": &m.procPresent, "prot_ino_ubits": &m.inoUserBits,
	} {
		if *dst = c.Maps[name]; *dst == nil {
			return fmt.Errorf("object has no map %s", name)
		}
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func setVars(spec *ebpf.CollectionSpec, vars map[string]any) error {
	for name, v := range vars {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}

// KernelIdentity returns the (dev, ino) the kernel programs see for path.
// The sensor opens the path itself while the probe is armed; its own open is
// never traced otherwise. This is exact on every file system, including
// overlayfs and btrfs subvolumes where stat(2) reports different numbers.
func (s *Sensor) KernelIdentity(p string) (dev, ino uint64, err error) {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	// Just after attach an open can come before the hook is live on every
	// CPU (seen once in the kernel matrix, on an emulated CPU): try again
	// a few times before calling the path unseen.
	for try := 0; ; try++ {
		dev, ino, err = s.kernelIdentityOnce(p)
		if !errors.Is(err, errProbeUnseen) || try == 4 {
			return dev, ino, err
		}
		time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
	}
}

// errProbeUnseen: the identity probe's open did not reach the kernel side.
var errProbeUnseen = errors.New("the kernel did not see the open")

func (s *Sensor) kernelIdentityOnce(p string) (dev, ino uint64, err error) {
	zero := uint32(0)
	armed := banshoSelfProbe{Armed: 1}
	if err := s.maps.selfProbe.Put(zero, armed); err != nil {
		return 0, 0, fmt.Errorf("arm identity probe: %w", err)
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		_ = s.maps.selfProbe.Put(zero, banshoSelfProbe{})
		return 0, 0, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	unix.Close(fd)
	var got banshoSelfProbe
	if err := s.maps.selfProbe.Lookup(zero, &got); err != nil {
		return 0, 0, fmt.Errorf("read identity probe: %w", err)
	}
	if got.Armed != 0 {
		_ = s.maps.selfProbe.Put(zero, banshoSelfProbe{})
		return 0, 0, fmt.Errorf("identity probe for %s: %w", p, errProbeUnseen)
	}
	return got.Dev, got.Ino, nil
}

// registerProtected puts each protected directory's kernel identity in the
// protected_dirs map, and every multiply-linked file under it in
// protected_inodes, so that a hard link made before the sensor started is
// caught wherever it is opened from.
func (s *Sensor) registerProtected(paths []string) error {
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("protect.paths[%d] %q: %w", i, p, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("protect.paths[%d] %q: %w", i, p, err)
		}
		dev, ino, err := s.KernelIdentity(real)
		if err != nil {
			return fmt.Errorf("protect.paths[%d] %q: %w", i, p, err)
		}
		key := banshoInodeKey{Dev: dev, Ino: ino}
		if err := s.maps.protectedDirs.Put(key, uint32(i)); err != nil {
			return fmt.Errorf("protect.paths[%d] %q: add to kernel map: %w", i, p, err)
		}
		s.protected = append(s.protected, ProtectedDir{Path: real, Dev: dev, Ino: ino})
	}
	n, err := s.registerHardLinks()
	if err != nil {
		return err
	}
	if err := s.bumpGeneration(); err != nil {
		return err
	}
	s.log.Info("protected directories registered", "dirs", len(s.protected), "hard_linked_files", n)
	return nil
}

func (s *Sensor) registerHardLinks() (int, error) {
	n := 0
	one := uint32(1)
	for _, pd := range s.protected {
		err := filepath.WalkDir(pd.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				s.log.Warn("protected directory walk", "path", p, "error", err)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*unix.Stat_t)
			if !ok {
				// os.FileInfo from WalkDir carries syscall.Stat_t.
				var us unix.Stat_t
				if unix.Lstat(p, &us) != nil {
					return nil
				}
				st = &us
			}
			if st.Nlink < 2 {
				return nil
			}
			dev, ino, err := s.KernelIdentity(p)
			if err != nil {
				return nil
			}
			if err := s.putProtectedInode(banshoInodeKey{Dev: dev, Ino: ino}, one); err == nil {
				n++
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("walk %s: %w", pd.Path, err)
		}
	}
	return n, nil
}

// bumpGeneration invalidates the kernel's cached directory verdicts; call
// it after every change to the protected set.
func (s *Sensor) bumpGeneration() error {
	var g uint64
	zero := uint32(0)
	if err := s.maps.generation.Lookup(zero, &g); err != nil {
		return fmt.Errorf("read verdict generation: %w", err)
	}
	if err := s.maps.generation.Put(zero, g+1); err != nil {
		return fmt.Errorf("bump verdict generation: %w", err)
	}
	return nil
}

// Protected lists the registered directories with their kernel identity.
func (s *Sensor) Protected() []ProtectedDir { return s.protected }

// foldCapacity is how many fold windows the kernel can hold at once.
func (s *Sensor) foldCapacity() int { return int(s.maps.foldMap.MaxEntries()) }

// MissingHooks lists optional hooks that are not attached, with what is lost.
func (s *Sensor) MissingHooks() []string { return s.missing }

// Object is the kernel object loaded for this kernel.
func (s *Sensor) Object() Object { return s.object }

// Features lists what the kernel side does on this kernel, and what it
// cannot, with the reason.
func (s *Sensor) Features() []Feature { return append([]Feature(nil), s.features...) }

func (s *Sensor) closeLinks() {
	for _, l := range s.links {
		l.Close()
	}
	s.links = nil
}

// Close detaches the programs and frees the maps.
func (s *Sensor) Close() error {
	if s.tls != nil {
		s.tls.close()
	}
	s.closeLinks()
	if s.nsColl != nil {
		s.nsColl.Close()
	}
	if s.coll != nil {
		s.coll.Close()
	}
	return nil
}
