package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// kernelResult is one row of the matrix.
type kernelResult struct {
	Name, Release string
	Host          bool
	order         int
	Log           string
	Attempts      int
	Retries       []string      // why earlier boots were retried
	Problem       string        // the VM did not finish: no boot, timeout, hang
	ToInit        time.Duration // host wall time from qemu's start to /init
	BootUptime    float64       // the guest's uptime when /init had mounted proc
	Wall          time.Duration
	Env           []string // BKT env lines
	Probe         *probeResult
	Pkgs          []*pkgResult
	Features      []string // bansho-feature: lines (or the sensor's feature logs)
	Oopses        []*oops  // the kernel's BUG, Oops, panic and WARNING reports
	Budget        []budget // bansho-budget: lines
}

// probeResult is `bansho probe --json` in the VM: one trial load.
type probeResult struct {
	RC       int
	Secs     float64
	Object   string    `json:"object"`
	Programs int       `json:"programs"`
	Features []feature `json:"features"`
	Error    string    // what bansho printed when the load failed
}

type feature struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
	Lost    string `json:"lost"`
}

// oops is one report of the kernel's: its headline, the task, where.
type oops struct {
	Headline, Comm, RIP string
	Frames              []string
}

func (o *oops) String() string {
	s := o.Headline
	var at []string
	if o.Comm != "" {
		at = append(at, "task "+o.Comm)
	}
	if o.RIP != "" {
		at = append(at, "RIP "+o.RIP)
	}
	if len(o.Frames) > 0 {
		at = append(at, "in "+strings.Join(o.Frames, " < "))
	}
	if len(at) > 0 {
		s += " (" + strings.Join(at, "; ") + ")"
	}
	return s
}

// budget is one bansho-budget: line of TestVerifierBudget.
type budget struct {
	Object, Program string
	Insns, Stack    int
}

// pkgResult is one cell: a test binary's run in one kernel.
type pkgResult struct {
	Name             string
	Ran, Ended       bool
	RC               int
	Secs             float64
	TimedOut         bool
	Pass, Fail, Skip int
	FirstFail        string   // the first failed top-level test
	FirstFailLines   []string // its first error lines
	LoadError        string   // the first line saying the BPF object did not load
	Verifier         string   // the verifier's own complaint, when it rejected a program
	LoadErrors       []string // every distinct load error (programs load in no fixed order)
	Panic            string
}

func (r *kernelResult) ok() bool {
	if r.Problem != "" || len(r.Pkgs) == 0 || len(r.Oopses) > 0 {
		return false
	}
	if r.Probe != nil && r.Probe.RC != 0 {
		return false
	}
	for _, p := range r.Pkgs {
		if p.status() != "passed" {
			return false
		}
	}
	return true
}

func (p *pkgResult) status() string {
	switch {
	case !p.Ran:
		return "not run"
	case p.TimedOut || p.RC == 137:
		return "timed out"
	case !p.Ended:
		return "incomplete"
	case p.RC > 128:
		return fmt.Sprintf("crashed (signal %d)", p.RC-128)
	case p.RC != 0 || p.Fail > 0:
		return "failed"
	}
	return "passed"
}

func (r *kernelResult) summary() string {
	var s []string
	if r.Probe != nil {
		if r.Probe.RC == 0 {
			s = append(s, fmt.Sprintf("probe: %s object (%.0f s)", r.Probe.Object, r.Probe.Secs))
		} else {
			s = append(s, "probe failed: "+r.Probe.Error)
		}
	}
	for _, p := range r.Pkgs {
		s = append(s, fmt.Sprintf("%s %s (%d/%d/%d, %.0f s)", p.Name, p.status(), p.Pass, p.Fail, p.Skip, p.Secs))
	}
	for _, o := range r.Oopses {
		s = append(s, "kernel: "+o.Headline)
	}
	if r.Problem != "" {
		s = append(s, r.Problem)
	}
	return strings.Join(s, "; ")
}

var (
	reResult  = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(`)
	reRun     = regexp.MustCompile(`^=== (RUN|CONT|PAUSE|NAME)\s+(\S+)`)
	reTestLoc = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
	// What says the BPF object did not load: the sensor's own wrapping
	// (loader.go) and cilium/ebpf's map, kfunc and CO-RE errors.
	reLoad = regexp.MustCompile(`kernel verifier rejected|load programs?:|load \S+ object:|map create|creating map|bad CO-RE|fixing up kfuncs|not supported by|requires at least kernel|start sensor: |attach \S+ to `)
	// The verifier's summary line follows its complaint.
	reProcessed = regexp.MustCompile(`processed \d+ insns`)
	// The sensor's log of a feature it turned off (when no test printed
	// bansho-feature: lines).
	reFeatureLog  = regexp.MustCompile(`level=WARN .*feature`)
	reKernelField = regexp.MustCompile(`^kernel=\S+`)
	reBudget      = regexp.MustCompile(`bansho-budget: .*object=(\S+) program=(\S+) insns=(\d+) stack=(\d+)`)
	// The kernel's reports, live on the console or in the dmesg dump.
	reOops      = regexp.MustCompile(`(BUG: .*|Oops: .*|Kernel panic - .*|general protection fault.*|WARNING: CPU: .*|kernel BUG at .*)$`)
	reStamp     = regexp.MustCompile(`^(BKT dmesg )?\[\s*\d+\.\d+\] `)
	reOopsComm  = regexp.MustCompile(`Comm: (\S+)`)
	reOopsFrame = regexp.MustCompile(`^\s*(\? )?([A-Za-z_][\w.]*)\+0x`)
)

// parseLog reads a VM's serial log (or the host run's log): the BKT marker
// lines of /init and, between "BKT begin" and "BKT end", go test -v output.
func parseLog(r *kernelResult, log string, pkgs []pkgSpec) {
	byName := map[string]*pkgResult{}
	for _, p := range pkgs {
		pr := &pkgResult{Name: p.Name}
		byName[p.Name] = pr
		r.Pkgs = append(r.Pkgs, pr)
	}
	var cur *pkgResult
	var begin float64
	var test string         // the top-level test running
	var lines []string      // its lines so far
	var verifierPrev string // the line before the verifier's summary
	var pendingLoad string  // a verifier rejection whose complaint is still to come
	var probe []string      // the probe's output
	inProbe := false
	features := map[string]bool{}
	var featureLogs []string
	var op *oops // the kernel report being read
	opLines := 0
	seenOops := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimRight(l, "\r")

		// The kernel's reports: a headline, then the task, RIP, and trace.
		k := reStamp.ReplaceAllString(l, "")
		if m := reOops.FindString(k); m != "" && (k != l || strings.HasPrefix(l, m)) {
			m = strings.TrimSpace(m)
			if seenOops[m] {
				op = nil // the same report again, from the dmesg dump
			} else {
				seenOops[m] = true
				op = &oops{Headline: m}
				opLines = 0
				r.Oopses = append(r.Oopses, op)
			}
			continue
		}
		if op != nil && k != l {
			opLines++
			switch {
			case opLines > 80 || strings.Contains(k, "end trace"):
				op = nil
			case op.Comm == "" && reOopsComm.MatchString(k):
				op.Comm = reOopsComm.FindStringSubmatch(k)[1]
			case op.RIP == "" && strings.HasPrefix(strings.TrimSpace(k), "RIP: "):
				op.RIP = strings.TrimPrefix(strings.TrimSpace(k), "RIP: ")
			case len(op.Frames) < 4 && reOopsFrame.MatchString(k):
				op.Frames = append(op.Frames, reOopsFrame.FindStringSubmatch(k)[2])
			}
		}

		if strings.HasPrefix(l, "BKT ") {
			switch w := strings.Fields(l); w[1] {
			case "init":
				r.BootUptime, _ = strconv.ParseFloat(field(l, "uptime"), 64)
			case "env":
				r.Env = append(r.Env, strings.TrimPrefix(l, "BKT env "))
			case "probe-begin":
				inProbe = true
				begin, _ = strconv.ParseFloat(field(l, "uptime"), 64)
			case "probe-end":
				inProbe = false
				r.Probe = parseProbe(probe)
				r.Probe.RC, _ = strconv.Atoi(field(l, "rc"))
				end, _ := strconv.ParseFloat(field(l, "uptime"), 64)
				r.Probe.Secs = end - begin
				if r.Probe.RC != 0 && r.Probe.Error == "" {
					r.Probe.Error = fmt.Sprintf("exit %d", r.Probe.RC)
				}
			case "begin":
				cur = byName[field(l, "pkg")]
				if cur != nil {
					cur.Ran = true
				}
				begin, _ = strconv.ParseFloat(field(l, "uptime"), 64)
				test, lines = "", nil
			case "end":
				if cur != nil {
					cur.Ended = true
					cur.RC, _ = strconv.Atoi(field(l, "rc"))
					end, _ := strconv.ParseFloat(field(l, "uptime"), 64)
					cur.Secs = end - begin
				}
				cur = nil
			}
			continue
		}
		if inProbe {
			probe = append(probe, l)
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(l)
		if f, ok := strings.CutPrefix(t, "bansho-feature: "); ok {
			f = strings.TrimSpace(reKernelField.ReplaceAllString(f, ""))
			if !features[f] {
				features[f] = true
				r.Features = append(r.Features, f)
			}
		} else if reFeatureLog.MatchString(l) {
			featureLogs = append(featureLogs, t)
		}
		if m := reBudget.FindStringSubmatch(l); m != nil {
			insns, _ := strconv.Atoi(m[3])
			stack, _ := strconv.Atoi(m[4])
			r.Budget = append(r.Budget, budget{Object: m[1], Program: m[2], Insns: insns, Stack: stack})
		}
		if reLoad.MatchString(l) && !strings.Contains(l, "level=INFO") && !strings.HasPrefix(t, "---") && !strings.HasPrefix(t, "===") {
			e := strings.TrimSpace(reTestLoc.ReplaceAllString(l, ""))
			if cur.LoadError == "" {
				cur.LoadError = e
			}
			pendingLoad = e
			if !strings.Contains(e, "kernel verifier rejected") {
				cur.addLoadError(e)
				pendingLoad = ""
			}
		}
		if reProcessed.MatchString(l) {
			if cur.Verifier == "" && verifierPrev != "" {
				cur.Verifier = verifierPrev
			}
			if pendingLoad != "" {
				cur.addLoadError(pendingLoad + " / verifier: " + verifierPrev)
				pendingLoad = ""
			}
		} else if t != "" {
			verifierPrev = t
		}
		if strings.HasPrefix(t, "panic: ") && cur.Panic == "" {
			cur.Panic = t
			if strings.Contains(t, "test timed out") {
				cur.TimedOut = true
			}
		}
		if m := reRun.FindStringSubmatch(l); m != nil {
			if !strings.Contains(m[2], "/") && m[1] == "RUN" {
				test, lines = m[2], nil
			}
			continue
		}
		if m := reResult.FindStringSubmatch(l); m != nil {
			switch m[1] {
			case "PASS":
				cur.Pass++
			case "FAIL":
				cur.Fail++
				if cur.FirstFail == "" {
					cur.FirstFail = m[2]
					cur.FirstFailLines = errorLines(lines, 4)
				}
			case "SKIP":
				cur.Skip++
			}
			continue
		}
		if test != "" {
			lines = append(lines, l)
		}
	}
	if cur != nil && !cur.Ended && cur.FirstFail == "" && test != "" {
		// The VM stopped in the middle of a test: that test is the one.
		cur.FirstFail = test + " (did not finish)"
		cur.FirstFailLines = errorLines(lines, 4)
	}
	if len(r.Features) == 0 {
		for _, f := range featureLogs {
			if !features[f] {
				features[f] = true
				r.Features = append(r.Features, f)
			}
		}
	}
}

// parseProbe reads bansho probe --json's output: the report, or the
// error bansho printed instead.
func parseProbe(lines []string) *probeResult {
	p := &probeResult{}
	text := strings.Join(lines, "\n")
	if i, j := strings.Index(text, "{"), strings.LastIndex(text, "}"); i >= 0 && j > i {
		if json.Unmarshal([]byte(text[i:j+1]), p) == nil {
			return p
		}
	}
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			p.Error = t
			break
		}
	}
	for i, l := range lines {
		// The verifier's complaint precedes its summary line.
		if reProcessed.MatchString(l) && i > 0 {
			p.Error += " / verifier: " + strings.TrimSpace(lines[i-1])
			break
		}
	}
	return p
}

func (p *pkgResult) addLoadError(e string) {
	e = reStamp.ReplaceAllString(e, "")
	for _, x := range p.LoadErrors {
		if x == e {
			return
		}
	}
	p.LoadErrors = append(p.LoadErrors, e)
}

// errorLines picks a failed test's first error lines: those go test
// attributes to a file:line, with their continuation lines, leaving out
// the sensor's own log.
func errorLines(lines []string, n int) []string {
	var out []string
	in := false
	for _, l := range lines {
		switch {
		case reTestLoc.MatchString(l):
			in = true
			out = append(out, strings.TrimSpace(l))
		case in && strings.HasPrefix(l, "        "):
			out = append(out, strings.TrimSpace(l))
		default:
			in = false
		}
		if len(out) >= n {
			break
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// field is the value of key=value in a marker line.
func field(l, key string) string {
	for _, w := range strings.Fields(l) {
		if v, ok := strings.CutPrefix(w, key+"="); ok {
			return v
		}
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
