//go:build linux

package sensor

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
)

// nsHooks are the fentry programs of bpf/ns.bpf.c: the inodes a rename,
// link, unlink, rmdir, mkdir, symlink or setattr changes, on kernels
// without the ctime tracepoints.
var nsHooks = []string{"on_ns_rename", "on_ns_link", "on_ns_unlink", "on_ns_rmdir",
	"on_ns_mkdir", "on_ns_symlink", "on_ns_setattr", "on_ns_setattr_idmap"}

// NSHooksEnv=fentry makes the loader use the fentry hooks even where the
// ctime tracepoints are (tests of the fallback); =off never attaches them.
const NSHooksEnv = "BANSHO_NS_HOOKS"

const pathChangesLost = "rename, unlink, link, mkdir, rmdir, symlink, chmod, chown and truncate by path"

// splitNSHooks takes the fentry programs out of spec and returns them as a
// collection of their own when use is set (the kernel has no ctime
// tracepoints), or nil. setattr has two shapes; the kernel's decides.
func splitNSHooks(spec *ebpf.CollectionSpec, kernel *btf.Spec, use bool) *ebpf.CollectionSpec {
	var ns *ebpf.CollectionSpec
	if use {
		ns = spec.Copy()
		ns.Programs = map[string]*ebpf.ProgramSpec{}
		for _, name := range nsHooks {
			if p := spec.Programs[name]; p != nil {
				ns.Programs[name] = p.Copy()
			}
		}
		drop := "on_ns_setattr_idmap"
		if setattrArgs(kernel) >= 3 {
			drop = "on_ns_setattr"
		}
		delete(ns.Programs, drop)
		// The maps come from the main collection; the program array's
		// slots are filled there.
		if pa := ns.Maps["sys_progs"]; pa != nil {
			pa.Contents = nil
		}
	}
	for _, name := range nsHooks {
		delete(spec.Programs, name)
	}
	return ns
}

// setattrArgs is the number of parameters of security_inode_setattr, or
// -1 when the kernel's BTF has no such function.
func setattrArgs(kernel *btf.Spec) int {
	var fn *btf.Func
	if err := kernel.TypeByName("security_inode_setattr", &fn); err != nil {
		return -1
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return -1
	}
	return len(proto.Params)
}

// attachNSHooks loads and attaches the fentry programs of ns (nil: the
// ctime tracepoints are attached) and says how path changes are seen.
// Nothing here stops the sensor: a kernel that refuses fentry (lockdown,
// no BPF trampoline) only loses the feature.
func (s *Sensor) attachNSHooks(ns *ebpf.CollectionSpec) Feature {
	f := Feature{Name: "path_changes", Enabled: true}
	if ns == nil {
		if s.coll.Programs["on_ctime_xchg"] == nil && s.coll.Programs["on_ctime_set"] == nil {
			return Feature{Name: "path_changes", Reason: NSHooksEnv + "=off and no ctime tracepoints", Lost: pathChangesLost}
		}
		return f // the ctime tracepoints
	}
	err := s.loadNSHooks(ns)
	if err != nil {
		return Feature{Name: "path_changes", Lost: pathChangesLost,
			Reason: "no ctime tracepoints (6.13 or later) to use, and fentry on security_inode_* was refused: " + err.Error()}
	}
	s.log.Info("path changes traced with fentry on security_inode_* (no ctime tracepoints)")
	return f
}

func (s *Sensor) loadNSHooks(ns *ebpf.CollectionSpec) error {
	coll, err := ebpf.NewCollectionWithOptions(ns, ebpf.CollectionOptions{
		MapReplacements: s.coll.Maps,
		Programs:        programOptions,
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("verifier: %v", ve)
		}
		return err
	}
	var links []link.Link
	for name, p := range coll.Programs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p})
		if err != nil {
			for _, l := range links {
				l.Close()
			}
			coll.Close()
			return fmt.Errorf("attach %s: %w", name, err)
		}
		links = append(links, l)
		if s.nsLinks == nil {
			s.nsLinks = map[string]link.Link{}
		}
		s.nsLinks[name] = l
	}
	s.links = append(s.links, links...)
	s.nsColl = coll
	return nil
}
