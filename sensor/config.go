package sensor

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config is what the kernel side needs. cmd/bansho fills it from viper.
type Config struct {
	// ProtectPaths are the directories whose files are protected data.
	ProtectPaths []string
	// RingBufferBytes is the ring buffer size: a power of two, a multiple
	// of the page size.
	RingBufferBytes int
	// WakeupBytes: the kernel wakes the reader once this much is pending.
	WakeupBytes int
	// PollInterval bounds how long a record waits when no wakeup comes.
	PollInterval time.Duration
	// QueueSize bounds decoded events waiting for the pipeline.
	QueueSize int
	// SendDedupe folds repeated datagram destinations of one process.
	SendDedupe   time.Duration
	TraceAccept  bool
	TraceUDPSend bool
	// SampleBytes of each write or send by a tainted process are handed
	// to the content detector (at most MaxSampleBytes; 0 disables).
	SampleBytes int
	// FoldWindow: repeated identical calls of a process within this long
	// after a reported one are counted in the kernel and reported as one
	// summary (event.Repeat) instead of one event each. 0 disables.
	FoldWindow time.Duration
}

// MaxFoldWindow bounds sensor.fold_window: a count waits about a window
// before it is reported.
const MaxFoldWindow = time.Minute

// MaxSampleBytes is the largest content sample the kernel takes per call.
const MaxSampleBytes = 4096

// DefaultConfig is the embedded default (no protected paths).
func DefaultConfig() Config {
	return Config{
		RingBufferBytes: 8 << 20,
		WakeupBytes:     256 << 10,
		PollInterval:    50 * time.Millisecond,
		QueueSize:       65536,
		SendDedupe:      10 * time.Second,
		TraceAccept:     true,
		TraceUDPSend:    true,
		SampleBytes:     MaxSampleBytes,
		FoldWindow:      time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RingBufferBytes == 0 {
		c.RingBufferBytes = d.RingBufferBytes
	}
	if c.WakeupBytes == 0 {
		c.WakeupBytes = d.WakeupBytes
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	return c
}

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	if len(c.ProtectPaths) == 0 {
		return errors.New("protect.paths: at least one directory is required")
	}
	for i, p := range c.ProtectPaths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("protect.paths[%d] %q: %w", i, p, errors.Unwrap(err))
		}
		if !st.IsDir() {
			return fmt.Errorf("protect.paths[%d] %q: not a directory", i, p)
		}
	}
	rb := c.RingBufferBytes
	if rb != 0 && (rb < 4096 || rb&(rb-1) != 0) {
		return fmt.Errorf("sensor.ring_buffer_bytes: %d is not a power of two of at least 4096", rb)
	}
	if c.WakeupBytes < 0 || (rb != 0 && c.WakeupBytes >= rb) {
		return fmt.Errorf("sensor.wakeup_bytes: %d must be between 0 and the ring buffer size", c.WakeupBytes)
	}
	if c.SampleBytes < 0 || c.SampleBytes > MaxSampleBytes {
		return fmt.Errorf("content.sample_bytes: %d must be between 0 and %d", c.SampleBytes, MaxSampleBytes)
	}
	if c.FoldWindow < 0 || c.FoldWindow > MaxFoldWindow {
		return fmt.Errorf("sensor.fold_window: %s must be between 0 (off) and %s", c.FoldWindow, MaxFoldWindow)
	}
	if c.QueueSize < 0 {
		return fmt.Errorf("sensor.queue_size: %d must not be negative", c.QueueSize)
	}
	return nil
}
