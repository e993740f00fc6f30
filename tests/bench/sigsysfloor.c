/* sigsysfloor: what one seccomp-trapped system call costs with a handler that does nothing: the
 * floor under any SECCOMP_RET_TRAP design, on this machine's kernel.
 *
 *   sigsysfloor ITERS BATCHES plain|trap
 *
 * Times ITERS raw getsockname calls on a UDP socket, BATCHES times, and prints per batch
 *     getsockname <ns per call> ok
 * (trapbench-go's format). With `trap` it first installs a SIGSYS handler that only sets the
 * result register to 0 and a filter that traps getsockname and allows everything else
 * (PR_SET_NO_NEW_PRIVS, as an unprivileged process must; the process exits right after). */
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void on_sigsys(int sig, siginfo_t *info, void *ctx) {
    (void)sig;
    (void)info;
    ((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = 0;
}

static int trap_getsockname(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) != 0) return -1;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getsockname, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: sigsysfloor ITERS BATCHES plain|trap\n");
        return 2;
    }
    long iters = atol(argv[1]), batches = atol(argv[2]);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || (strcmp(argv[3], "trap") == 0 && trap_getsockname() != 0)) {
        perror("sigsysfloor");
        return 2;
    }
    for (long b = 0; b < batches; b++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) syscall(SYS_getsockname, s, &a, &len);
        printf("getsockname %.1f ok\n", (now_ns() - t0) / iters);
    }
    return 0;
}
