package ecs

import (
	"strconv"
	"strings"

	"github.com/bansho-sec/bansho/internal/dockey"
	"github.com/bansho-sec/bansho/internal/event"
)

// open(2) flags, x86_64 values (like the syscall numbers below: the
// sensor's kernel side is built for x86_64).
const (
	oAccMode   = 0o3
	oCreat     = 0o100
	oTrunc     = 0o1000
	oDirectory = 0o200000
	oTmpfile   = 0o20000000 | oDirectory
	oSync      = 0o4010000
	oDSync     = 0o10000
)

var openFlagNames = []struct {
	bits uint32
	name string
}{
	{oCreat, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"}, {oTrunc, "O_TRUNC"},
	{0o2000, "O_APPEND"}, {0o4000, "O_NONBLOCK"}, {oSync, "O_SYNC"}, {oDSync, "O_DSYNC"},
	{0o20000, "O_ASYNC"}, {0o40000, "O_DIRECT"}, {0o100000, "O_LARGEFILE"}, {oTmpfile, "O_TMPFILE"},
	{oDirectory, "O_DIRECTORY"}, {0o400000, "O_NOFOLLOW"}, {0o1000000, "O_NOATIME"},
	{0o2000000, "O_CLOEXEC"}, {0o10000000, "O_PATH"},
}

// appendOpenFlags writes the names of the bits of an open(2) flags word
// as a JSON array, the access mode first; bits without a name are given
// as one hexadecimal number.
func appendOpenFlags(b []byte, f uint32) []byte {
	b = append(b, '[')
	switch f & oAccMode {
	case 0:
		b = append(b, `"O_RDONLY"`...)
	case 1:
		b = append(b, `"O_WRONLY"`...)
	case 2:
		b = append(b, `"O_RDWR"`...)
	default:
		b = append(b, `"O_ACCMODE"`...)
	}
	rest := f &^ oAccMode
	for _, n := range openFlagNames {
		if rest&n.bits == n.bits {
			b = append(b, ',', '"')
			b = append(b, n.name...)
			b = append(b, '"')
			rest &^= n.bits // O_SYNC and O_TMPFILE include another flag's bit
		}
	}
	if rest != 0 {
		b = append(b, `,"0x`...)
		b = strconv.AppendUint(b, uint64(rest), 16)
		b = append(b, '"')
	}
	return append(b, ']')
}

// FileType is file.type of an inode mode: file, dir, symlink, socket, fifo,
// char_device, block_device, or "" for anything else.
func FileType(mode uint32) string {
	switch mode & 0o170000 {
	case 0o100000:
		return "file"
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o140000:
		return "socket"
	case 0o010000:
		return "fifo"
	case 0o020000:
		return "char_device"
	case 0o060000:
		return "block_device"
	}
	return ""
}

// fileMeta: open is an access, plus a creation with O_CREAT and a change
// with write access or O_TRUNC (what the caller asked for: the kernel does
// not say whether O_CREAT created the file).
func fileMeta(ev *event.Event) meta {
	m := meta{kind: "event", category: `["file"]`, dataset: "bansho.file"}
	f := ev.File
	if f == nil {
		m.types, m.action = `["info"]`, ev.Op.String()
		return m
	}
	m.outcome = "success"
	if f.Ret < 0 {
		m.outcome = "failure"
	}
	switch ev.Op {
	case event.OpFileOpen:
		m.action = "open"
		creat := f.Flags&oCreat != 0
		change := f.Flags&oAccMode != 0 || f.Flags&oTrunc != 0
		switch {
		case creat && change:
			m.types = `["access","creation","change"]`
		case creat:
			m.types = `["access","creation"]`
		case change:
			m.types = `["access","change"]`
		default:
			m.types = `["access"]`
		}
	case event.OpFileWrite:
		m.action, m.types = "write", `["change"]`
	default:
		m.action = f.Kind.Action()
		switch f.Kind {
		case event.NSUnlink, event.NSRmdir:
			m.types = `["deletion"]`
		case event.NSLink, event.NSSymlink, event.NSMkdir:
			m.types = `["creation"]`
		default:
			m.types = `["change"]`
		}
	}
	return m
}

// file writes file.*. Paths from the kernel are absolute and clean; name,
// directory and extension are cut from them without rewriting.
func (e *Encoder) file(o *obj, f *event.File) {
	o.section("file")
	if p := f.Path; p != "" {
		mark := len(o.b)
		o.user("path", p)
		o.note(dockey.File, mark)
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			name := p[i+1:]
			o.userNE("name", name)
			dir := p[:i]
			if i == 0 {
				dir = "/"
			}
			o.userNE("directory", dir)
			// No extension for dotfiles (".bashrc") or names ending in a dot.
			if j := strings.LastIndexByte(name, '.'); j > 0 && j < len(name)-1 {
				o.user("extension", name[j+1:])
			}
		}
	}
	mark := len(o.b)
	o.userNE("target_path", f.TargetPath)
	o.note(dockey.File, mark)
	if f.Ino != 0 {
		o.ustr("inode", f.Ino)
		// The kernel's dev_t: major in the high 12 bits, minor in the low 20.
		o.key("device")
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, f.Dev>>20, 10)
		o.b = append(o.b, ':')
		o.b = strconv.AppendUint(o.b, f.Dev&0xfffff, 10)
		o.b = append(o.b, '"')
		if f.IMode != 0 {
			o.octal("mode", f.IMode)
			o.strNE("type", FileType(f.IMode))
		}
		o.ustr("uid", uint64(f.IUID))
		e.userName(o, "owner", f.IUID)
		o.ustr("gid", uint64(f.IGID))
		e.groupName(o, "group", f.IGID)
	}
	o.close()
}

// fileExtras writes bansho.file: what ECS has no field for.
func fileExtras(o *obj, ev *event.Event) {
	f := ev.File
	o.section("file")
	o.boolean("protected", ev.Has(event.FlagProtected))
	if ev.Has(event.FlagIntegrity) {
		o.boolean("integrity", true) // under protect.integrity_paths
	}
	o.boolean("tainted", ev.Has(event.FlagTainted))
	if ev.Op != event.OpContentScan { // the sensor's own read: no call of the writer
		o.key("syscall")
		o.b = appendSyscall(o.b, f.Syscall)
		o.int("ret", f.Ret)
		if f.FD >= 0 {
			o.int("fd", int64(f.FD))
		}
	}
	switch ev.Op {
	case event.OpFileOpen:
		o.key("flags")
		o.b = appendOpenFlags(o.b, f.Flags)
		if f.Flags&oCreat != 0 || f.Flags&oTmpfile == oTmpfile {
			o.octal("create_mode", f.Mode)
		}
	case event.OpFileWrite:
		if f.Ret > 0 {
			o.int("bytes", f.Ret)
		}
		o.uint("requested", f.Count)
		if f.Pos >= 0 {
			o.int("offset", f.Pos)
		}
		if ev.Has(event.FlagCopy) {
			o.boolean("copy", true)
		}
	}
	if ev.Op == event.OpFileNS {
		switch f.Kind {
		case event.NSChmod, event.NSMkdir:
			o.octal("new_mode", f.Mode)
		case event.NSChown:
			// -1: unchanged.
			if f.UID >= 0 {
				o.ustr("new_uid", uint64(f.UID))
			}
			if f.GID >= 0 {
				o.ustr("new_gid", uint64(f.GID))
			}
		case event.NSTruncate:
			o.uint("length", f.Count)
		}
	}
	o.userNE("name", f.Name)
	o.userNE("anchor", f.Anchor)
	if en := ev.Enriched; en != nil && en.Mount != nil {
		m := en.Mount
		o.section("mount")
		o.strNE("fstype", m.FSType)
		o.userNE("source", m.Source)
		o.userNE("point", m.MountPoint)
		o.boolean("removable", m.Removable)
		o.boolean("network", m.Network)
		o.close()
	}
	o.close()
}

// appendSyscall writes the name of an x86_64 syscall the sensor reports,
// or its number.
func appendSyscall(b []byte, nr uint32) []byte {
	b = append(b, '"')
	if n, ok := syscallNames[nr]; ok {
		b = append(b, n...)
	} else {
		b = strconv.AppendUint(b, uint64(nr), 10)
	}
	return append(b, '"')
}

var syscallNames = map[uint32]string{
	1: "write", 2: "open", 18: "pwrite64", 20: "writev", 40: "sendfile", 42: "connect", 43: "accept",
	44: "sendto", 46: "sendmsg", 76: "truncate", 77: "ftruncate", 82: "rename", 83: "mkdir", 84: "rmdir",
	85: "creat", 86: "link", 87: "unlink", 88: "symlink", 90: "chmod", 91: "fchmod", 92: "chown",
	93: "fchown", 94: "lchown", 257: "openat", 258: "mkdirat", 260: "fchownat", 263: "unlinkat",
	264: "renameat", 265: "linkat", 266: "symlinkat", 268: "fchmodat", 275: "splice", 288: "accept4",
	296: "pwritev", 307: "sendmmsg", 316: "renameat2", 326: "copy_file_range", 328: "pwritev2",
	437: "openat2", 452: "fchmodat2",
}
