// Package scan is the at-rest side of the content detector: it walks
// files and directories and reports, per regular file, the individual and
// corporate numbers found, as counts, a confidence and keyed hashes. It is
// what `bansho scan` runs.
//
// The walk never follows a symbolic link inside the tree, to a directory or
// to a file: a link to a file in the tree is skipped, and the file itself
// is scanned when the walk reaches it, once. A path named on the command
// line is followed if it is a link (as find -H does). Only regular files
// are read; devices, FIFOs and sockets are skipped, and a file is opened
// with O_NOFOLLOW|O_NONBLOCK and checked to be regular once open, so a
// file swapped for a link or a FIFO during the scan is neither followed nor
// waited on. Each file is streamed through a content.Stream in 256 KiB
// reads, so memory does not grow with file size. Root reads with
// O_NOATIME, leaving access times as they were. A file reached by two
// paths (hard links, overlapping arguments) is reported under each.
//
// No number is ever printed: a path holding a My Number (a file named
// after a person's number) is shown with it masked, as in the sensor's
// documents.
package scan

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/bansho-sec/bansho/pipeline/content"
	"github.com/bansho-sec/bansho/pipeline/ecs"
)

// Options are the scan's inputs, as `bansho scan` parses them.
type Options struct {
	// Format is "json" (one object per line per file) or "text" (a table
	// and a summary); empty means "text".
	Format string
	// HashKey keys the hashes; the CLI takes it from --hash-key or
	// BANSHO_CONTENT_HASH_KEY through content.ParseHashKey, so a scan
	// hashes as the sensor does.
	HashKey []byte
	// Paths are the files and directories to scan.
	Paths []string

	// beforeOpen, in tests, runs before each file is opened.
	beforeOpen func(path string)
}

// Exit codes.
const (
	ExitOK          = 0 // the scan completed, unreadable files or not
	ExitInterrupted = 1 // ctx was cancelled, or stdout failed
	ExitUsage       = 2 // bad options or a path that does not exist (a path that cannot be read is counted, not a usage error)
)

// readSize is the size of each read from a file.
const readSize = 256 << 10

// Run scans opts.Paths and writes the report to stdout, and one line per
// unreadable file or directory to stderr. It returns the exit code.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) int {
	s, err := newScanner(opts, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bansho scan:", err)
		return ExitUsage
	}
	for _, p := range opts.Paths {
		if err := s.root(ctx, p); err != nil {
			break
		}
	}
	if err := s.finish(ctx); err != nil {
		fmt.Fprintln(stderr, "bansho scan:", err)
		return ExitInterrupted
	}
	return ExitOK
}

type scanner struct {
	opts   Options
	det    *content.Detector
	stream *content.Stream
	out    *bufio.Writer
	stderr io.Writer
	buf    []byte
	head   headSniffer
	err    error // the first output error; the scan stops at it

	files, withFindings, unreadable, skipped int
	// Distinct numbers over all files, by hash. Bounded: past maxUnion
	// hashes, or when a file's hashes were truncated, the summary says
	// "at least".
	union    [2]map[string]struct{}
	atLeast  [2]bool
	hdrShown bool
}

const maxUnion = 1 << 20

func newScanner(opts Options, stdout, stderr io.Writer) (*scanner, error) {
	switch opts.Format {
	case "":
		opts.Format = "text"
	case "json", "text":
	default:
		return nil, fmt.Errorf("unknown format %q: use json or text", shown(opts.Format))
	}
	if len(opts.Paths) == 0 {
		return nil, errors.New("no paths to scan")
	}
	if len(opts.HashKey) == 0 {
		return nil, errors.New("no hash key: pass --hash-key or set BANSHO_CONTENT_HASH_KEY")
	}
	// A path that does not exist is a mistake on the command line; one
	// that exists but cannot be read (a symlink loop, no permission) is
	// reported and counted like any unreadable file when the scan gets
	// to it.
	for _, p := range opts.Paths {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, pathError(p, err)
		}
	}
	det, err := content.NewDetector(content.Config{HashKey: opts.HashKey})
	if err != nil {
		return nil, err
	}
	return &scanner{
		opts:   opts,
		det:    det,
		stream: det.NewStream(),
		out:    bufio.NewWriter(stdout),
		stderr: stderr,
		buf:    make([]byte, readSize),
		union:  [2]map[string]struct{}{{}, {}},
	}, nil
}

// pathError names the path once: the errors from os already hold it.
func pathError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", quote(p), pe.Err)
	}
	return fmt.Errorf("%s: %w", quote(p), err)
}

// quote shows a path as is unless it holds control characters or invalid
// UTF-8, which would garble a terminal or a log line, or a tab or a
// backquote. A My Number in it is masked (shown).
func quote(p string) string {
	p = shown(p)
	if strconv.CanBackquote(p) && !strings.ContainsRune(p, '\t') {
		return p
	}
	return strconv.Quote(p)
}

// shown is a path as the report may show it: any My Number in it (a file
// named after a person's number) masked as the sensor's documents mask
// it (ecs.Redact), so the report never becomes a list of numbers.
func shown(p string) string {
	s, _ := ecs.Redact(p)
	return s
}

// root scans one path named by the caller: a link there is followed.
func (s *scanner) root(ctx context.Context, p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		s.fail(p, err)
	case fi.IsDir():
		if err := s.walk(ctx, p, []fileID{idOf(fi)}); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		s.file(ctx, p)
	default:
		s.skipped++
	}
	return s.stop(ctx)
}

// stop returns why the scan must stop, if it must.
func (s *scanner) stop(ctx context.Context) error {
	if s.err != nil {
		return s.err
	}
	return ctx.Err()
}

// fileID identifies a directory, to notice a loop through a bind mount.
type fileID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{uint64(st.Dev), st.Ino}
	}
	return fileID{}
}

// walk scans the directory dir, whose ancestors (itself included) are up.
func (s *scanner) walk(ctx context.Context, dir string, up []fileID) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.fail(dir, err)
		if len(entries) == 0 {
			return s.stop(ctx)
		}
	}
	for _, e := range entries {
		if err := s.stop(ctx); err != nil {
			return err
		}
		p := filepath.Join(dir, e.Name())
		switch t := e.Type(); {
		case t&fs.ModeSymlink != 0:
			s.skipped++ // never followed
		case t.IsDir():
			fi, err := os.Lstat(p)
			if err != nil {
				s.fail(p, err)
				continue
			}
			if !fi.IsDir() { // replaced since the listing
				s.skipped++
				continue
			}
			id := idOf(fi)
			if id != (fileID{}) && slices.Contains(up, id) {
				s.fail(p, errors.New("directory loop (a bind mount?), not entered"))
				continue
			}
			if err := s.walk(ctx, p, append(up, id)); err != nil {
				return err
			}
		case t.IsRegular():
			s.file(ctx, p)
		default:
			s.skipped++ // device, FIFO, socket
		}
	}
	return s.stop(ctx)
}

// file scans one regular file.
func (s *scanner) file(ctx context.Context, p string) {
	if s.opts.beforeOpen != nil {
		s.opts.beforeOpen(p)
	}
	f, err := open(p)
	if err != nil {
		s.fail(p, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.fail(p, err)
		return
	}
	if !fi.Mode().IsRegular() {
		s.skipped++ // it changed into something else since the listing
		return
	}
	s.stream.Reset()
	s.head.reset()
	for {
		if ctx.Err() != nil {
			return // not counted: the scan stops
		}
		n, err := f.Read(s.buf)
		if n > 0 {
			s.stream.Write(s.buf[:n])
			s.head.write(s.buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			s.fail(p, err)
			return
		}
	}
	s.report(p, s.stream.Result())
}

// open opens a file for reading without following a link, without waiting
// on a FIFO, and, where permitted, without updating its access time.
func open(p string) (*os.File, error) {
	const flags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	f, err := os.OpenFile(p, flags|syscall.O_NOATIME, 0)
	if errors.Is(err, syscall.EPERM) { // O_NOATIME needs ownership or CAP_FOWNER
		f, err = os.OpenFile(p, flags, 0)
	}
	return f, err
}

// fail reports a file or directory that could not be read.
func (s *scanner) fail(p string, err error) {
	s.unreadable++
	fmt.Fprintf(s.stderr, "bansho scan: %v\n", pathError(p, err))
}

func (s *scanner) report(p string, r content.Result) {
	s.files++
	if r.MyNumber.Found() || r.CorporateNumber.Found() {
		s.withFindings++
	}
	for k, f := range []*content.Finding{&r.MyNumber, &r.CorporateNumber} {
		s.atLeast[k] = s.atLeast[k] || f.HashesTruncated
		for _, h := range f.Hashes {
			if len(s.union[k]) >= maxUnion {
				s.atLeast[k] = true
				break
			}
			s.union[k][h] = struct{}{}
		}
	}
	enc := s.encoding(r.Encodings)
	if s.opts.Format == "json" {
		s.writeJSON(p, enc, &r)
	} else {
		s.writeRow(p, enc, &r)
	}
	if err := s.out.Flush(); err != nil && s.err == nil {
		s.err = fmt.Errorf("writing the report: %w", err)
	}
}

// encoding names the encodings of a file's matches, or of the file when
// none matched. ASCII digits in a UTF-8 or CP932 file are that file's
// encoding, not a separate one.
func (s *scanner) encoding(matches []string) string {
	file := s.head.encoding()
	if len(matches) == 0 {
		return file
	}
	var out []string
	for _, e := range matches {
		if e == "ascii" && (file == "utf-8" || file == "cp932") {
			e = file
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return strings.Join(out, ",")
}

// writeJSON writes the file's line, keys in a fixed order.
func (s *scanner) writeJSON(p, enc string, r *content.Result) {
	w := s.out
	w.WriteString(`{"path": `)
	writeJSONString(w, shown(p))
	w.WriteString(`, "encoding": `)
	writeJSONString(w, enc)
	for _, k := range []struct {
		name string
		f    *content.Finding
	}{{"my_number", &r.MyNumber}, {"corporate_number", &r.CorporateNumber}} {
		fmt.Fprintf(w, `, "%s": {"distinct": %d, "occurrences": %d, "confidence": "%s", "hashes": [`,
			k.name, k.f.Distinct, k.f.Occurrences, k.f.Confidence)
		for i, h := range k.f.Hashes {
			if i > 0 {
				w.WriteString(", ")
			}
			writeJSONString(w, h)
		}
		w.WriteString("]}")
	}
	w.WriteString("}\n")
}

func writeJSONString(w *bufio.Writer, v string) {
	b, _ := json.Marshal(v) // a string always marshals; invalid UTF-8 becomes U+FFFD
	w.Write(b)
}

// Text columns: fixed widths, the path last, so rows align as they stream.
const rowFormat = "%-9s %-9s %-7s %-9s %-7s %s\n"

func (s *scanner) writeRow(p, enc string, r *content.Result) {
	if !s.hdrShown {
		fmt.Fprintf(s.out, rowFormat, "ENCODING", "MY-NUMBER", "CONF", "CORPORATE", "CONF", "PATH")
		s.hdrShown = true
	}
	count := func(f *content.Finding) string {
		if !f.Found() {
			return "-"
		}
		d := strconv.Itoa(f.Distinct)
		if f.DistinctEstimated {
			d = "~" + d
		}
		return d + "/" + strconv.Itoa(f.Occurrences)
	}
	fmt.Fprintf(s.out, rowFormat, enc, count(&r.MyNumber), r.MyNumber.Confidence,
		count(&r.CorporateNumber), r.CorporateNumber.Confidence, quote(p))
}

// finish writes the text summary and reports why the scan stopped early.
func (s *scanner) finish(ctx context.Context) error {
	if s.opts.Format == "text" && s.err == nil {
		distinct := func(k int) string {
			n := strconv.Itoa(len(s.union[k]))
			if s.atLeast[k] {
				return "at least " + n
			}
			return n
		}
		if s.files > 0 {
			fmt.Fprintln(s.out)
		}
		fmt.Fprintf(s.out, "%d files scanned, %d with findings, %s distinct my numbers, %s distinct corporate numbers, %d unreadable, %d skipped (links, special files)\n",
			s.files, s.withFindings, distinct(0), distinct(1), s.unreadable, s.skipped)
		if err := s.out.Flush(); err != nil {
			s.err = fmt.Errorf("writing the report: %w", err)
		}
	}
	if s.err != nil {
		return s.err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d files: %w", s.files, ctx.Err())
	}
	return nil
}
