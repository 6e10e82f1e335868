package main

import (
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
)

// The plot is well-formed SVG with a line per series and one for auditd,
// every point inside the plot area, and the CPU axis on a log scale that
// spans the figures.
func TestPlot(t *testing.T) {
	mk := func(rate, cpuUS float64, lost uint64) step {
		return step{secs: 6, span: 6.5, written: uint64(rate * 6.5), cpuNS: uint64(cpuUS * 1e3 * rate * 6.5), lost: lost, rssMiB: 100 + rate/100}
	}
	r := &report{series: []*series{
		{name: "default, 1 live processes", steps: []step{mk(900, 150, 0), mk(9000, 60, 0), mk(16000, 55, 100)}},
		{name: "with Kafka and Elasticsearch, 100 live processes", steps: []step{mk(900, 530, 0), mk(9000, 83, 0)}},
	}, audit: []auditStep{{ops: 2000, secs: 6, events: 3000, cpuNS: 3000 * 133_000}, {ops: 70000, secs: 6, events: 95000, cpuNS: 95000 * 54_000}}}
	svg := r.svg()
	if p := os.Getenv("PLOT_OUT"); p != "" { // to look at it
		os.WriteFile(p, []byte(svg), 0o644)
	}
	dec := xml.NewDecoder(strings.NewReader(svg))
	polylines, dashed, crosses := 0, 0, 0
	var ticks []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		switch se.Name.Local {
		case "polyline":
			polylines++
			if attr["stroke-dasharray"] != "" {
				dashed++
			}
		case "path":
			crosses++
		case "text":
			if attr["text-anchor"] == "end" {
				if tok, err := dec.Token(); err == nil {
					if cd, ok := tok.(xml.CharData); ok {
						ticks = append(ticks, string(cd))
					}
				}
			}
		}
	}
	// Two panels of two series, and auditd's line on the CPU panel.
	if polylines != 5 || dashed != 1 || crosses != 2 {
		t.Errorf("%d lines (%d dashed), %d lost-step marks; want 5 (1), 2", polylines, dashed, crosses)
	}
	// The CPU panel's ticks come first, the RSS panel's (linear, from 0)
	// after. Log scale from below 54 to above 530: 100, 200 and 500 are
	// ticks, 250 (a linear scale's) is not.
	for i, x := range ticks {
		if x == "0" {
			ticks = ticks[:i]
			break
		}
	}
	has := func(s string) bool {
		for _, x := range ticks {
			if x == s {
				return true
			}
		}
		return false
	}
	if !has("100") || !has("200") || !has("500") || has("250") || has("750") {
		t.Errorf("CPU axis ticks %v: want a log scale", ticks)
	}
}
