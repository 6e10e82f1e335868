// Package pipeline moves decoded events from the sensor to the outputs:
// batch, encode to ECS, write to every exporter. It never drops: only the
// ring-buffer reader may drop (and counts it). A failing output is counted
// and logged, and the other outputs still get every document.
package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bansho-sec/bansho/exporters"
	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Pipeline encodes and ships events.
type Pipeline struct {
	Encoder   *ecs.Encoder
	Exporters []exporters.Exporter
	// Content, when set, scans sampled data before encoding (and drops it).
	Content *ContentScanner
	// Rules, when set, runs the rule engine over every event after
	// content scanning; the alerts it makes go into the same batch, right
	// after the event that completed them.
	Rules Evaluator
	Log   *slog.Logger
	// MaxBatch bounds the events encoded per write; FlushInterval bounds
	// how long a document waits in a batch.
	MaxBatch      int
	FlushInterval time.Duration
	// BatchWindow is how long a batch waits for more events after its
	// first (DefaultBatchWindow when 0; negative: not at all). Each write
	// costs the outputs a fixed amount (a compressed frame and a system
	// call for the store, a system call for the file), so batches of a
	// few events each cost about twice as much per document as batches
	// of a hundred.
	BatchWindow time.Duration

	mu           sync.Mutex // serialises writes: events and out-of-band documents
	buf          []byte
	docs         [][]byte
	meta         []dockey.Meta // what the encoder knew of each of docs (for the store)
	emitted      atomic.Uint64
	outputErrors atomic.Uint64
	outputLost   atomic.Uint64
	turned       atomic.Int64 // unix ns of the last loop turn, for /healthz
}

// LastTurn is when Run last went round (a batch or a flush tick); zero
// before Run starts.
func (p *Pipeline) LastTurn() time.Time {
	if n := p.turned.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Evaluator is the rule engine as the pipeline sees it
// (pipeline/rules.Engine): it reads an event and its document and returns
// the alert events (event.OpAlert) it completes, valid until the next call.
type Evaluator interface {
	Eval(ev *event.Event, doc []byte) []*event.Event
}

// OutputLost counts documents an output reported it could not write.
func (p *Pipeline) OutputLost() uint64 { return p.outputLost.Load() }

// Emitted is the number of documents written to the outputs.
func (p *Pipeline) Emitted() uint64 { return p.emitted.Load() }

// OutputErrors counts failed writes or flushes, over all outputs.
func (p *Pipeline) OutputErrors() uint64 { return p.outputErrors.Load() }

// Run consumes in until it is closed, then flushes. ctx is not used to stop
// early: the caller closes in after stopping the source, so that every
// event already read is written out.
func (p *Pipeline) Run(ctx context.Context, in <-chan *event.Event) {
	if p.MaxBatch <= 0 {
		p.MaxBatch = 512
	}
	if p.FlushInterval <= 0 {
		p.FlushInterval = 200 * time.Millisecond
	}
	window := p.BatchWindow
	if window == 0 {
		window = DefaultBatchWindow
	}
	batch := make([]*event.Event, 0, p.MaxBatch)
	tick := time.NewTicker(p.FlushInterval)
	defer tick.Stop()
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	for {
		p.turned.Store(time.Now().UnixNano())
		select {
		case ev, ok := <-in:
			if !ok {
				p.write(batch)
				p.flush()
				return
			}
			batch = append(batch, ev)
			// Take what is queued, then what comes within the window.
			if window > 0 {
				wait.Reset(window)
			}
		fill:
			for len(batch) < p.MaxBatch {
				select {
				case ev, ok = <-in:
					if !ok {
						p.write(batch)
						p.flush()
						return
					}
					batch = append(batch, ev)
					continue
				default:
				}
				if window <= 0 {
					break
				}
				select {
				case ev, ok = <-in:
					if !ok {
						p.write(batch)
						p.flush()
						return
					}
					batch = append(batch, ev)
				case <-wait.C:
					break fill
				}
			}
			wait.Stop()
			p.write(batch)
			batch = batch[:0]
		case <-tick.C:
			p.flush()
		}
	}
}

// DefaultBatchWindow is Pipeline.BatchWindow's default: short next to
// FlushInterval and to what a reader of the documents notices, long enough
// that batches at a few thousand events per second hold tens of them.
const DefaultBatchWindow = 20 * time.Millisecond

// Emit writes one out-of-band document (health, state) at once, bypassing
// the queue so it can never be dropped, and flushes.
func (p *Pipeline) Emit(ev *event.Event) {
	p.write([]*event.Event{ev})
	p.flush()
}

func (p *Pipeline) write(batch []*event.Event) {
	if len(batch) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = p.buf[:0]
	p.docs = p.docs[:0]
	p.meta = p.meta[:0]
	offs := make([]int, 0, len(batch)+1)
	for _, ev := range batch {
		if p.Content != nil {
			p.Content.Scan(ev)
		}
		ev.Sample = nil // never encoded, whatever the configuration
		off := len(p.buf)
		offs = append(offs, off)
		ti := p.nextMeta()
		p.buf = p.Encoder.AppendMeta(p.buf, ev, &p.meta[ti])
		if p.Rules != nil {
			for _, a := range p.Rules.Eval(ev, p.buf[off:]) {
				ai := p.nextMeta()
				if a.Alert != nil {
					a.Alert.TriggerMasked = true // the trigger is p.Encoder's own document
				}
				offs = append(offs, len(p.buf))
				p.buf = p.Encoder.AppendMeta(p.buf, a, &p.meta[ai])
				if a.Alert != nil {
					ecs.AlertMeta(&p.meta[ai], &p.meta[ti])
				}
			}
		}
	}
	offs = append(offs, len(p.buf))
	for i := 0; i+1 < len(offs); i++ {
		p.docs = append(p.docs, p.buf[offs[i]:offs[i+1]])
	}
	for _, x := range p.Exporters {
		var err error
		if mw, ok := x.(exporters.MetaWriter); ok {
			err = mw.WriteMeta(p.docs, p.meta)
		} else {
			err = x.Write(p.docs)
		}
		if err != nil {
			p.failed(x, err)
		}
	}
	p.emitted.Add(uint64(len(p.docs)))
}

// nextMeta adds an element to p.meta, reusing the key array an element in
// that place had in an earlier batch, and returns its index.
func (p *Pipeline) nextMeta() int {
	n := len(p.meta)
	if n < cap(p.meta) {
		p.meta = p.meta[:n+1]
	} else {
		p.meta = append(p.meta, dockey.Meta{})
	}
	return n
}

func (p *Pipeline) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.Exporters {
		if err := x.Flush(); err != nil {
			p.failed(x, err)
		}
	}
}

// failed counts an output error and the documents it lost.
func (p *Pipeline) failed(x exporters.Exporter, err error) {
	p.outputErrors.Add(1)
	var le *exporters.LostError
	if errors.As(err, &le) {
		p.outputLost.Add(uint64(le.Lost))
	}
	p.Log.Error("output failed", "output", x.Name(), "error", err)
}

// Close closes every exporter.
func (p *Pipeline) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.Exporters {
		if err := x.Close(); err != nil {
			p.Log.Error("output close failed", "output", x.Name(), "error", err)
		}
	}
}
