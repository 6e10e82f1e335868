package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// render is the matrix as Markdown: one row per kernel, one column per
// package, then per kernel what failed first and what the sensor turned
// off.
func render(rs []*kernelResult, cfg *config, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Kernel matrix (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%d VM(s) at a time, %d vCPU(s) each, TCG; %s in all.\n", cfg.jobs, cfg.cpus, total.Round(time.Second))
	b.WriteString("Cells: result (passed/failed/skipped tests, seconds in the binary).\n\n")
	b.WriteString("| kernel | release | boot |")
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, " %s |", p.Name)
	}
	b.WriteString(" first load error |\n|---|---|---|")
	for range cfg.packages {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s | %s |", r.Name, r.Release, bootCell(r))
		for _, p := range r.Pkgs {
			fmt.Fprintf(&b, " %s |", cell(p))
		}
		if len(r.Pkgs) == 0 {
			for range cfg.packages {
				b.WriteString(" - |")
			}
		}
		fmt.Fprintf(&b, " %s |\n", md(loadError(r)))
	}
	b.WriteString("\nRun filters (-test.run):\n\n")
	for _, p := range cfg.packages {
		fmt.Fprintf(&b, "- %s: `%s` (timeout %d s)\n", p.Name, p.Run, p.Timeout)
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", r.Name, r.Release)
		if r.Host {
			fmt.Fprintf(&b, "- run on this machine's kernel, %.0f s\n", r.Wall.Seconds())
		} else {
			fmt.Fprintf(&b, "- boots: %d; /init %.1f s after qemu started (guest uptime %.1f s); %.0f s in the VM in all\n",
				r.Attempts, r.ToInit.Seconds(), r.BootUptime, r.Wall.Seconds())
		}
		for _, why := range r.Retries {
			fmt.Fprintf(&b, "- retried: %s\n", why)
		}
		if r.Problem != "" {
			fmt.Fprintf(&b, "- **%s**\n", r.Problem)
		}
		for _, e := range r.Env {
			fmt.Fprintf(&b, "- %s\n", e)
		}
		fmt.Fprintf(&b, "- log: %s\n", filepath.Base(r.Log))
		for _, p := range r.Pkgs {
			if !p.Ran {
				continue
			}
			fmt.Fprintf(&b, "- %s: %s, %d passed, %d failed, %d skipped, %.0f s\n", p.Name, p.status(), p.Pass, p.Fail, p.Skip, p.Secs)
			if p.FirstFail != "" {
				fmt.Fprintf(&b, "  - first failure: %s\n", p.FirstFail)
				for _, l := range p.FirstFailLines {
					fmt.Fprintf(&b, "    - `%s`\n", clip(l, 300))
				}
			}
			if len(p.LoadErrors) > 0 {
				b.WriteString("  - load errors seen (distinct):\n")
				for _, e := range p.LoadErrors {
					fmt.Fprintf(&b, "    - `%s`\n", clip(e, 300))
				}
			}
			if p.Panic != "" {
				fmt.Fprintf(&b, "  - `%s`\n", clip(p.Panic, 300))
			}
		}
		if len(r.Features) > 0 {
			b.WriteString("- features:\n")
			for _, f := range r.Features {
				fmt.Fprintf(&b, "  - `%s`\n", clip(f, 300))
			}
		} else {
			b.WriteString("- features: no `bansho-feature:` or hook on/off lines logged\n")
		}
	}
	return b.String()
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
		s += ": " + md(r.Problem)
	}
	return s
}

func cell(p *pkgResult) string {
	if !p.Ran {
		return "not run"
	}
	return fmt.Sprintf("%s (%d/%d/%d, %.0f s)", p.status(), p.Pass, p.Fail, p.Skip, p.Secs)
}

// loadError is the kernel's first load error with the verifier's
// complaint, from the first package that has one.
func loadError(r *kernelResult) string {
	for _, p := range r.Pkgs {
		if p.LoadError == "" {
			continue
		}
		s := clip(p.LoadError, 160)
		if p.Verifier != "" && !strings.Contains(p.LoadError, p.Verifier) {
			s += " / verifier: " + clip(p.Verifier, 160)
		}
		return s
	}
	return ""
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
