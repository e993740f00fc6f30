/* hupwait: is a thread that waits for a hang-up on a unix stream socket woken when the peer
 * closes while it waits?
 *
 * moby's attach endpoint (api/server/router/container, notifyClosed) waits for the docker
 * CLI to hang up with epoll_wait on an epoll set holding the connection with EPOLLHUP alone and
 * no timeout. This program does the same on an accepted unix stream connection whose client
 * (a forked child) exits 200 ms after connecting, and, for comparison, waits for EPOLLIN and
 * for EPOLLRDHUP, each with epoll and with poll, with a 2 s timeout. One line per case:
 *
 *   hup <wait> <events asked, hex> <woken: 1|0> <events seen, hex> <ms>
 *
 * Static (gcc -static): it runs the same on the host and in gVisor, where gvnet is not in it.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Waits on fd for `events` with epoll (use_poll 0) or poll (1); prints one line. */
static int wait_once(int fd, unsigned events, int use_poll)
{
    double t0 = now_ms();
    unsigned seen = 0;
    int n;
    if (use_poll) {
        struct pollfd p = {.fd = fd, .events = (short)events};
        n = poll(&p, 1, 2000);
        seen = (unsigned short)p.revents;
    } else {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = events, .data.fd = fd}, out = {0};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            perror("epoll");
            return 1;
        }
        n = epoll_wait(ep, &out, 1, 2000);
        seen = n > 0 ? out.events : 0;
        close(ep);
    }
    printf("hup %s 0x%x %d 0x%x %.0f\n", use_poll ? "poll" : "epoll", events, n > 0, seen,
           now_ms() - t0);
    return 0;
}

int main(void)
{
    const unsigned asked[] = {EPOLLHUP, EPOLLRDHUP, EPOLLIN};
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "/tmp/hupwait.%d", (int)getpid());
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(a.sun_path);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 8) != 0) {
        perror("listen");
        return 1;
    }
    int rc = 0;
    for (int use_poll = 0; use_poll < 2; use_poll++) {
        for (unsigned i = 0; i < sizeof asked / sizeof asked[0]; i++) {
            pid_t c = fork();
            if (c == 0) {
                int s = socket(AF_UNIX, SOCK_STREAM, 0);
                if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0)
                    _exit(1);
                usleep(200000);
                _exit(0); /* the client hangs up by exiting, as the docker CLI does */
            }
            int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (c < 0 || s < 0) {
                perror("fork/accept");
                return 1;
            }
            rc |= wait_once(s, asked[i], use_poll);
            waitpid(c, NULL, 0);
            close(s);
        }
    }
    unlink(a.sun_path);
    return rc;
}
