// Package exporters defines where documents go. Each document is one
// encoded ECS JSON object without a trailing newline.
package exporters

import (
	"fmt"

	"github.com/bansho-sec/bansho/internal/dockey"
)

// Exporter ships encoded documents. Write may buffer; Flush makes what was
// written durable as far as the exporter can; Close flushes and releases.
type Exporter interface {
	Name() string
	Write(docs [][]byte) error
	Flush() error
	Close() error
}

// MetaWriter is an Exporter that can use what the encoder knew of each
// document (its time, kind and index keys) instead of parsing it: the
// store. meta is as long as docs.
type MetaWriter interface {
	WriteMeta(docs [][]byte, meta []dockey.Meta) error
}

// LostError reports documents an exporter could not write, so the caller
// can count them: a failed write is never silent.
type LostError struct {
	Exporter string
	Lost     int
	Err      error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%s: %d documents not written: %v", e.Exporter, e.Lost, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }
