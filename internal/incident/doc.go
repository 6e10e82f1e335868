// Package incident establishes the scope of a leak of My Numbers from the
// recorded ECS documents: which protected files were read, where their
// data went (copies, renames, archives and pipes of processes that read
// them, removable and network media, network sends and TLS uploads), how
// many people that touches (by keyed hash, never a number), what other
// personal information went with the numbers, the deadlines of the report
// to the Personal Information Protection Commission, and what the record
// cannot tell.
//
// It works on a stream of decoded documents (Analyze), from a store or
// from JSON lines of one host or several; cmd/bansho's `incident` renders
// the Report as JSON, Markdown or HTML.
package incident

import (
	"strings"

	"github.com/bansho-sec/bansho/internal/ecsdoc"
)

// Doc is a decoded document (internal/ecsdoc) and its place in the input.
type Doc struct {
	ecsdoc.Doc
	ord uint64 // input order among equal timestamps
}

// The decoded parts the analysis names.
type (
	Proc    = ecsdoc.Proc
	User    = ecsdoc.User
	Finding = ecsdoc.Finding
	Mount   = ecsdoc.Mount
)

// Parse decodes one document.
func Parse(b []byte) (*Doc, error) {
	d := &Doc{}
	if err := ecsdoc.Decode(b, &d.Doc); err != nil {
		return nil, err
	}
	return d, nil
}

// reads: an open that gives read access.
func (d *Doc) reads() bool {
	if d.Event.Action != "open" || d.Event.Outcome == "failure" {
		return false
	}
	for _, f := range d.Bansho.File.Flags {
		if f == "O_WRONLY" {
			return false
		}
	}
	return true
}

func (d *Doc) tainted() bool {
	return d.Bansho.File.Tainted || d.Bansho.Network.Tainted || d.Bansho.Tainted
}

// key identifies a process across hosts: entity ids are per host already
// (they hash the host id), the host name keeps merged inputs apart anyway.
func (d *Doc) procKey() string {
	if d.Process.EntityID == "" {
		return ""
	}
	return d.Host.Name + "/" + d.Process.EntityID
}

func under(p, dir string) bool {
	if p == "" || dir == "" {
		return false
	}
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// followable leaves out terminals and kernel files: writing to them is
// not a copy that could move on.
func followable(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, pre := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(p, pre) {
			return false
		}
	}
	return true
}
