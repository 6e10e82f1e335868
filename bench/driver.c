// bench/driver.c: the workload loops of the overhead benchmark (bench/run.sh).
//
// Each mode runs a warm-up, then times ITERS iterations of one loop with
// CLOCK_MONOTONIC in BATCHES equal batches and prints, in nanoseconds, the
// median over batches of the mean cost of one iteration, then the same for
// the CPU time the process itself used (CLOCK_PROCESS_CPUTIME_ID, plus its
// waited-for children's: the exec loop's programs): two
// numbers on one line of stdout. Wall time includes any time the loop
// waited for a CPU on a busy machine; CPU time does not, and still counts
// what a sensor does inside the loop's system calls. The median of batches keeps a burst of unrelated activity on a
// shared machine from moving the figure, while costs that recur within a
// batch (wakeups, flushes) stay in it. Errors name the failing call and exit
// 1, so a broken run never yields a plausible-looking figure.
//
//   driver open    PATH ITERS WARMUP   open(O_WRONLY|O_CREAT) + write 4 KiB + close
//   driver exec    PROG ITERS WARMUP   fork + execve(PROG) + waitpid, PROG must exit 0
//   driver connect PORT ITERS WARMUP   TCP connect to 127.0.0.1:PORT + close (RST)
//   driver write1m PATH ITERS WARMUP SOURCE
//                                      read SOURCE once (a protected file: under bansho
//                                      this taints the process), then per iteration write
//                                      1 MiB to PATH from offset 0, sequentially, in 64 KiB
//                                      writes (16 per iteration)
//   driver listen                      accept-and-close server on 127.0.0.1, ephemeral
//                                      port; prints the port once listening, runs until killed
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITE_SIZE 4096
#define BATCHES 10

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "driver: %s%s%s: %s\n", what, detail ? " " : "", detail ? detail : "",
		strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: driver open PATH ITERS WARMUP | exec PROG ITERS WARMUP |\n"
			"              connect PORT ITERS WARMUP | write1m PATH ITERS WARMUP SOURCE | listen\n");
	exit(2);
}

static long parse_count(const char *s, const char *name, long min)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min) {
		fprintf(stderr, "driver: %s must be an integer >= %ld, got \"%s\"\n", name, min, s);
		exit(2);
	}
	return v;
}

static unsigned long long clock_ns(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts))
		die("clock_gettime", NULL);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static unsigned long long now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
// The loop's CPU time: this process's, plus that of the children it has
// waited for (the exec loop's work is mostly in its children).
static unsigned long long cpu_ns(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_CHILDREN, &ru))
		die("getrusage", NULL);
	unsigned long long children = (unsigned long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
				      (unsigned long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID) + children;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, BATCHES, sizeof v[0], cmp_double);
	return (v[BATCHES / 2 - 1] + v[BATCHES / 2]) / 2;
}


// ---- open + write + close -------------------------------------------------

static char payload[WRITE_SIZE];

static void open_once(const char *path)
{
	// No O_TRUNC: every iteration rewrites the same 4 KiB at offset 0, so the
	// file system does the same work each time (no block freeing/allocation).
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open", path);
	ssize_t n = write(fd, payload, sizeof payload);
	if (n != (ssize_t)sizeof payload) {
		if (n >= 0)
			errno = EIO;
		die("write", path);
	}
	if (close(fd))
		die("close", path);
}

// ---- 1 MiB sequential write by a process that read a protected file --------

#define CHUNK (64 * 1024)
#define CHUNKS 16
static char chunk[CHUNK];
static int write_fd = -1;

// taint: read all of src, as a process copying protected data out would.
static void taint(const char *src)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", src);
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		;
	if (n < 0)
		die("read", src);
	close(fd);
}

static void write1m_once(const char *path)
{
	if (lseek(write_fd, 0, SEEK_SET) != 0)
		die("lseek", path);
	for (int i = 0; i < CHUNKS; i++) {
		ssize_t n = write(write_fd, chunk, sizeof chunk);
		if (n != (ssize_t)sizeof chunk) {
			if (n >= 0)
				errno = EIO;
			die("write", path);
		}
	}
}

// ---- fork + exec ----------------------------------------------------------

static void exec_once(const char *prog)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		char *const argv[] = {(char *)prog, NULL};
		char *const envp[] = {NULL};
		execve(prog, argv, envp);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", prog);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "driver: %s did not exit 0 (wait status %#x); is it executable?\n",
			prog, status);
		exit(1);
	}
}

// ---- connect + close ------------------------------------------------------

static struct sockaddr_in target;

static void connect_once(const char *unused)
{
	(void)unused;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", NULL);
	// Close with RST instead of FIN: no TIME_WAIT socket is left behind, so a
	// long loop neither exhausts ephemeral ports nor slows down over time.
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg))
		die("setsockopt SO_LINGER", NULL);
	if (connect(fd, (struct sockaddr *)&target, sizeof target))
		die("connect", "127.0.0.1");
	if (close(fd))
		die("close", "socket");
}

static _Noreturn void listen_forever(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", NULL);
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one))
		die("setsockopt SO_REUSEADDR", NULL);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr))
		die("bind", "127.0.0.1:0");
	// A deep backlog so that a briefly descheduled listener never makes the
	// client's connect wait for a SYN retransmit (1 s), which would swamp
	// the figure being measured.
	if (listen(fd, 4096))
		die("listen", NULL);
	socklen_t len = sizeof addr;
	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		die("getsockname", NULL);
	printf("%u\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			// The client resets its sockets; a connection may be gone
			// before it is accepted. Anything else is a real failure.
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			die("accept", NULL);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *mode = argv[1];
	if (strcmp(mode, "listen") == 0) {
		if (argc != 2)
			usage();
		listen_forever();
	}
	if (argc != 5 && !(argc == 6 && strcmp(mode, "write1m") == 0))
		usage();
	const char *arg = argv[2];
	long iters = parse_count(argv[3], "ITERS", 1);
	long warmup = parse_count(argv[4], "WARMUP", 0);

	void (*once)(const char *);
	// Plain text without digit runs: the common case for a content scanner.
	static const char line[] = "bansho overhead benchmark payload line\n";
	if (strcmp(mode, "open") == 0) {
		for (size_t i = 0; i < sizeof payload; i++)
			payload[i] = line[i % (sizeof line - 1)];
		once = open_once;
	} else if (strcmp(mode, "write1m") == 0) {
		if (argc != 6)
			usage();
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = line[i % (sizeof line - 1)];
		taint(argv[5]);
		write_fd = open(arg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (write_fd < 0)
			die("open", arg);
		once = write1m_once;
	} else if (strcmp(mode, "exec") == 0) {
		once = exec_once;
	} else if (strcmp(mode, "connect") == 0) {
		long port = parse_count(arg, "PORT", 1);
		if (port > 65535) {
			fprintf(stderr, "driver: PORT must be <= 65535, got %ld\n", port);
			return 2;
		}
		target.sin_family = AF_INET;
		target.sin_port = htons((unsigned short)port);
		target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		once = connect_once;
	} else {
		usage();
	}

	if (iters < BATCHES) {
		fprintf(stderr, "driver: ITERS must be >= %d (one per batch), got %ld\n", BATCHES, iters);
		return 2;
	}
	for (long i = 0; i < warmup; i++)
		once(arg);
	double per_iter[BATCHES], cpu_per_iter[BATCHES];
	for (int b = 0; b < BATCHES; b++) {
		// Spread the remainder so that all ITERS iterations run.
		long n = iters / BATCHES + (b < iters % BATCHES);
		unsigned long long start = now_ns(), cpu_start = cpu_ns();
		for (long i = 0; i < n; i++)
			once(arg);
		per_iter[b] = (double)(now_ns() - start) / (double)n;
		cpu_per_iter[b] = (double)(cpu_ns() - cpu_start) / (double)n;
	}
	printf("%.1f %.1f\n", median(per_iter), median(cpu_per_iter));
	return 0;
}
