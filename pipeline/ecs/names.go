package ecs

import "strconv"

// OpenFlagNames are the names bansho.file.flags gives an open(2) flags
// word, as a list: the rule engine matches on them without parsing JSON.
func OpenFlagNames(f uint32) []string {
	b := appendOpenFlags(nil, f)
	var out []string
	// b is ["A","B",...]: names are constants or hex, never escaped.
	for i := 1; i < len(b)-1; {
		j := i + 1
		for j < len(b) && b[j] != '"' {
			j++
		}
		out = append(out, string(b[i+1:j]))
		i = j + 2 // past the quote and the comma
	}
	return out
}

// SyscallName is bansho.file.syscall / bansho.network.syscall of a call.
func SyscallName(nr uint32) string {
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return strconv.FormatUint(uint64(nr), 10)
}
