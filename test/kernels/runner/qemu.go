package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// runKernel boots one kernel until its /init reports, retrying a boot that
// never reached /init's first line (under TCG about one boot in ten crashed
// busybox at its first instruction), and parses what the tests printed.
func runKernel(ctx context.Context, cfg *config, k kernel, initrd string) *kernelResult {
	r := &kernelResult{Name: k.Name, Release: k.Release}
	vmlinuz := filepath.Join(cfg.cache, k.Name, "vmlinuz")
	if _, err := os.Stat(vmlinuz); err != nil {
		r.Problem = fmt.Sprintf("no kernel: %v (run test/kernels/fetch.sh)", err)
		logf("[%s] %s", k.Name, r.Problem)
		return r
	}
	// What the VM may take at most: its boot, every package's timeout plus
	// the outer kill's grace, and the dmesg dump and power-off.
	limit := cfg.bootTimeout + 60*time.Second
	if cfg.probe {
		limit += 360 * time.Second
	}
	for _, p := range cfg.packages {
		limit += time.Duration(p.Timeout+40) * time.Second
	}
	for attempt := 1; attempt <= cfg.retries+1; attempt++ {
		r.Attempts = attempt
		log := filepath.Join(cfg.out, k.Name+".log")
		if attempt > 1 {
			// Keep the failed boot's log beside the good one.
			os.Rename(log, filepath.Join(cfg.out, fmt.Sprintf("%s.boot%d.log", k.Name, attempt-1)))
		}
		r.Log = log
		res := bootOnce(ctx, cfg, k, vmlinuz, initrd, log, limit)
		r.Wall = res.wall
		r.ToInit = res.toInit
		if !res.reachedInit && ctx.Err() == nil {
			r.Retries = append(r.Retries, fmt.Sprintf("boot %d never reached /init: %s", attempt, res.why))
			logf("[%s] boot %d never reached /init (%s); %s", k.Name, attempt, res.why, map[bool]string{true: "retrying", false: "giving up"}[attempt <= cfg.retries])
			continue
		}
		b, _ := os.ReadFile(log)
		parseLog(r, string(b), cfg.packages)
		if !res.done && r.Problem == "" {
			r.Problem = res.why
		}
		break
	}
	if len(r.Pkgs) == 0 && r.Problem == "" {
		r.Problem = "no boot reached /init"
	}
	logf("[%s] %s", k.Name, r.summary())
	return r
}

type bootResult struct {
	reachedInit, done bool
	why               string
	wall, toInit      time.Duration
}

// bootOnce runs qemu and follows the serial log until /init's last line,
// qemu's exit, or the time limit (then qemu is killed).
func bootOnce(ctx context.Context, cfg *config, k kernel, vmlinuz, initrd, log string, limit time.Duration) bootResult {
	os.Remove(log)
	args := []string{
		// One host thread per VM and no cmpxchg16b: with multi-threaded
		// TCG, and with the emulated cmpxchg16b SLUB uses, Debian's 6.12.95
		// and 7.3 oopsed (corrupt flags, int3 in patched text) whether or
		// not bansho was loaded; without them none did.
		"-accel", "tcg,thread=single", "-cpu", "max,-cx16", "-m", cfg.mem, "-smp", strconv.Itoa(cfg.cpus),
		"-nographic", "-nodefaults", "-no-reboot", "-serial", "file:" + log,
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 rdinit=/init panic=-1",
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return bootResult{why: "qemu: " + err.Error()}
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		cmd.Process.Kill()
		<-exited
	}

	var res bootResult
	var seen int64 // bytes of the log already looked at
	var partial string
	boot := time.NewTimer(cfg.bootTimeout)
	defer boot.Stop()
	total := time.NewTimer(limit)
	defer total.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastPkg := ""
	// A package that does not end within its timeout (its binary's own
	// and the outer kill's are inside the VM) means the VM is stuck.
	timeouts := map[string]int{}
	for _, p := range cfg.packages {
		timeouts[p.Name] = p.Timeout
	}
	var deadline time.Time
	var oopsAt, grew time.Time
	// scan reads what the VM wrote since the last look and notes markers.
	scan := func() {
		f, err := os.Open(log)
		if err != nil {
			return
		}
		defer f.Close()
		f.Seek(seen, 0)
		buf := make([]byte, 1<<20)
		for {
			n, _ := f.Read(buf)
			if n == 0 {
				break
			}
			seen += int64(n)
			grew = time.Now()
			lines := strings.Split(partial+string(buf[:n]), "\n")
			partial = lines[len(lines)-1]
			for _, l := range lines[:len(lines)-1] {
				l = strings.TrimRight(l, "\r")
				switch {
				case strings.HasPrefix(l, "BKT start"):
					if !res.reachedInit {
						res.reachedInit = true
						res.toInit = time.Since(start)
						logf("[%s] /init reached %.1f s after qemu started", k.Name, res.toInit.Seconds())
					}
				case strings.HasPrefix(l, "BKT probe-begin"):
					lastPkg = "probe"
					deadline = time.Now().Add(360 * time.Second)
				case strings.HasPrefix(l, "BKT probe-end"):
					logf("[%s] probe: exit %s", k.Name, field(l, "rc"))
					deadline = time.Time{}
				case strings.HasPrefix(l, "BKT begin "):
					lastPkg = field(l, "pkg")
					deadline = time.Now().Add(time.Duration(timeouts[lastPkg]+60) * time.Second)
					logf("[%s] %s: running", k.Name, lastPkg)
				case strings.HasPrefix(l, "BKT end "):
					logf("[%s] %s: exit %s", k.Name, field(l, "pkg"), field(l, "rc"))
					deadline = time.Time{}
				case reOops.MatchString(l) && reStamp.MatchString(l) && oopsAt.IsZero():
					oopsAt = time.Now()
					logf("[%s] kernel: %s", k.Name, reOops.FindString(l))
				case strings.HasPrefix(l, "BKT done"):
					res.done = true
				}
			}
		}
	}
	for {
		select {
		case <-tick.C:
			scan()
			switch {
			case !deadline.IsZero() && time.Now().After(deadline):
				kill()
				res.why = fmt.Sprintf("%s did not end within its timeout; qemu killed", lastPkg)
				res.wall = time.Since(start)
				return res
			case !oopsAt.IsZero() && time.Since(grew) > 90*time.Second:
				kill()
				res.why = fmt.Sprintf("the VM stopped (nothing for 90 s after a kernel oops, in %s); qemu killed", orNone(lastPkg))
				res.wall = time.Since(start)
				return res
			}
			if res.done {
				// poweroff -f follows at once; give qemu a moment to exit.
				select {
				case <-exited:
				case <-time.After(20 * time.Second):
					kill()
				}
				res.wall = time.Since(start)
				return res
			}
		case <-boot.C:
			scan()
			if !res.reachedInit {
				kill()
				res.why = fmt.Sprintf("no /init line within %s", cfg.bootTimeout)
				res.wall = time.Since(start)
				return res
			}
		case <-total.C:
			kill()
			scan()
			res.why = fmt.Sprintf("timed out after %s (in %s); qemu killed", limit, orNone(lastPkg))
			res.wall = time.Since(start)
			return res
		case err := <-exited:
			scan()
			res.wall = time.Since(start)
			if !res.done {
				res.why = fmt.Sprintf("qemu exited (%v) before /init finished", err)
				if s := strings.TrimSpace(stderr.String()); s != "" {
					res.why += ": " + firstLine(s)
				}
				if p := panicLine(log); p != "" {
					res.why += "; " + p
				}
			}
			return res
		case <-ctx.Done():
			kill()
			res.why = "interrupted"
			res.wall = time.Since(start)
			return res
		}
	}
}

// panicLine is the kernel's panic message in a serial log, if any.
func panicLine(log string) string {
	b, _ := os.ReadFile(log)
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "Kernel panic"); i >= 0 {
			return strings.TrimSpace(l[i:])
		}
	}
	return ""
}

// runHost runs the same test binaries on this machine's kernel, with the
// same filters, writing a log in the VM's format.
func runHost(ctx context.Context, cfg *config) *kernelResult {
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r := &kernelResult{Name: "host", Release: strings.TrimSpace(string(rel)), Host: true, Attempts: 1}
	r.Log = filepath.Join(cfg.out, "host.log")
	var b bytes.Buffer
	start := time.Now()
	fmt.Fprintf(&b, "BKT start\nBKT env kernel=%s host=1\n", r.Release)
	if cfg.probe {
		fmt.Fprintf(&b, "BKT probe-begin uptime=%.2f\n", uptime())
		c, cancel := context.WithTimeout(ctx, 300*time.Second)
		cmd := exec.CommandContext(c, filepath.Join(cfg.out, "bin", "bansho"), "probe", "--json")
		cmd.Env = hostEnv()
		cmd.Stdout = &b
		cmd.Stderr = &b
		err := cmd.Run()
		cancel()
		fmt.Fprintf(&b, "\nBKT probe-end rc=%d uptime=%.2f\n", exitCode(err), uptime())
	}
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, "BKT begin pkg=%s run=%s timeout=%d uptime=%.2f\n", p.Name, p.Run, p.Timeout, uptime())
		logf("[host] %s: running", p.Name)
		c, cancel := context.WithTimeout(ctx, time.Duration(p.Timeout+30)*time.Second)
		cmd := exec.CommandContext(c, filepath.Join(cfg.out, "bin", p.Binary),
			"-test.v", "-test.count=1", fmt.Sprintf("-test.timeout=%ds", p.Timeout), "-test.run", p.Run)
		cmd.Dir = filepath.Join(cfg.repo, p.Dir)
		cmd.Env = hostEnv()
		cmd.Stdout = &b
		cmd.Stderr = &b
		err := cmd.Run()
		cancel()
		rc := exitCode(err)
		fmt.Fprintf(&b, "\nBKT end pkg=%s rc=%d uptime=%.2f\n", p.Name, rc, uptime())
		logf("[host] %s: exit %d", p.Name, rc)
	}
	b.WriteString("BKT done\n")
	r.Wall = time.Since(start)
	os.WriteFile(r.Log, b.Bytes(), 0o644)
	parseLog(r, b.String(), cfg.packages)
	logf("[host] %s", r.summary())
	return r
}

// hostEnv is this process's environment for the host's test binaries,
// without the matrix's own BANSHO_KERNEL* variables (bansho warns about
// unknown BANSHO_ variables, and the cmd tests check its warnings), with
// BANSHO_REQUIRE_BPF=1 and Go on PATH (cmd/bansho's TestMain builds).
func hostEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "BANSHO_KERNEL") || strings.HasPrefix(e, "BANSHO_REQUIRE_BPF=") || strings.HasPrefix(e, "PATH=") {
			continue
		}
		env = append(env, e)
	}
	return append(env, "BANSHO_REQUIRE_BPF=1", "PATH="+os.Getenv("PATH")+":/usr/local/go/bin")
}

// exitCode is a finished command's exit status, 137 when it was killed
// (as the VM's timeout -s KILL reports it).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if rc := ee.ExitCode(); rc >= 0 {
			return rc
		}
		return 137
	}
	return -1
}

func uptime() float64 {
	b, _ := os.ReadFile("/proc/uptime")
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

func orNone(s string) string {
	if s == "" {
		return "boot or set-up"
	}
	return s
}
