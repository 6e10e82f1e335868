package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SeedProcesses fills the engine's process table from a proc file system
// (root, normally /proc): processes that started before the sensor (the
// My Number application, the web server) then have their program,
// arguments and ancestors on their first event, and a shell they start
// is judged by its parent. Call it before the first Eval. Returns how
// many processes were read; processes that vanish while being read are
// skipped.
func (e *Engine) SeedProcesses(root string) int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	type seedProc struct {
		pid, ppid uint32
		start     uint64
		name, exe string
		cwd       string
		args      []string
	}
	var ps []seedProc
	for _, ent := range ents {
		pid, err := strconv.ParseUint(ent.Name(), 10, 32)
		if err != nil {
			continue
		}
		dir := filepath.Join(root, ent.Name())
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		name, ppid, start, ok := parseStat(stat)
		if !ok {
			continue
		}
		p := seedProc{pid: uint32(pid), ppid: ppid, start: start, name: name}
		p.exe, _ = os.Readlink(filepath.Join(dir, "exe"))
		p.exe = strings.TrimSuffix(p.exe, " (deleted)")
		p.cwd, _ = os.Readlink(filepath.Join(dir, "cwd"))
		if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
			p.args = strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		}
		ps = append(ps, p)
	}
	// Parents first, so that each child finds its ancestors.
	sort.Slice(ps, func(i, j int) bool { return ps[i].start < ps[j].start })
	for _, p := range ps {
		e.procs.seed(p.pid, p.ppid, p.start, p.name, p.exe, p.args, p.cwd)
	}
	return len(ps)
}

// parseStat reads comm, ppid and starttime (clock ticks after boot) from
// /proc/PID/stat. comm may hold spaces and parentheses: it ends at the
// last ')'.
func parseStat(b []byte) (name string, ppid uint32, start uint64, ok bool) {
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", 0, 0, false
	}
	name = string(b[i+1 : j])
	f := strings.Fields(string(b[j+1:]))
	// After comm: state(0) ppid(1) ... starttime(19).
	if len(f) < 20 {
		return "", 0, 0, false
	}
	pp, err1 := strconv.ParseUint(f[1], 10, 32)
	st, err2 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return name, uint32(pp), st, true
}
