package proctree

// The task iterator (ExactStarts) is generated from bpf/iter.bpf.c and
// committed (iter_bpfel.go, iter_bpfel.o) so that `go build` needs no
// clang. `make generate` runs this; CI fails when the committed output is
// stale.
//
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror -D__TARGET_ARCH_x86" iter ../../bpf/iter.bpf.c -- -I../../bpf/include -I../../bpf
