//go:build linux

package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/internal/testutil"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// The verifier's limits are 512 bytes of stack for a program's deepest
// call chain and 1,000,000 processed instructions. The gate leaves a
// margin, so that a change that eats it fails the day it is made.
const (
	budgetStack = 448
	budgetInsns = 600000
)

var (
	reProcessed  = regexp.MustCompile(`processed (\d+) insns`)
	reStackDepth = regexp.MustCompile(`(?m)^stack depth ([0-9+]+)$`)
	// From 7.0 the statistics list each subprogram on a line of its own.
	reSubprog = regexp.MustCompile(`(?m)^subprog (\d+) \(\S+\) .*\bstack (\d+)$`)
)

// verifierStats reads what the verifier reports at LogLevelStats: the
// instructions it processed and each subprogram's stack depth, in the
// order of the subprograms in the program (one "stack depth a+b+c" line
// before 7.0, a "subprog N (name) ... stack S" line each from 7.0).
func verifierStats(text string) (insns int, depths []int, err error) {
	m := reProcessed.FindStringSubmatch(text)
	if m == nil {
		return 0, nil, fmt.Errorf("no 'processed N insns' in the verifier log")
	}
	insns, _ = strconv.Atoi(m[1])
	d := reStackDepth.FindStringSubmatch(text)
	if d == nil {
		for _, m := range reSubprog.FindAllStringSubmatch(text, -1) {
			i, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			if i != len(depths) {
				return 0, nil, fmt.Errorf("verifier log: subprog %d where %d was due", i, len(depths))
			}
			depths = append(depths, n)
		}
		if len(depths) > 0 {
			return insns, depths, nil
		}
		lines := strings.Split(strings.TrimSpace(text), "\n")
		return 0, nil, fmt.Errorf("no stack depths in the verifier log, which ends: %q", lines[max(0, len(lines)-4):])
	}
	for _, part := range strings.Split(d[1], "+") {
		n, _ := strconv.Atoi(part)
		depths = append(depths, n)
	}
	return insns, depths, nil
}

// deepestChain is the most stack any call chain of a program can use, as
// the verifier counts it (each frame rounded up to 32 bytes), and that
// chain's functions. depths are the verifier's, in the order of the
// functions in the loaded program (its func infos); the calls, bpf-to-bpf
// and the callbacks bpf_loop runs, are read from the program's spec.
func deepestChain(p *ebpf.Program, spec *ebpf.ProgramSpec, depths []int) (int, []string, error) {
	info, err := p.Info()
	if err != nil {
		return 0, nil, err
	}
	funcs, err := info.FuncInfos()
	if err != nil {
		return 0, nil, fmt.Errorf("func infos: %w", err)
	}
	if len(funcs) != len(depths) {
		return 0, nil, fmt.Errorf("%d functions but %d stack depths", len(funcs), len(depths))
	}
	depth := map[string]int{}
	for i, f := range funcs {
		depth[f.Func.Name] = (depths[i] + 31) / 32 * 32
	}
	callees := map[string]map[string]bool{}
	fn := spec.Name
	for _, ins := range spec.Instructions {
		if sym := ins.Symbol(); sym != "" {
			fn = sym
		}
		if (ins.IsFunctionCall() || ins.IsFunctionReference()) && ins.Reference() != "" {
			if callees[fn] == nil {
				callees[fn] = map[string]bool{}
			}
			callees[fn][ins.Reference()] = true
		}
	}
	var walk func(f string, seen map[string]bool) (int, []string)
	walk = func(f string, seen map[string]bool) (int, []string) {
		best, chain := 0, []string(nil)
		seen[f] = true
		for c := range callees[f] {
			if seen[c] {
				continue
			}
			if n, ch := walk(c, seen); n > best {
				best, chain = n, ch
			}
		}
		delete(seen, f)
		return depth[f] + best, append([]string{f}, chain...)
	}
	n, chain := walk(spec.Name, map[string]bool{})
	return n, chain, nil
}

// loadableObjects are the objects this kernel can load: the portable one
// everywhere, the default one where its kfuncs are.
func loadableObjects(t *testing.T) []Object {
	kernel, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatalf("kernel BTF: %v", err)
	}
	objs := []Object{ObjectPortable}
	if missingKfunc(kernel) == "" {
		objs = append(objs, ObjectDefault)
	}
	return objs
}

// TestVerifierBudget loads every program of every object this kernel can
// load, as the sensor loads them, and fails when one is past the budget.
// Each figure is printed as a "bansho-budget:" line for the kernel matrix
// (make test-kernels), which tabulates them per kernel.
func TestVerifierBudget(t *testing.T) {
	testutil.RequireBPF(t)
	release := kernelRelease()
	for _, obj := range loadableObjects(t) {
		t.Run(string(obj), func(t *testing.T) {
			t.Setenv(ObjectEnv, string(obj))
			programOptions = ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats}
			defer func() { programOptions = ebpf.ProgramOptions{} }()
			cfg := DefaultConfig()
			cfg.ProtectPaths = []string{t.TempDir()}
			s, err := New(cfg, testutil.Logger())
			if err != nil {
				t.Fatalf("load %s object: %v", obj, err)
			}
			kernel, err := btf.LoadKernelSpec()
			if err != nil {
				t.Fatal(err)
			}
			_, spec, _, err := chooseObject(kernel)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			names := make([]string, 0, len(s.coll.Programs))
			// The fentry path-change hooks, where loaded, are a collection
			// of their own (nshooks.go).
			progs := map[string]*ebpf.Program{}
			for name, p := range s.coll.Programs {
				progs[name] = p
			}
			if s.nsColl != nil {
				for name, p := range s.nsColl.Programs {
					progs[name] = p
				}
			}
			for name := range progs {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				p := progs[name]
				insns, depths, err := verifierStats(p.VerifierLog)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				stack, chain, err := deepestChain(p, spec.Programs[name], depths)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				fmt.Printf("bansho-budget: kernel=%s object=%s program=%s insns=%d stack=%d chain=%s\n",
					release, obj, name, insns, stack, strings.Join(chain, ">"))
				if stack > budgetStack {
					t.Errorf("%s (%s object): %d bytes of stack in %s, over the budget of %d",
						name, obj, stack, strings.Join(chain, " > "), budgetStack)
				}
				if insns > budgetInsns {
					t.Errorf("%s (%s object): %d instructions processed, over the budget of %d", name, obj, insns, budgetInsns)
				}
			}
		})
	}
}

func TestVerifierStatsParse(t *testing.T) {
	log := "func#0 @0\nverification time 12 usec\nstack depth 64+0+32\nprocessed 1587 insns (limit 1000000) max_states_per_insn 4\n"
	insns, depths, err := verifierStats(log)
	if err != nil || insns != 1587 || fmt.Sprint(depths) != "[64 0 32]" {
		t.Fatalf("got insns %d depths %v err %v, want 1587, [64 0 32]", insns, depths, err)
	}
	if _, _, err := verifierStats("processed 5 insns\n"); err == nil {
		t.Fatal("a log without stack depth was accepted")
	}
	// 7.0 and later (as 7.3 prints it).
	log = "subprog 0 (on_ctime_set) static insns_self 150 insns_total 46529 stack 24\n" +
		"subprog 1 (ns_hit) static insns_self 4783 insns_total 46379 stack 88\n" +
		"subprog 2 (protected_step_body) global insns_self 141 insns_total 141 stack 40\n" +
		"processed 46529 insns (limit 1000000) max_states_per_insn 20 total_states 1488 peak_states 374 mark_read 0\n"
	insns, depths, err = verifierStats(log)
	if err != nil || insns != 46529 || fmt.Sprint(depths) != "[24 88 40]" {
		t.Fatalf("7.x log: got insns %d depths %v err %v, want 46529, [24 88 40]", insns, depths, err)
	}
}

// TestFeaturesAndTailCalls checks, on whatever kernel runs it, that the
// object the loader picks is the one the kernel's kfuncs call for, that
// every feature that is off says why, and that the sys_exit dispatcher's
// tail calls all land (a failed one would leave calls unexamined). The
// features are printed as "bansho-feature:" lines for the kernel matrix.
func TestFeaturesAndTailCalls(t *testing.T) {
	testutil.RequireBPF(t)
	dir, file := protectedDir(t)
	h := startSensor(t, dir)
	want := loadableObjects(t)[len(loadableObjects(t))-1]
	if os.Getenv(ObjectEnv) == "" && h.s.Object() != want {
		t.Errorf("loaded the %s object, want %s on this kernel", h.s.Object(), want)
	}
	fmt.Printf("bansho-feature: kernel=%s object=%s\n", kernelRelease(), h.s.Object())
	for _, f := range h.s.Features() {
		fmt.Printf("bansho-feature: kernel=%s %s\n", kernelRelease(), f)
		if !f.Enabled && f.Reason == "" {
			t.Errorf("feature %s is off without a reason", f.Name)
		}
	}
	// Calls of every family: open, read, write, close, dup, fchmod, rename,
	// connect.
	run(t, dir, "sh", "-c", "cat "+file+" > /dev/null; exec 3>"+file+"; echo x >&3; exec 4>&3; exec 3>&- 4>&-; chmod 600 "+file+"; mv "+file+" "+file+".2; mv "+file+".2 "+file)
	if err := exec.Command("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9 || true").Run(); err != nil {
		t.Logf("connect: %v", err)
	}
	h.WaitFor("open of the protected file", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File != nil && ev.File.Path == file
	})
	st, err := h.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Drops["tail_call_failed"]; n != 0 {
		t.Fatalf("%d sys_exit tail calls failed", n)
	}
}

// Where fentry is refused (this host's kernel build refuses it), forcing
// the fentry path-change hooks costs that feature only: the sensor starts,
// says why path_changes is off, and still reports opens.
func TestPathHooksRefusedIsNotFatal(t *testing.T) {
	testutil.RequireBPF(t)
	t.Setenv(NSHooksEnv, "fentry")
	dir, file := protectedDir(t)
	h := startSensor(t, dir)
	var path Feature
	for _, f := range h.s.Features() {
		if f.Name == "path_changes" {
			path = f
		}
	}
	if path.Name == "" {
		t.Fatalf("no path_changes feature in %v", h.s.Features())
	}
	if !path.Enabled && (!strings.Contains(path.Reason, "fentry") || path.Lost == "") {
		t.Errorf("path_changes off without saying why or what is lost: %+v", path)
	}
	t.Logf("path_changes with fentry forced: %s", path)
	run(t, dir, "cat", file)
	h.WaitFor("open of the protected file", func(ev *event.Event) bool {
		return ev.Op == event.OpFileOpen && ev.File != nil && ev.File.Path == file
	})
	if path.Enabled {
		// A kernel that allows fentry: a rename by path is reported.
		pid := run(t, dir, "mv", file, file+".moved")
		h.WaitFor("rename of the protected file", func(ev *event.Event) bool {
			return ev.Op == event.OpFileNS && int(ev.Proc.PID) == pid && ev.File.Kind == event.NSRename
		})
	}
}
