package sensor

// The kernel object is generated from bpf/sensor.bpf.c and committed
// (bansho_bpfel.go, bansho_bpfel.o) so that `go build` needs no clang.
// `make generate` runs this; CI fails when the committed output is stale.
//
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror -D__TARGET_ARCH_x86" bansho ../bpf/sensor.bpf.c -- -I../bpf/include -I../bpf
