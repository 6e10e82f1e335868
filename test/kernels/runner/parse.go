package main

import (
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
	Problem       string        // the VM did not finish: no boot, timeout, died
	ToInit        time.Duration // host wall time from qemu's start to /init
	BootUptime    float64       // the guest's uptime when /init had mounted proc
	Wall          time.Duration
	Env           []string // BKT env lines
	Pkgs          []*pkgResult
	Features      []string // bansho-feature: lines and the sensor's hook on/off logs
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
	if r.Problem != "" || len(r.Pkgs) == 0 {
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
	case p.RC != 0 || p.Fail > 0:
		return "failed"
	}
	return "passed"
}

func (r *kernelResult) summary() string {
	var s []string
	for _, p := range r.Pkgs {
		s = append(s, fmt.Sprintf("%s %s (%d/%d/%d, %.0f s)", p.Name, p.status(), p.Pass, p.Fail, p.Skip, p.Secs))
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
	// (loader.go) and cilium/ebpf's map and program errors.
	reLoad = regexp.MustCompile(`kernel verifier rejected|load programs?:|load program \S+|(create|creating) map|map \S+: |field \S+: |bad CO-RE|start sensor: |new sensor: |load sensor|not supported by kernel|requires at least kernel|fentry|fexit|attach \S+: `)
	// The verifier's summary line follows its complaint.
	reProcessed = regexp.MustCompile(`processed \d+ insns`)
	reFeature   = regexp.MustCompile(`bansho-feature:|(?i)level=\w+ .*(feature|hook).*(unavailable|off|on|disabled|enabled|fallback)`)
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
	features := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, "BKT ") {
			switch w := strings.Fields(l); w[1] {
			case "init":
				r.BootUptime, _ = strconv.ParseFloat(field(l, "uptime"), 64)
			case "env":
				r.Env = append(r.Env, strings.TrimPrefix(l, "BKT env "))
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
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(l)
		if reFeature.MatchString(l) && !features[t] {
			features[t] = true
			r.Features = append(r.Features, t)
		}
		if reLoad.MatchString(l) && !strings.HasPrefix(t, "---") && !strings.HasPrefix(t, "===") {
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
}

func (p *pkgResult) addLoadError(e string) {
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
