// Package stdout writes documents as JSON lines to standard output.
package stdout

import (
	"bufio"
	"io"
	"sync"

	"github.com/bansho-sec/bansho/exporters"
)

// Exporter writes one document per line to an io.Writer.
type Exporter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// New returns an exporter writing to w (os.Stdout in the sensor).
func New(w io.Writer) *Exporter {
	return &Exporter{w: bufio.NewWriterSize(w, 64<<10)}
}

// Name implements exporters.Exporter.
func (e *Exporter) Name() string { return "stdout" }

// Write implements exporters.Exporter.
func (e *Exporter) Write(docs [][]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, d := range docs {
		e.w.Write(d)
		if err := e.w.WriteByte('\n'); err != nil {
			return &exporters.LostError{Exporter: "stdout", Lost: len(docs) - i, Err: err}
		}
	}
	return nil
}

// Flush implements exporters.Exporter.
func (e *Exporter) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.w.Flush()
}

// Close implements exporters.Exporter.
func (e *Exporter) Close() error { return e.Flush() }
