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

	mu           sync.Mutex // serialises encoding and the order of requests to the outputs
	offs         []int
	free         chan *encoded // buffers the outputs are done with
	out          chan outReq   // to the output goroutine
	closed       bool
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

// Run consumes in until it is closed, then flushes and returns once the
// outputs have every document. ctx is not used to stop early: the caller
// closes in after stopping the source, so that every event already read
// is written out.
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
				p.submit(batch, true, true)
				return
			}
			batch = append(batch, ev)
			// Take what is queued, then what comes within the window.
			if window > 0 {
				wait.Reset(window)
			}
		fill:
			for len(batch) < p.MaxBatch {
				var ev *event.Event
				var ok bool
				select {
				case ev, ok = <-in:
				default:
					if window <= 0 {
						break fill
					}
					select {
					case ev, ok = <-in:
					case <-wait.C:
						break fill
					}
				}
				if !ok {
					p.submit(batch, true, true)
					return
				}
				batch = append(batch, ev)
			}
			wait.Stop()
			p.submit(batch, false, false)
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
// the queue so it can never be dropped, and flushes; it returns when the
// outputs have it.
func (p *Pipeline) Emit(ev *event.Event) {
	p.submit([]*event.Event{ev}, true, true)
}

// write encodes batch and writes it to the outputs before it returns.
func (p *Pipeline) write(batch []*event.Event) { p.submit(batch, false, true) }

// The outputs run on a goroutine of their own (output), so the pipeline
// encodes, scans and matches the next batch while they compress, hash and
// write this one: two sets of buffers take turns, and when both are with
// the outputs the pipeline waits (its input queue fills, and what cannot
// wait there is counted where it is dropped, as before).

// encoded is one batch's documents on their way to the outputs.
type encoded struct {
	buf  []byte
	docs [][]byte
	meta []dockey.Meta // what the encoder knew of each of docs (for the store)
}

// outReq is one request to the output goroutine, in pipeline order.
type outReq struct {
	enc   *encoded // documents to write, or nil
	flush bool
	close bool
	done  chan struct{} // closed when done, if set
}

// start makes the buffers and starts the output goroutine; p.mu is held.
func (p *Pipeline) start() {
	if p.out != nil {
		return
	}
	p.free = make(chan *encoded, 2)
	p.free <- &encoded{}
	p.free <- &encoded{}
	p.out = make(chan outReq, 2)
	go p.output()
}

func (p *Pipeline) output() {
	for r := range p.out {
		if r.enc != nil {
			p.ship(r.enc)
			p.free <- r.enc
		}
		if r.flush {
			p.flushOutputs()
		}
		if r.close {
			p.closeOutputs()
		}
		if r.done != nil {
			close(r.done)
		}
		if r.close {
			return
		}
	}
}

// submit encodes batch and hands it to the outputs, with a flush after it
// when flush is set; with wait it returns only once that is done.
func (p *Pipeline) submit(batch []*event.Event, flush, wait bool) {
	if len(batch) == 0 && !flush {
		return
	}
	p.mu.Lock()
	if p.closed {
		// After Close: the outputs say what they make of it.
		defer p.mu.Unlock()
		if len(batch) > 0 {
			enc := &encoded{}
			p.encode(enc, batch)
			p.ship(enc)
		}
		if flush {
			p.flushOutputs()
		}
		return
	}
	p.start()
	r := outReq{flush: flush}
	if len(batch) > 0 {
		r.enc = <-p.free
		p.encode(r.enc, batch)
	}
	if wait {
		r.done = make(chan struct{})
	}
	p.out <- r
	p.mu.Unlock()
	if wait {
		<-r.done
	}
}

// encode scans, encodes and matches batch into enc.
func (p *Pipeline) encode(enc *encoded, batch []*event.Event) {
	enc.buf = enc.buf[:0]
	enc.docs = enc.docs[:0]
	enc.meta = enc.meta[:0]
	offs := p.offs[:0]
	for _, ev := range batch {
		if p.Content != nil {
			p.Content.Scan(ev)
		}
		ev.Sample = nil // never encoded, whatever the configuration
		off := len(enc.buf)
		offs = append(offs, off)
		ti := enc.nextMeta()
		enc.buf = p.Encoder.AppendMeta(enc.buf, ev, &enc.meta[ti])
		if p.Rules != nil {
			for _, a := range p.Rules.Eval(ev, enc.buf[off:]) {
				ai := enc.nextMeta()
				if a.Alert != nil {
					a.Alert.TriggerMasked = true // the trigger is p.Encoder's own document
				}
				offs = append(offs, len(enc.buf))
				enc.buf = p.Encoder.AppendMeta(enc.buf, a, &enc.meta[ai])
				if a.Alert != nil {
					ecs.AlertMeta(&enc.meta[ai], &enc.meta[ti])
				}
			}
		}
	}
	offs = append(offs, len(enc.buf))
	for i := 0; i+1 < len(offs); i++ {
		enc.docs = append(enc.docs, enc.buf[offs[i]:offs[i+1]])
	}
	p.offs = offs
}

// ship writes enc's documents to every output.
func (p *Pipeline) ship(enc *encoded) {
	for _, x := range p.Exporters {
		var err error
		if mw, ok := x.(exporters.MetaWriter); ok {
			err = mw.WriteMeta(enc.docs, enc.meta)
		} else {
			err = x.Write(enc.docs)
		}
		if err != nil {
			p.failed(x, err)
		}
	}
	p.emitted.Add(uint64(len(enc.docs)))
}

// nextMeta adds an element to enc.meta, reusing the key array an element
// in that place had in an earlier batch, and returns its index.
func (enc *encoded) nextMeta() int {
	n := len(enc.meta)
	if n < cap(enc.meta) {
		enc.meta = enc.meta[:n+1]
	} else {
		enc.meta = append(enc.meta, dockey.Meta{})
	}
	return n
}

// flush asks the outputs to flush, after what was handed to them before.
func (p *Pipeline) flush() { p.submit(nil, true, false) }

func (p *Pipeline) flushOutputs() {
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

// Close writes what was handed to the outputs, then closes every one.
func (p *Pipeline) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.out == nil {
		p.closeOutputs()
		p.mu.Unlock()
		return
	}
	done := make(chan struct{})
	p.out <- outReq{close: true, done: done}
	p.mu.Unlock()
	<-done
}

func (p *Pipeline) closeOutputs() {
	for _, x := range p.Exporters {
		if err := x.Close(); err != nil {
			p.Log.Error("output close failed", "output", x.Name(), "error", err)
		}
	}
}
