//go:build linux

package sensor

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Object names the kernel object the loader chose (bpf/lib/common.h).
type Object string

const (
	// ObjectDefault reads kernel memory with direct loads through
	// BTF-typed pointers; it needs the kfuncs bpf_rdonly_cast and
	// bpf_task_from_pid (6.2 on), which also brings bpf_loop, task
	// storage and the BPF atomics.
	ObjectDefault Object = "default"
	// ObjectPortable runs from 5.10 on: helper reads, bounded loops,
	// atomic add only.
	ObjectPortable Object = "portable"
)

// ObjectEnv overrides the object the loader picks (tests load the
// portable object on a new kernel too).
const ObjectEnv = "BANSHO_BPF_OBJECT"

// Feature is one capability of the kernel side and whether this kernel
// gives it. A feature that is off never stops the sensor: what it would
// have reported goes unreported, and Lost says what that is.
type Feature struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"` // why it is off
	Lost    string `json:"lost,omitempty"`   // what goes unreported while it is off
}

func (f Feature) String() string {
	if f.Enabled {
		return f.Name + ": on"
	}
	s := f.Name + ": off: " + f.Reason
	if f.Lost != "" {
		s += " (not reported: " + f.Lost + ")"
	}
	return s
}

// hasKfunc reports whether the kernel's BTF declares the kfunc name.
func hasKfunc(kernel *btf.Spec, name string) bool {
	var fn *btf.Func
	return kernel.TypeByName(name, &fn) == nil
}

// missingKfunc is the first kfunc the default object needs that the
// kernel lacks, or "" when it can load the default object.
func missingKfunc(kernel *btf.Spec) string {
	for _, name := range []string{"bpf_rdonly_cast", "bpf_task_from_pid"} {
		if !hasKfunc(kernel, name) {
			return name
		}
	}
	return ""
}

// chooseObject picks the object for this kernel and returns its spec and
// the feature it decides.
func chooseObject(kernel *btf.Spec) (Object, *ebpf.CollectionSpec, Feature, error) {
	obj := ObjectPortable
	missing := missingKfunc(kernel)
	if missing == "" {
		obj = ObjectDefault
	}
	f := Feature{Name: "direct_kernel_reads", Enabled: obj == ObjectDefault}
	if missing != "" {
		f.Reason = "the kernel has no kfunc " + missing + " (6.2 or later): the portable object is loaded"
	}
	switch v := os.Getenv(ObjectEnv); v {
	case "":
	case string(ObjectDefault), string(ObjectPortable):
		obj = Object(v)
		f.Enabled = obj == ObjectDefault
		if !f.Enabled {
			f.Reason = ObjectEnv + "=" + v
		}
	default:
		return "", nil, f, fmt.Errorf("%s=%q: want %q or %q", ObjectEnv, v, ObjectDefault, ObjectPortable)
	}
	var spec *ebpf.CollectionSpec
	var err error
	if obj == ObjectDefault {
		spec, err = loadBansho()
	} else {
		spec, err = loadBanshoPortable()
	}
	if err != nil {
		return "", nil, f, fmt.Errorf("load %s object spec: %w", obj, err)
	}
	return obj, spec, f, nil
}

// objectFeatures are what the portable object does without.
func objectFeatures(obj Object, kernelReads Feature) []Feature {
	threads := Feature{Name: "self_protection_threads", Enabled: obj == ObjectDefault}
	if !threads.Enabled {
		threads.Reason = "needs the kfunc bpf_task_from_pid (6.2 or later)"
		threads.Lost = "ptrace, process_vm_readv/writev and /proc/<tid>/mem aimed at a sensor thread other than its main thread"
	}
	filters := Feature{Name: "bitmap_filters", Enabled: obj == ObjectDefault}
	if !filters.Enabled {
		filters.Reason = "needs BPF atomic or/and (5.12 or later); every call looks the process up in the hash map"
	}
	return []Feature{kernelReads, threads, filters}
}

// tracepointArgs is the number of arguments a BTF-enabled tracepoint
// passes to its programs, or -1 when the kernel has no such tracepoint.
func tracepointArgs(kernel *btf.Spec, tp string) int {
	var td *btf.Typedef
	if err := kernel.TypeByName("btf_trace_"+tp, &td); err != nil {
		return -1
	}
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return -1
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	if !ok {
		return -1
	}
	return len(proto.Params) - 1 // the first is the tracepoint's private data
}

// ProbeReport is what Probe found on this kernel.
type ProbeReport struct {
	Kernel   string    `json:"kernel"`
	Object   Object    `json:"object"`
	Programs int       `json:"programs"`
	Features []Feature `json:"features"`
}

// Probe loads and attaches the kernel programs as the sensor would (over
// an empty temporary protected directory), reports what this kernel
// gives, and unloads them. A trial load is the only exact answer: what
// the verifier accepts depends on the kernel's build, not its version.
func Probe(log *slog.Logger) (ProbeReport, error) {
	rep := ProbeReport{Kernel: kernelRelease()}
	dir, err := os.MkdirTemp("", "bansho-probe")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	cfg := DefaultConfig()
	cfg.ProtectPaths = []string{dir}
	s, err := New(cfg, log)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	rep.Object = s.Object()
	rep.Programs = len(s.coll.Programs)
	rep.Features = s.Features()
	return rep, nil
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
