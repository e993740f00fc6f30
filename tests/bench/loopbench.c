/*
 * loopbench.c: a syscall-heavy loop, run in a container to measure what an inherited seccomp
 * filter costs. dockerd under libgvnet.so installs a filter that every descendant inherits
 * (containers included); this program never traps (its syscall instructions are not Go's site),
 * but every one of its system calls is still evaluated by the filter.
 *
 * Usage: loopbench ITERATIONS
 *        loopbench ITERATIONS pairs N FILTER
 * The first form runs each loop once and prints one line per kind, `<kind> <ns per iteration>`:
 *   getppid   one getppid(2)
 *   read      one read(2) of 64 bytes from /dev/zero
 *   udp       one sendto(2) of 32 bytes on loopback UDP and the matching recv(2)
 *   open      one openat(2) of /dev/null with O_RDONLY|O_CLOEXEC (Go's os.Open) and its close(2)
 * The second form runs N pairs of child processes, one after the other: side `a` as is, side `b`
 * after installing FILTER (a file of struct sock_filter, as gvnet builds it) as one more seccomp
 * filter (with PR_SET_NO_NEW_PRIVS, needed without CAP_SYS_ADMIN); the order within a pair
 * alternates (a b, b a, ...). Each child prints the lines above prefixed with its side: `a getppid
 * 6109.2`. The two sides then differ by that filter alone, in the same container, sandbox and
 * filter stack below it.
 * Exit status 0, or 1 with a message on the first failing call.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o loopbench loopbench.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Runs every loop once, `n` iterations (a tenth of them for the costlier kinds). */
static void loops(const char *side, long n)
{
	char buf[64];
	double t;

	t = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* raw: glibc does not cache it, but be explicit */
	printf("%sgetppid %.1f\n", side, (now_ns() - t) / (double)n);

	int z = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (z < 0)
		die("open /dev/zero");
	t = now_ns();
	for (long i = 0; i < n; i++)
		if (read(z, buf, sizeof buf) != (ssize_t)sizeof buf)
			die("read /dev/zero");
	printf("%sread %.1f\n", side, (now_ns() - t) / (double)n);
	close(z);

	int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx < 0 || tx < 0)
		die("socket");
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rx, (struct sockaddr *)&a, sizeof a) < 0)
		die("bind 127.0.0.1");
	socklen_t al = sizeof a;
	if (getsockname(rx, (struct sockaddr *)&a, &al) < 0)
		die("getsockname");
	memset(buf, 'x', sizeof buf);
	long m = n / 10 > 0 ? n / 10 : 1; /* a round trip costs far more than getppid */
	t = now_ns();
	for (long i = 0; i < m; i++) {
		if (sendto(tx, buf, 32, 0, (struct sockaddr *)&a, sizeof a) != 32)
			die("sendto");
		if (recv(rx, buf, sizeof buf, 0) != 32)
			die("recv");
	}
	printf("%sudp %.1f\n", side, (now_ns() - t) / (double)m);
	close(rx);
	close(tx);

	t = now_ns();
	for (long i = 0; i < m; i++) {
		int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("openat /dev/null");
		close(fd);
	}
	printf("%sopen %.1f\n", side, (now_ns() - t) / (double)m);
	fflush(stdout);
}

/* Installs the filter in file `path` on this process (one more layer of its stack). */
static void install(const char *path)
{
	static struct sock_filter insns[BPF_MAXINSNS];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	ssize_t len = read(fd, insns, sizeof insns);
	if (len <= 0 || len % (ssize_t)sizeof insns[0] != 0) {
		fprintf(stderr, "%s: not a filter (%zd bytes)\n", path, len);
		exit(1);
	}
	close(fd);
	struct sock_fprog prog = {
		.len = (unsigned short)(len / (ssize_t)sizeof insns[0]),
		.filter = insns,
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		die("seccomp(SECCOMP_SET_MODE_FILTER)");
}

/* One child: side `a` as is, side `b` under the filter in `filter`. */
static void child(int b, long n, const char *filter)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (b)
			install(filter);
		loops(b ? "b " : "a ", n);
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "side %c child failed (status 0x%x)\n", b ? 'b' : 'a', st);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	if (n <= 0 || (argc != 2 && (argc != 5 || strcmp(argv[2], "pairs") != 0))) {
		fprintf(stderr, "usage: loopbench ITERATIONS [pairs N FILTER]\n");
		return 2;
	}
	if (argc == 2) {
		loops("", n);
		return 0;
	}
	long pairs = atol(argv[3]);
	for (long i = 0; i < pairs; i++) {
		int first = (int)(i % 2);
		child(first, n, argv[4]);
		child(!first, n, argv[4]);
	}
	return 0;
}
