// int80.c: a 64-bit program that opens and reads a file through the ia32
// entry (int $0x80, i386 numbers), a known way around sensors that only
// decode x86_64 syscalls. Built static and not position-independent, so the
// path argument is below 4 GiB, as the 32-bit entry needs.
//
//   int80 PATH  (PATH must fit in path[])
#include <string.h>

static char path[512];
static char buf[64];

int main(int argc, char **argv)
{
	long fd, r;

	if (argc != 2 || strlen(argv[1]) >= sizeof(path))
		return 2;
	strcpy(path, argv[1]);
	__asm__ volatile("int $0x80" : "=a"(fd) : "a"(5L /* open */), "b"(path), "c"(0L), "d"(0L) : "memory");
	if (fd < 0)
		return 1;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(3L /* read */), "b"(fd), "c"(buf), "d"(64L) : "memory");
	return r > 0 ? 0 : 1;
}
