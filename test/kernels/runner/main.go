// Command runner boots each kernel of test/kernels/kernels.list under qemu
// (TCG) with the initramfs test/kernels/image.sh built, runs bansho's test
// binaries inside, optionally runs the same binaries on the host, and
// prints the matrix kernel x package as Markdown (also written to
// OUT/matrix.md, with each VM's serial log beside it). It exits 1 when any
// kernel failed. docs/kernels.md describes the environment variables.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pkgSpec is one test binary the matrix runs.
type pkgSpec struct {
	Name    string // sensor, enrich, cmd
	Dir     string // package directory from the repository root
	Binary  string // in OUT/bin and /opt/bansho/bin
	Run     string // -test.run
	Timeout int    // -test.timeout, seconds
}

// defaultPackages are the binaries and what of them runs by default. Under
// TCG every test that starts the sensor pays the verifier (5-15 s a load,
// and a test takes 10-25 s in all), so the kernel tests are a subset that
// covers each hook family once (docs/kernels.md has the timings), with
// some unit tests that need no BPF, which show the harness working where
// nothing loads. BANSHO_KERNEL_RUN_<PKG> or BANSHO_KERNEL_FULL=1 change it.
var defaultPackages = []pkgSpec{
	{Name: "sensor", Dir: "sensor", Binary: "sensor.test", Timeout: 600, Run: anchored(
		// unit tests: no BPF
		"TestDecode.*", "TestCompatRecordLayout", "TestPidWords", "TestVerifierStatsParse",
		// what loads: objects, features, tail calls, verifier budget
		"TestFeaturesAndTailCalls", "TestVerifierBudget",
		// exec/fork/exit, files and the ways of naming them, taint,
		// network, 32-bit programs, self-protection, TLS uprobes
		"TestProcessLifecycle", "TestOpenAndWriteProtected", "TestEvasionsAreCaught", "TestTaintFollowsData",
		"TestAttributeAndDeletionChanges", "TestPathHooksRefusedIsNotFatal", "TestVerdictCacheFollowsMoves",
		"TestConnectAcceptAndDatagrams", "TestSyscallCoverage", "TestCompatSyscallsReported",
		"TestSelfPtraced", "TestSelfMemOpened", "TestDetachDetected",
	)},
	{Name: "enrich", Dir: "pipeline/enrich", Binary: "enrich.test", Timeout: 300, Run: anchored(
		"TestParse.*", "TestUsers", "TestSplitImage", "TestHoldAndRetry", "TestCollector",
		"TestLoginUserSurvivesUserChanges", "TestContainerFromCgroup", "TestRealSSHSession",
	)},
	// The run tests wait BANSHO_TEST_START_WAIT (set by /init) for
	// sensor-started, which under TCG takes 15-25 s to come. The content
	// test uploads over HTTP and HTTPS: the SSL_write uprobes.
	{Name: "cmd", Dir: "cmd/bansho", Binary: "cmd.test", Timeout: 600, Run: anchored(
		"TestVersion", "TestConfigCheckGood", "TestConfigCheckBad", "TestBadConfigurationStopsWithOneMessage",
		"TestRulesCheckTestAndReplay", "TestProbe", "TestContentFindingsOnSendsAndCopies",
	)},
}

// anchored is a -test.run pattern matching exactly the given names.
func anchored(names ...string) string { return "^(" + strings.Join(names, "|") + ")$" }

// kernel is one line of kernels.list.
type kernel struct {
	Name, Suite, Package, Release string
}

type config struct {
	repo, here, out, cache string
	kernels                []kernel
	packages               []pkgSpec
	host, probe            bool
	jobs, cpus, retries    int
	bootTimeout            time.Duration
	mem                    string
}

func main() {
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	runCPIO := filepath.Join(cfg.out, "run.cpio")
	if err := writeRunImage(filepath.Join(cfg.out, "root.cpio"), runCPIO, vmConf(cfg)); err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
		os.Exit(2)
	}
	logf("%d kernels, %d at a time with %d vCPUs each; packages %s", len(cfg.kernels), cfg.jobs, cfg.cpus, pkgNames(cfg.packages))

	var results []*kernelResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	if cfg.host {
		// The host row runs first and alone: it would take CPU from the
		// VMs, whose timings the matrix reports.
		results = append(results, runHost(ctx, cfg))
	}
	sem := make(chan struct{}, cfg.jobs)
	for i, k := range cfg.kernels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := runKernel(ctx, cfg, k, runCPIO)
			r.order = i + 1
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].order < results[j].order })

	md := render(results, cfg, time.Since(start))
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(cfg.out, "matrix.md"), []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "kernels:", err)
	}
	logf("matrix in %s, serial logs in %s, %s in all", filepath.Join(cfg.out, "matrix.md"), cfg.out, time.Since(start).Round(time.Second))
	for _, r := range results {
		if !r.ok() {
			os.Exit(1)
		}
	}
}

// load reads the environment (docs/kernels.md) and kernels.list.
func load() (*config, error) {
	here, err := filepath.Abs(env("BANSHO_KERNEL_DIR", "test/kernels"))
	if err != nil {
		return nil, err
	}
	cfg := &config{
		here:        here,
		repo:        filepath.Dir(filepath.Dir(here)),
		out:         env("BANSHO_KERNEL_OUT", filepath.Join(here, "out")),
		cache:       env("BANSHO_KERNEL_CACHE", "/var/cache/bansho/kernels"),
		host:        env("BANSHO_KERNEL_HOST", "1") != "0",
		probe:       env("BANSHO_KERNEL_PROBE", "1") != "0",
		jobs:        atoi(env("BANSHO_KERNEL_JOBS", "2")),
		retries:     atoi(env("BANSHO_KERNEL_RETRIES", "2")),
		bootTimeout: time.Duration(atoi(env("BANSHO_KERNEL_BOOT_TIMEOUT", "60"))) * time.Second,
		mem:         env("BANSHO_KERNEL_MEM", "2G"),
	}
	if cfg.jobs < 1 {
		cfg.jobs = 1
	}
	cfg.cpus = atoi(env("BANSHO_KERNEL_CPUS", strconv.Itoa(max(1, 2/cfg.jobs))))
	list := env("BANSHO_KERNEL_LIST", filepath.Join(here, "kernels.list"))
	all, err := readKernels(list)
	if err != nil {
		return nil, err
	}
	if want := strings.Fields(os.Getenv("BANSHO_KERNELS")); len(want) > 0 {
		for _, w := range want {
			found := false
			for _, k := range all {
				if k.Name == w {
					cfg.kernels = append(cfg.kernels, k)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("BANSHO_KERNELS: no kernel %q in %s", w, list)
			}
		}
	} else {
		cfg.kernels = all
	}
	pkgs := defaultPackages
	if want := strings.Fields(os.Getenv("BANSHO_KERNEL_PACKAGES")); len(want) > 0 {
		pkgs = nil
		for _, w := range want {
			found := false
			for _, p := range defaultPackages {
				if p.Name == w {
					pkgs = append(pkgs, p)
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("BANSHO_KERNEL_PACKAGES: no package %q (have %s)", w, pkgNames(defaultPackages))
			}
		}
	}
	for _, p := range pkgs {
		up := strings.ToUpper(p.Name)
		if os.Getenv("BANSHO_KERNEL_FULL") == "1" {
			p.Run = "."
		}
		p.Run = env("BANSHO_KERNEL_RUN_"+up, p.Run)
		p.Timeout = atoi(env("BANSHO_KERNEL_TIMEOUT_"+up, strconv.Itoa(p.Timeout)))
		cfg.packages = append(cfg.packages, p)
	}
	return cfg, nil
}

func readKernels(path string) ([]kernel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ks []kernel
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		w := strings.Fields(line)
		if len(w) != 4 {
			return nil, fmt.Errorf("%s: want name suite package release: %q", path, line)
		}
		ks = append(ks, kernel{Name: w[0], Suite: w[1], Package: w[2], Release: w[3]})
	}
	return ks, sc.Err()
}

// vmConf is /etc/bansho-kt.conf, which the VM's /init sources.
func vmConf(cfg *config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "PROBE=%d\nPACKAGES=%s\n", map[bool]int{true: 1}[cfg.probe], shq(pkgNames(cfg.packages)))
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, "BIN_%s=%s\nDIR_%s=%s\nRUN_%s=%s\nTIMEOUT_%s=%d\n",
			p.Name, shq(p.Binary), p.Name, shq(p.Dir), p.Name, shq(p.Run), p.Name, p.Timeout)
	}
	return b.String()
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func pkgNames(pkgs []pkgSpec) string {
	var n []string
	for _, p := range pkgs {
		n = append(n, p.Name)
	}
	return strings.Join(n, " ")
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kernels: %q is not a number\n", s)
		os.Exit(2)
	}
	return n
}

var logMu sync.Mutex

// logf prints a progress line on stderr (stdout carries the matrix).
func logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "kernels: "+format+"\n", args...)
}
