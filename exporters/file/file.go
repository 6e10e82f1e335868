// Package file writes documents as JSON lines to a size-rotated file.
//
// Rotation renames path to path.1, path.1 to path.2, and so on, keeping
// MaxBackups; a document is never split across files. The directory is
// created 0700 and files are 0600: the documents are an access record of
// personal data. An existing directory and file are tightened to those
// modes; a directory others can write to (a shared one like /tmp), or
// owned by another user, is refused. Safe for concurrent use.
//
// Accounting is per document: a document is either whole in the file or
// reported lost in an *exporters.LostError. When a write fails (ENOSPC,
// EIO) the file is cut back to the end of the last complete document, so a
// reader never sees half a line.
package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/bansho-sec/bansho/exporters"
)

// Options configures the exporter.
type Options struct {
	Path       string
	MaxBytes   int64       // rotate when the next document would pass this (default 100 MiB)
	MaxBackups int         // rotated files kept (default 5; 0 keeps none)
	Mode       os.FileMode // default 0600
	Fsync      bool        // fsync on every Flush
	BufferSize int         // bytes buffered before a write to the file (default 256 KiB)
}

// Exporter is a size-rotated JSON-lines file.
type Exporter struct {
	opt       Options
	mu        sync.Mutex
	f         *os.File
	buf       []byte
	pending   int   // documents in buf
	committed int64 // file size up to the last complete document written
	removed   Removed
	shared    os.FileMode // the directory's mode, when shared and left alone
}

// Removed is what rotation has deleted: the oldest backup each time one
// more would pass MaxBackups (with MaxBackups 0, the file itself). That
// is retention as configured, not a failure, but an access record that
// leaves the host only through this file is gone with it: the sensor
// reports these counts in its health documents.
type Removed struct {
	Files uint64
	Bytes uint64
}

// Removed returns what rotation has deleted since New.
func (e *Exporter) Removed() Removed {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.removed
}

// drop counts a file rotation is about to delete.
func (e *Exporter) drop(path string) {
	if st, err := os.Stat(path); err == nil {
		e.removed.Files++
		e.removed.Bytes += uint64(st.Size())
	}
}

// Defaults of Options (and of outputs.file.*).
const (
	DefaultMaxBytes   = 100 << 20
	DefaultMaxBackups = 5
)

// New opens (appending to) or creates the file.
func New(opt Options) (*Exporter, error) {
	if opt.Path == "" {
		return nil, errors.New("no path")
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxBackups < 0 {
		opt.MaxBackups = 0
	}
	if opt.Mode == 0 {
		opt.Mode = 0o600
	}
	if opt.BufferSize <= 0 {
		opt.BufferSize = 256 << 10
	}
	shared, err := prepareDir(filepath.Dir(opt.Path), filepath.Base(opt.Path))
	if err != nil {
		return nil, err
	}
	e := &Exporter{opt: opt, buf: make([]byte, 0, opt.BufferSize), shared: shared}
	if err := e.open(); err != nil {
		return nil, err
	}
	return e, nil
}

// CheckDir reports what New would refuse about the directory of path
// without changing anything (for a configuration check): one that others
// can write to. A missing directory is fine (New creates it); one with
// wider read permissions is fine (New tightens it when it is the output's
// own, else leaves it and says so).
func CheckDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return checkDirMode(dir, st)
}

func checkDirMode(dir string, st os.FileInfo) error {
	if !st.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if m := st.Mode(); m&0o022 != 0 || m&os.ModeSticky != 0 {
		return fmt.Errorf("%s: others can write to it (mode %s): give the output a directory of its own (the default is /var/lib/bansho), "+
			"which bansho keeps 0700", dir, modeString(m))
	}
	return nil
}

func modeString(m os.FileMode) string {
	s := fmt.Sprintf("%o", m.Perm())
	if m&os.ModeSticky != 0 {
		s = "1" + s
	}
	return s
}

// prepareDir creates the directory 0700, or tightens an existing one to
// 0700 as the file is tightened to 0600: the names and sizes of the
// rotated files tell when protected data was read. A directory others can
// write to (a shared one such as /tmp), or owned by another user, is
// refused: they could replace the files in it. A directory that holds
// anything but the output and its rotated files (/var/log, /dev) is left
// as it is, and reported: tightening it would break the system's other
// users of it. shared is that directory's mode then, else 0.
func prepareDir(dir, base string) (shared os.FileMode, err error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, err
		}
		st, err = os.Stat(dir)
	}
	if err != nil {
		return 0, err
	}
	if err := checkDirMode(dir, st); err != nil {
		return 0, err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return 0, fmt.Errorf("%s: owned by uid %d, not by this process (uid %d), who could replace the files in it: "+
			"give the output a directory of its own", dir, sys.Uid, os.Geteuid())
	}
	if st.Mode().Perm() == 0o700 {
		return 0, nil
	}
	if !ownDir(dir, base) {
		return st.Mode().Perm(), nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("%s: cannot tighten it to 0700: %w", dir, errors.Unwrap(err))
	}
	return 0, nil
}

// ownDir reports whether dir holds nothing but the output base and its
// rotated files (base.1, base.2, ...): a directory of the output's own.
func ownDir(dir, base string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if n == base {
			continue
		}
		if suf, ok := strings.CutPrefix(n, base+"."); ok {
			if _, err := strconv.Atoi(suf); err == nil {
				continue
			}
		}
		return false
	}
	return true
}

// SharedDir is the mode of the output's directory when it is shared with
// other files and so was left as it is (0: the directory is the output's
// own, 0700). The caller should say so: give the output a directory of
// its own.
func (e *Exporter) SharedDir() os.FileMode { return e.shared }

func (e *Exporter) open() error {
	f, err := os.OpenFile(e.opt.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, e.opt.Mode)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if st.Mode().Perm() != e.opt.Mode.Perm() {
		// An older file with wider permissions: tighten it.
		if err := f.Chmod(e.opt.Mode); err != nil {
			f.Close()
			return err
		}
	}
	e.f, e.committed = f, st.Size()
	return nil
}

// Name implements exporters.Exporter.
func (e *Exporter) Name() string { return "file" }

// Write implements exporters.Exporter.
func (e *Exporter) Write(docs [][]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, d := range docs {
		n := int64(len(d)) + 1
		if e.committed+int64(len(e.buf))+n > e.opt.MaxBytes && e.committed+int64(len(e.buf)) > 0 {
			if err := e.flushLocked(); err != nil {
				return e.lostWith(err, len(docs)-i)
			}
			if err := e.rotate(); err != nil {
				return &exporters.LostError{Exporter: "file", Lost: len(docs) - i,
					Err: fmt.Errorf("rotate %s: %w", e.opt.Path, err)}
			}
		}
		e.buf = append(e.buf, d...)
		e.buf = append(e.buf, '\n')
		e.pending++
		if len(e.buf) >= e.opt.BufferSize {
			if err := e.flushLocked(); err != nil {
				return e.lostWith(err, len(docs)-i-1)
			}
		}
	}
	return nil
}

// lostWith adds documents never buffered to a flush failure's count.
func (e *Exporter) lostWith(err error, more int) error {
	var le *exporters.LostError
	if errors.As(err, &le) {
		le.Lost += more
		return le
	}
	return &exporters.LostError{Exporter: "file", Lost: more, Err: err}
}

// flushLocked writes the buffer. On failure the file is cut back to its
// last complete document and the buffered documents are reported lost.
func (e *Exporter) flushLocked() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.f.Write(e.buf)
	if err == nil {
		e.committed += int64(len(e.buf))
		e.buf = e.buf[:0]
		e.pending = 0
		return nil
	}
	lost := e.pending
	e.buf = e.buf[:0]
	e.pending = 0
	if terr := e.f.Truncate(e.committed); terr != nil {
		err = errors.Join(err, fmt.Errorf("cut back to the last complete document: %w", terr))
	}
	return &exporters.LostError{Exporter: "file", Lost: lost, Err: fmt.Errorf("write %s: %w", e.opt.Path, err)}
}

// rotate closes the current file and shifts the backups.
func (e *Exporter) rotate() error {
	if err := e.f.Close(); err != nil {
		return err
	}
	if e.opt.MaxBackups == 0 {
		e.drop(e.opt.Path)
		if err := os.Remove(e.opt.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return e.open()
	}
	e.drop(fmt.Sprintf("%s.%d", e.opt.Path, e.opt.MaxBackups)) // the rename below replaces it
	for i := e.opt.MaxBackups - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", e.opt.Path, i)
		if err := os.Rename(from, fmt.Sprintf("%s.%d", e.opt.Path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(e.opt.Path, e.opt.Path+".1"); err != nil {
		return err
	}
	return e.open()
}

// Flush implements exporters.Exporter.
func (e *Exporter) Flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.flushLocked(); err != nil {
		return err
	}
	if e.opt.Fsync {
		if err := e.f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", e.opt.Path, err)
		}
	}
	return nil
}

// Reopen writes what is buffered, then closes and reopens the path (after
// an external logrotate moved the file).
func (e *Exporter) Reopen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.flushLocked()
	e.f.Close()
	if oerr := e.open(); oerr != nil {
		return errors.Join(err, oerr)
	}
	return err
}

// Close implements exporters.Exporter.
func (e *Exporter) Close() error {
	err := e.Flush()
	e.mu.Lock()
	defer e.mu.Unlock()
	if cerr := e.f.Close(); err == nil {
		err = cerr
	}
	return err
}
