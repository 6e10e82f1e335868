// compat32.c: a 32-bit program (gcc -m32 -static) for the ia32 tests of the
// kernel side (compat_linux_test.go). Every call goes through the ia32
// syscall numbers, most of them named explicitly, so the test knows which
// compat entry each event came from. Exits 1 naming the failing call.
//
//   compat32 protected DIR ROSTER OUTSIDE PORT CLOSED
//       open(5) ROSTER and read it (taint); openat(295) DIR/new.csv to
//       write, write(4) 8 bytes, pwrite64(181) at 2^32+4096, fchown(95,
//       16-bit ids) with -1/0; rename(38) DIR/new.csv to DIR/renamed.csv,
//       renameat2(353) that to OUTSIDE/out.csv (out of the directory),
//       unlink(10) it; truncate64(193) ROSTER to 3; writev(146) a sample
//       to OUTSIDE/copy.txt; connect(362) to 127.0.0.1:PORT; socketcall(102)
//       SYS_CONNECT and SYS_SEND on a second socket; sendmsg(370) a
//       datagram to 127.0.0.1:9; connect(362) to 127.0.0.1:CLOSED, refused.
//   compat32 ptrace PID
//       ptrace(26) PTRACE_SEIZE and PTRACE_DETACH of PID, process_vm_readv(347)
//       of nothing from it.
//   compat32 outside DIR
//       the same kind of file work in DIR, which is not protected.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "compat32: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A raw ia32 syscall through int $0x80, up to three arguments. */
static long sys3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static long sys5(long nr, long a, long b, long c, long d, long e)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	if (ret < 0 && ret > -4096) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static void join(char *buf, size_t n, const char *dir, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int protected_work(const char *dir, const char *roster, const char *outside, int port, int closed)
{
	char buf[256], p1[512], p2[512], p3[512];
	long fd, out, s;

	fd = sys3(5 /* open */, (long)roster, O_RDONLY, 0);
	if (fd < 0)
		die("open");
	if (sys3(3 /* read */, fd, (long)buf, sizeof(buf)) < 0)
		die("read");
	join(p1, sizeof(p1), dir, "new.csv");
	out = sys5(295 /* openat */, AT_FDCWD, (long)p1, O_WRONLY | O_CREAT | O_TRUNC | O_LARGEFILE, 0640, 0);
	if (out < 0)
		die("openat");
	if (sys3(4 /* write */, out, (long)"data-123", 8) != 8)
		die("write");
	/* pwrite64(fd, buf, count, pos_lo, pos_hi): 2^32 + 4096 */
	if (sys5(181 /* pwrite64 */, out, (long)"hi", 2, 4096, 1) != 2)
		die("pwrite64");
	if (sys3(95 /* fchown, 16-bit ids */, out, 0xffff, 0) < 0)
		die("fchown16");
	sys3(6 /* close */, out, 0, 0);

	join(p2, sizeof(p2), dir, "renamed.csv");
	if (sys3(38 /* rename */, (long)p1, (long)p2, 0) < 0)
		die("rename");
	join(p3, sizeof(p3), outside, "out.csv");
	if (sys5(353 /* renameat2 */, AT_FDCWD, (long)p2, AT_FDCWD, (long)p3, 0) < 0)
		die("renameat2");
	if (sys3(10 /* unlink */, (long)p3, 0, 0) < 0)
		die("unlink");
	/* truncate64(name, len_lo, len_hi) */
	if (sys3(193 /* truncate64 */, (long)roster, 3, 0) < 0)
		die("truncate64");

	/* A tainted process writing outside: sampled, through struct compat_iovec. */
	join(p1, sizeof(p1), outside, "copy.txt");
	out = sys5(295 /* openat */, AT_FDCWD, (long)p1, O_WRONLY | O_CREAT | O_TRUNC, 0600, 0);
	if (out < 0)
		die("openat copy");
	struct iovec iov[2] = {{"sample-one", 10}, {"-two", 4}};
	if (sys3(146 /* writev */, out, (long)iov, 2) != 14)
		die("writev");

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket");
	if (sys3(362 /* connect */, s, (long)&sa, sizeof(sa)) < 0)
		die("connect");
	close(s);

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket 2");
	unsigned long cargs[3] = {s, (unsigned long)&sa, sizeof(sa)};
	if (sys3(102 /* socketcall */, 3 /* SYS_CONNECT */, (long)cargs, 0) < 0)
		die("socketcall connect");
	unsigned long sargs[4] = {s, (unsigned long)"sent-by-socketcall", 18, 0};
	if (sys3(102 /* socketcall */, 9 /* SYS_SEND */, (long)sargs, 0) != 18)
		die("socketcall send");
	close(s);

	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		die("socket udp");
	struct iovec miov = {"datagram", 8};
	struct msghdr msg = {.msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &miov, .msg_iovlen = 1};
	if (sys3(370 /* sendmsg */, s, (long)&msg, 0) != 8)
		die("sendmsg");

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket 3");
	sa.sin_port = htons(closed);
	if (sys3(362 /* connect */, s, (long)&sa, sizeof(sa)) == 0 || errno != ECONNREFUSED)
		die("connect to a closed port");
	return 0;
}

static int outside_work(const char *dir)
{
	char p1[512], p2[512];
	long fd;

	join(p1, sizeof(p1), dir, "plain.txt");
	fd = sys5(295 /* openat */, AT_FDCWD, (long)p1, O_WRONLY | O_CREAT | O_TRUNC, 0600, 0);
	if (fd < 0)
		die("openat");
	if (sys3(4 /* write */, fd, (long)"nothing", 7) != 7)
		die("write");
	sys3(6 /* close */, fd, 0, 0);
	fd = sys3(5 /* open */, (long)p1, O_RDONLY, 0);
	if (fd < 0)
		die("open");
	sys3(6 /* close */, fd, 0, 0);
	join(p2, sizeof(p2), dir, "moved.txt");
	if (sys3(38 /* rename */, (long)p1, (long)p2, 0) < 0)
		die("rename");
	if (sys3(10 /* unlink */, (long)p2, 0, 0) < 0)
		die("unlink");
	return 0;
}

static int ptrace_work(long pid)
{
	/* ptrace(PTRACE_SEIZE = 0x4206): does not stop the tracee */
	if (sys5(26 /* ptrace */, 0x4206, pid, 0, 0, 0) == 0)
		sys5(26 /* ptrace */, 17 /* PTRACE_DETACH */, pid, 0, 0, 0);
	sys5(347 /* process_vm_readv */, pid, 0, 0, 0, 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "protected") == 0)
		return protected_work(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]));
	if (argc == 3 && strcmp(argv[1], "ptrace") == 0)
		return ptrace_work(atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "outside") == 0)
		return outside_work(argv[2]);
	fprintf(stderr, "usage: compat32 protected DIR ROSTER OUTSIDE PORT CLOSED | ptrace PID | outside DIR\n");
	return 2;
}
