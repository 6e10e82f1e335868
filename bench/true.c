// bench/true.c: the smallest static program that exits 0, the exec target of
// the exec workload. No libc: the loop then measures fork+exec+exit in the
// kernel, not C runtime start-up, so a sensor's exec cost shows up clearly.
#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n\tmovl $60, %eax\n\txorl %edi, %edi\n\tsyscall\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n\tmov x8, #93\n\tmov x0, #0\n\tsvc #0\n");
#else
#error "bench/true.c: add the exit(0) system call for this architecture"
#endif
