package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// series is one configuration stepped through the rates.
type series struct {
	name       string
	procs      int
	exporters  bool
	docsPerOp  float64
	alertShare float64
	loadBound  bool // the load generator, not the sensor, set the last rate
	steps      []step
}

// maxDrain is how long a sustained step may take to write its last
// documents after the load stopped: more means the queue was growing, and
// a longer load at that rate would lose documents.
const maxDrain = 1.5

// sustained: nothing lost, and the sensor kept up.
func (st step) sustained() bool { return st.lost == 0 && st.drain() <= maxDrain }

// maxZeroLoss is the highest written rate of a step that was sustained.
func (ser *series) maxZeroLoss() (float64, *step) {
	var best *step
	for i := range ser.steps {
		st := &ser.steps[i]
		if st.sustained() && !st.recovery && (best == nil || st.writtenRate() > best.writtenRate()) {
			best = st
		}
	}
	if best == nil {
		return 0, nil
	}
	return best.writtenRate(), best
}

type report struct {
	started   time.Time
	step      time.Duration
	series    []*series
	audit     []auditStep
	auditNote string
}

func (r *report) write(s *settings) error {
	var b strings.Builder
	r.markdown(&b, s)
	fmt.Print(b.String())
	if err := os.WriteFile(filepath.Join(s.results, "throughput.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	var t strings.Builder
	fmt.Fprintln(&t, "series\tprocs\tload_ops_s\toffered_docs_s\twritten_docs_s\tcpu_us_doc\tbpf_us_doc\tcores\tlost\trss_mib\trecovery")
	for _, ser := range r.series {
		for _, st := range ser.steps {
			fmt.Fprintf(&t, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\t%.3f\t%d\t%.1f\t%v\n", ser.name, ser.procs, st.opsRate(),
				st.offeredRate(), st.writtenRate(), st.cpuPerDoc(), st.bpfPerDoc(), st.cores(), st.lost, st.rssMiB, st.recovery)
		}
	}
	if err := os.WriteFile(filepath.Join(s.results, "throughput.tsv"), []byte(t.String()), 0o644); err != nil {
		return err
	}
	svg := r.svg()
	if err := os.MkdirAll(filepath.Dir(s.plot), 0o755); err != nil {
		return err
	}
	return os.WriteFile(s.plot, []byte(svg), 0o644)
}

func (r *report) markdown(w io.Writer, s *settings) {
	kernel, _ := exec.Command("uname", "-r").Output()
	rev, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	fmt.Fprintf(w, "## Whole-sensor throughput (make bench-throughput)\n\n")
	fmt.Fprintf(w, "%s, bansho %s, kernel %s, %d CPUs, %s per step.\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"),
		strings.TrimSpace(string(rev)), strings.TrimSpace(string(kernel)), runtime.NumCPU(), r.step)
	for _, ser := range r.series {
		z, zs := ser.maxZeroLoss()
		fmt.Fprintf(w, "### %s\n\n", ser.name)
		fmt.Fprintf(w, "%.2f documents per operation of the load at 400 operations/s (fewer at higher rates, where the kernel folds repeated calls), %.1f%% of them alerts. A step is sustained when nothing was lost and the sensor wrote the last documents within %.1f s of the load's end.", ser.docsPerOp, 100*ser.alertShare, maxDrain)
		if zs != nil {
			fmt.Fprintf(w, " Highest rate with nothing lost: **%.0f documents/s**, at %.1f us of sensor CPU per document (%.2f cores) and %.1f us in its kernel programs.",
				z, zs.cpuPerDoc(), zs.cores(), zs.bpfPerDoc())
		}
		if ser.loadBound {
			fmt.Fprintf(w, " The load could not go faster on this machine (it shares the CPUs with the sensor): the sensor lost nothing at the highest rate it was given.")
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| load ops/s | offered docs/s | written docs/s | drain s | sensor CPU us/doc | kernel programs us/doc | sensor cores | lost (by cause) | RSS MiB |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---|---:|")
		for _, st := range ser.steps {
			lost := "0"
			if st.lost > 0 {
				var parts []string
				for k, v := range st.lostBy {
					parts = append(parts, fmt.Sprintf("%s %d", k, v))
				}
				sort.Strings(parts)
				lost = fmt.Sprintf("%d (%s)", st.lost, strings.Join(parts, ", "))
			}
			label := fmt.Sprintf("%.0f", st.opsRate())
			if st.recovery {
				label += " (after the loss)"
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.2f | %s | %.1f |\n", label, st.offeredRate(), st.writtenRate(), st.drain(), st.cpuPerDoc(), st.bpfPerDoc(), st.cores(), lost, st.rssMiB)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "### auditd on the same load\n\n")
	if r.auditNote != "" {
		fmt.Fprintf(w, "Not measured: %s.\n\n", r.auditNote)
		return
	}
	fmt.Fprintln(w, "Rules: `-w PROTECTED -p rwa`, `-w EXPORTS -p wa`, `-a always,exit -S execve`, `-a always,exit -S connect` (backlog 8192). CPU is auditd's and kauditd's.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| operations/s | audit events/s | CPU us/event | lost |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|")
	for _, a := range r.audit {
		fmt.Fprintf(w, "| %.0f | %.0f | %.1f | %d |\n", float64(a.ops)/a.secs, float64(a.events)/a.secs, a.cpuPerEvent(), a.lost)
	}
	fmt.Fprintln(w)
}

// svg draws CPU per document against the written rate (log scale), one
// line per series, and RSS below it: the scale curve, from the run's own
// figures.
func (r *report) svg() string {
	const W, H, left, right, top, gap, ph = 760, 560, 70, 200, 30, 60, 210
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}
	minX, maxX := math.Inf(1), math.Inf(-1)
	minCPU, maxCPU, maxRSS := math.Inf(1), 0.0, 0.0
	for _, ser := range r.series {
		for _, st := range ser.steps {
			if st.recovery || st.written == 0 {
				continue
			}
			x := st.writtenRate()
			minX, maxX = math.Min(minX, x), math.Max(maxX, x)
			minCPU, maxCPU = math.Min(minCPU, st.cpuPerDoc()+st.bpfPerDoc()), math.Max(maxCPU, st.cpuPerDoc()+st.bpfPerDoc())
			maxRSS = math.Max(maxRSS, st.rssMiB)
		}
	}
	// auditd, the peer, on the CPU panel: CPU per audit event against
	// audit events per second.
	var audit [][2]float64
	for _, a := range r.audit {
		if a.events == 0 || a.secs <= 0 {
			continue
		}
		x, y := float64(a.events)/a.secs, a.cpuPerEvent()
		audit = append(audit, [2]float64{x, y})
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minCPU, maxCPU = math.Min(minCPU, y), math.Max(maxCPU, y)
	}
	if math.IsInf(minX, 0) {
		return `<svg xmlns="http://www.w3.org/2000/svg"/>`
	}
	lx0, lx1 := math.Log10(minX*0.8), math.Log10(maxX*1.25)
	pw := float64(W - left - right)
	xp := func(x float64) float64 { return left + (math.Log10(x)-lx0)/(lx1-lx0)*pw }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	// panel draws one plot; with minY > 0 its y axis is a log scale from
	// minY (the CPU per document spans a decade: the fixed costs of a
	// second dominate at low rates).
	panel := func(y0 int, title string, minY, maxY float64, val func(step) float64, unit string, extra func(yp func(float64) float64)) {
		var yp func(v float64) float64
		var ticks []float64
		if minY > 0 {
			ly0, ly1 := math.Log10(minY*0.8), math.Log10(maxY*1.25)
			yp = func(v float64) float64 { return float64(y0+ph) - (math.Log10(v)-ly0)/(ly1-ly0)*ph }
			for d := math.Pow(10, math.Floor(ly0)); d <= math.Pow(10, ly1); d *= 10 {
				for _, m := range []float64{1, 2, 5} {
					if l := math.Log10(d * m); l >= ly0 && l <= ly1 {
						ticks = append(ticks, d*m)
					}
				}
			}
		} else {
			maxY = niceCeil(maxY)
			yp = func(v float64) float64 { return float64(y0+ph) - v/maxY*ph }
			for i := 0; i <= 4; i++ {
				ticks = append(ticks, maxY*float64(i)/4)
			}
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", left, y0-8, title)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="none" stroke="#888"/>`+"\n", left, y0, pw, ph)
		for _, v := range ticks {
			fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
				left, left+pw, yp(v), yp(v), left-6, yp(v)+4, trimFloat(v))
		}
		fmt.Fprintf(&b, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>`+"\n", y0+ph/2, y0+ph/2, unit)
		for d := math.Pow(10, math.Floor(lx0)); d <= math.Pow(10, lx1); d *= 10 {
			for _, m := range []float64{1, 2, 5} {
				x := d * m
				if math.Log10(x) < lx0 || math.Log10(x) > lx1 {
					continue
				}
				fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
					xp(x), xp(x), y0, y0+ph, xp(x), y0+ph+14, trimFloat(x))
			}
		}
		for i, ser := range r.series {
			c := colors[i%len(colors)]
			var pts []string
			for _, st := range ser.steps {
				if st.recovery || st.written == 0 {
					continue
				}
				x, y := xp(st.writtenRate()), yp(val(st))
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				mark := "circle"
				if st.lost > 0 {
					mark = "cross"
				}
				if mark == "circle" {
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x, y, c)
				} else {
					fmt.Fprintf(&b, `<path d="M%.1f %.1fl8 8m0 -8l-8 8" stroke="%s" stroke-width="2"/>`+"\n", x-4, y-4, c)
				}
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.Join(pts, " "), c)
		}
		if extra != nil {
			extra(yp)
		}
	}
	const auditColor = "#555"
	drawAudit := func(yp func(float64) float64) {
		var pts []string
		for _, p := range audit {
			x, y := xp(p[0]), yp(p[1])
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="5" height="5" fill="%s"/>`+"\n", x-2.5, y-2.5, auditColor)
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 3"/>`+"\n", strings.Join(pts, " "), auditColor)
		}
	}
	panel(top+10, "CPU per document (user space + kernel programs; log scale)", minCPU, maxCPU, func(st step) float64 { return st.cpuPerDoc() + st.bpfPerDoc() }, "us per document", drawAudit)
	panel(top+10+ph+gap, "Sensor RSS", 0, maxRSS, func(st step) float64 { return st.rssMiB }, "MiB", nil)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">documents (auditd: audit events) written per second, log scale; x: a step that lost documents</text>`+"\n",
		left+pw/2, top+10+2*ph+gap+34)
	for i, ser := range r.series {
		c := colors[i%len(colors)]
		y := top + 20 + i*34
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", W-right+12, W-right+32, y, y, c)
		name := ser.name
		first, rest := name, ""
		if i := strings.Index(name, ", "); i > 0 {
			first, rest = name[:i], name[i+2:]
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text><text x="%d" y="%d" fill="#555">%s</text>`+"\n", W-right+38, y+4, esc(first), W-right+38, y+18, esc(rest))
	}
	if len(audit) > 0 {
		y := top + 20 + len(r.series)*34
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="5 3"/>`+"\n", W-right+12, W-right+32, y, y, auditColor)
		fmt.Fprintf(&b, `<text x="%d" y="%d">auditd, the same load</text><text x="%d" y="%d" fill="#555">CPU per audit event</text>`+"\n", W-right+38, y+4, W-right+38, y+18)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	switch {
	case v >= 1000 && math.Mod(v, 1000) == 0:
		return fmt.Sprintf("%.0fk", v/1000)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
