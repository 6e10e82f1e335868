package sensor

// The kernel objects are generated from bpf/sensor.bpf.c and committed
// (bansho_bpfel.*, banshoportable_bpfel.*) so that `go build` needs no
// clang. `make generate` runs this; CI fails when the committed output is
// stale. The same source is built twice: the default object for kernels
// with bpf_rdonly_cast, bpf_loop and task storage (6.2 on), and the
// portable one (BANSHO_PORTABLE) for 5.10 on; the loader picks one by
// probing the kernel (variant.go).
//
//go:generate go tool bpf2go -tags linux -target bpfel -cc clang -cflags "-O2 -g -Wall -Werror -D__TARGET_ARCH_x86" bansho ../bpf/sensor.bpf.c -- -I../bpf/include -I../bpf
//go:generate go tool bpf2go -tags linux -target bpfel -no-global-types -cc clang -cflags "-O2 -g -Wall -Werror -D__TARGET_ARCH_x86 -DBANSHO_PORTABLE" banshoPortable ../bpf/sensor.bpf.c -- -I../bpf/include -I../bpf
