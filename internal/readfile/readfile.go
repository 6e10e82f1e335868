// Package readfile reads the small files bansho is given to parse (the
// configuration, rule files, rule test fixtures) without trusting them to
// be small or regular: a FIFO is not waited on, a device (/dev/zero) is
// not read forever, and a file above a bound is refused before a byte of
// it is parsed, with an error that names the file and its size.
package readfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"unicode/utf8"
)

// Regular returns the contents of the regular file path, following
// symbolic links, if it holds at most max bytes. what names the kind of
// file in the size error ("a configuration file"). Errors hold the path.
func Regular(path string, max int64, what string) ([]byte, error) {
	// What is not a regular file is refused before it is opened: opening
	// a device has effects of its own, and may be refused for reasons
	// that would hide what is wrong.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s", path, kind(st.Mode()))
	}
	// O_NONBLOCK: opening a FIFO with no writer returns at once; it is
	// refused below. Regular files ignore the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s", path, kind(st.Mode()))
	}
	if st.Size() > max {
		return nil, tooLarge(path, st.Size(), max, what)
	}
	// The file may grow between the stat and the read: read one byte more
	// than allowed to notice.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, tooLarge(path, int64(len(b)), max, what)
	}
	return b, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "is a directory"
	case m&fs.ModeNamedPipe != 0:
		return "not a regular file (a FIFO)"
	case m&fs.ModeSocket != 0:
		return "not a regular file (a socket)"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "not a regular file (a device)"
	}
	return "not a regular file"
}

func tooLarge(path string, size, max int64, what string) error {
	return fmt.Errorf("%s: %d bytes, more than the %s allowed for %s", path, size, Size(max), what)
}

// Size shows a bound in bytes the way the docs write it (1 MiB).
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// BadUTF8 returns the line and byte column (both from 1) of the first
// byte of b that is not UTF-8, or 0, 0 when b is valid (or is UTF-16
// with a byte order mark, which YAML also reads). The YAML parser says
// only "invalid leading UTF-8 octet", with no line.
func BadUTF8(b []byte) (line, col int) {
	if utf8.Valid(b) || bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return 0, 0
	}
	line, start := 1, 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, i - start + 1
		}
		if b[i] == '\n' {
			line, start = line+1, i+1
		}
		i += size
	}
	return 0, 0
}
