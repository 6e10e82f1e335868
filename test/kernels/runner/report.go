package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// render is the matrix as Markdown: one row per kernel, one column per
// package, then the verifier budget per kernel, then per kernel what
// failed first, the kernel's own reports and the features.
func render(rs []*kernelResult, cfg *config, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Kernel matrix (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%d VM(s) at a time, %d vCPU(s) each, TCG; %s in all.\n", cfg.jobs, cfg.cpus, total.Round(time.Second))
	b.WriteString("Cells: result (passed/failed/skipped tests, seconds in the binary). " +
		"probe: `bansho probe` in the VM, the object it loaded and how long the load took.\n\n")
	b.WriteString("| kernel | release | boot | probe |")
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, " %s |", p.Name)
	}
	b.WriteString(" features off | first load error; kernel oops |\n|---|---|---|---|")
	for range cfg.packages {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |", r.Name, r.Release, bootCell(r), probeCell(r))
		for _, p := range r.Pkgs {
			fmt.Fprintf(&b, " %s |", cell(p))
		}
		if len(r.Pkgs) == 0 {
			for range cfg.packages {
				b.WriteString(" - |")
			}
		}
		fmt.Fprintf(&b, " %s | %s |\n", md(strings.Join(featuresOff(r), ", ")), md(problems(r)))
	}
	b.WriteString("\nRun filters (-test.run):\n\n")
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, "- %s: `%s` (timeout %d s)\n", p.Name, p.Run, p.Timeout)
	}
	renderBudget(&b, rs)
	for _, r := range rs {
		renderKernel(&b, r)
	}
	return b.String()
}

func renderKernel(b *strings.Builder, r *kernelResult) {
	fmt.Fprintf(b, "\n## %s (%s)\n\n", r.Name, r.Release)
	if r.Host {
		fmt.Fprintf(b, "- run on this machine's kernel, %.0f s\n", r.Wall.Seconds())
	} else {
		fmt.Fprintf(b, "- boots: %d; /init %.1f s after qemu started (guest uptime %.1f s); %.0f s in the VM in all\n",
			r.Attempts, r.ToInit.Seconds(), r.BootUptime, r.Wall.Seconds())
	}
	for _, why := range r.Retries {
		fmt.Fprintf(b, "- retried: %s\n", why)
	}
	if r.Problem != "" {
		fmt.Fprintf(b, "- **%s**\n", r.Problem)
	}
	for _, o := range r.Oopses {
		fmt.Fprintf(b, "- **kernel**: `%s`\n", clip(o.String(), 400))
	}
	for _, e := range r.Env {
		fmt.Fprintf(b, "- %s\n", e)
	}
	fmt.Fprintf(b, "- log: %s\n", filepath.Base(r.Log))
	if p := r.Probe; p != nil {
		if p.RC == 0 {
			fmt.Fprintf(b, "- probe: %s object, %d programs, loaded in %.1f s\n", p.Object, p.Programs, p.Secs)
		} else {
			fmt.Fprintf(b, "- probe: failed after %.1f s: `%s`\n", p.Secs, clip(p.Error, 400))
		}
	}
	for _, p := range r.Pkgs {
		if !p.Ran {
			continue
		}
		fmt.Fprintf(b, "- %s: %s, %d passed, %d failed, %d skipped, %.0f s\n", p.Name, p.status(), p.Pass, p.Fail, p.Skip, p.Secs)
		if p.FirstFail != "" {
			fmt.Fprintf(b, "  - first failure: %s\n", p.FirstFail)
			for _, l := range p.FirstFailLines {
				fmt.Fprintf(b, "    - `%s`\n", clip(l, 300))
			}
		}
		if len(p.LoadErrors) > 0 {
			b.WriteString("  - load errors seen (distinct):\n")
			for _, e := range p.LoadErrors {
				fmt.Fprintf(b, "    - `%s`\n", clip(e, 300))
			}
		}
		if p.Panic != "" {
			fmt.Fprintf(b, "  - `%s`\n", clip(p.Panic, 300))
		}
	}
	var fs []string
	if r.Probe != nil {
		for _, f := range r.Probe.Features {
			if !f.Enabled {
				fs = append(fs, fmt.Sprintf("probe: %s off: %s", f.Name, f.Reason))
			}
		}
	}
	fs = append(fs, r.Features...)
	if len(fs) > 0 {
		b.WriteString("- features:\n")
		for _, f := range fs {
			fmt.Fprintf(b, "  - `%s`\n", clip(f, 300))
		}
	} else {
		b.WriteString("- features: no probe report, `bansho-feature:` or feature log lines\n")
	}
}

// renderBudget tabulates the bansho-budget: lines: a row per kernel and
// object, a column per program, "instructions processed / stack bytes".
func renderBudget(b *strings.Builder, rs []*kernelResult) {
	progs := map[string]bool{}
	for _, r := range rs {
		for _, x := range r.Budget {
			progs[x.Program] = true
		}
	}
	if len(progs) == 0 {
		return
	}
	var names []string
	for p := range progs {
		names = append(names, p)
	}
	sort.Strings(names)
	b.WriteString("\n## Verifier budget\n\nTestVerifierBudget's `bansho-budget:` lines: instructions processed / stack bytes of the deepest call chain.\n\n| kernel | object |")
	for _, n := range names {
		fmt.Fprintf(b, " %s |", n)
	}
	b.WriteString("\n|---|---|")
	for range names {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rs {
		var objs []string
		by := map[string]map[string]budget{}
		for _, x := range r.Budget {
			if by[x.Object] == nil {
				by[x.Object] = map[string]budget{}
				objs = append(objs, x.Object)
			}
			by[x.Object][x.Program] = x
		}
		for _, o := range objs {
			fmt.Fprintf(b, "| %s | %s |", r.Name, o)
			for _, n := range names {
				if x, ok := by[o][n]; ok {
					fmt.Fprintf(b, " %d / %d |", x.Insns, x.Stack)
				} else {
					b.WriteString(" - |")
				}
			}
			b.WriteString("\n")
		}
	}
}

func bootCell(r *kernelResult) string {
	if r.Host {
		return "host"
	}
	s := fmt.Sprintf("%.1f s", r.ToInit.Seconds())
	if r.Attempts > 1 {
		s += fmt.Sprintf(" (%d boots)", r.Attempts)
	}
	if r.Problem != "" {
		s += ": **" + md(r.Problem) + "**"
	}
	return s
}

func probeCell(r *kernelResult) string {
	p := r.Probe
	switch {
	case p == nil:
		return "-"
	case p.RC != 0:
		return fmt.Sprintf("**failed** (%.0f s)", p.Secs)
	}
	return fmt.Sprintf("%s (%.0f s)", p.Object, p.Secs)
}

func cell(p *pkgResult) string {
	if !p.Ran {
		return "not run"
	}
	s := p.status()
	if s != "passed" {
		s = "**" + s + "**"
	}
	return fmt.Sprintf("%s (%d/%d/%d, %.0f s)", s, p.Pass, p.Fail, p.Skip, p.Secs)
}

// featuresOff names the features the probe found off (or, without a
// probe, those a test printed as off).
func featuresOff(r *kernelResult) []string {
	var off []string
	if r.Probe != nil && r.Probe.RC == 0 {
		for _, f := range r.Probe.Features {
			if !f.Enabled {
				off = append(off, f.Name)
			}
		}
		return off
	}
	for _, f := range r.Features {
		if name, _, ok := strings.Cut(f, ": off"); ok {
			off = append(off, name)
		}
	}
	return off
}

// problems is the kernel's first load error (the probe's, else the
// first package's that has one) and its first oops.
func problems(r *kernelResult) string {
	var s []string
	if r.Probe != nil && r.Probe.RC != 0 {
		s = append(s, clip(r.Probe.Error, 240))
	} else {
		for _, p := range r.Pkgs {
			if p.LoadError == "" {
				continue
			}
			e := clip(p.LoadError, 160)
			if p.Verifier != "" && !strings.Contains(p.LoadError, p.Verifier) {
				e += " / verifier: " + clip(p.Verifier, 160)
			}
			s = append(s, e)
			break
		}
	}
	if len(r.Oopses) > 0 {
		o := r.Oopses[0].String()
		if len(r.Oopses) > 1 {
			o += fmt.Sprintf(" (+%d more)", len(r.Oopses)-1)
		}
		s = append(s, "**kernel: "+clip(o, 240)+"**")
	}
	return strings.Join(s, "; ")
}

// md makes text safe in a table cell.
func md(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
