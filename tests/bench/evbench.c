/* evbench: how long a link change takes to reach a RTNLGRP_LINK subscriber, and what an idle
 * subscription costs in CPU.
 *
 *   evbench N IDLE_SECONDS [kick|raw] [GAP_MS]
 *
 * Run it as root in a network namespace of its own (`unshare -n evbench 200 10`). It creates a
 * veth pair (gvb0/gvb1), subscribes a socket to RTNLGRP_LINK, then N times sets gvb0's MTU
 * (alternating 1400/1500) with an acknowledged RTM_NEWLINK from a second socket and waits for the
 * RTM_NEWLINK event carrying the new MTU, GAP_MS (default 0) after the previous one arrived.
 * With `kick` (the default) the request goes through libc's sendto, so under LD_PRELOAD gvnet
 * sees it as the change request of a gvnet process; with `raw` it is a raw syscall(SYS_sendto),
 * which gvnet never sees: a change made by a process without gvnet. It prints one line per
 * change:
 *     latency_us <microseconds from sending the request to receiving the event>
 * and then, with the subscription open and nothing changing, the process's CPU time (all threads:
 * gvnet's monitor thread included) over IDLE_SECONDS:
 *     idle_cpu_pct <percent of one core>
 * Dynamically linked, so LD_PRELOAD=libgvnet.so can be put in front of it. Exit status 0 only if
 * every event arrived (within 2 s each). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Sends the requests through libc (0) or as raw syscalls that no preload sees (1). */
static int raw_send;

/* Sets the MTU of ifindex `idx` and waits for the kernel's acknowledgement. */
static int set_mtu(int s, int idx, unsigned mtu, unsigned seq) {
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
        struct rtattr a;
        unsigned mtu;
    } req;
    memset(&req, 0, sizeof req);
    req.h.nlmsg_len = sizeof req;
    req.h.nlmsg_type = RTM_NEWLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    req.h.nlmsg_seq = seq;
    req.i.ifi_family = AF_UNSPEC;
    req.i.ifi_index = idx;
    req.a.rta_type = IFLA_MTU;
    req.a.rta_len = RTA_LENGTH(sizeof(unsigned));
    req.mtu = mtu;
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    long sent = raw_send ? syscall(SYS_sendto, s, &req, sizeof req, 0, &k, sizeof k)
                         : sendto(s, &req, sizeof req, 0, (struct sockaddr *)&k, sizeof k);
    if (sent < 0) return -errno;
    char buf[4096];
    for (;;) {
        int n = recv(s, buf, sizeof buf, 0);
        if (n < 0) return -errno;
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
            if (h->nlmsg_seq == seq && h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
}

/* Waits for an RTM_NEWLINK of `idx` whose MTU differs from *last (gVisor reports a veth's MTU
 * minus 14, so the value asked for is not what comes back); 0 when it came. */
static int wait_event(int sub, int idx, unsigned *last) {
    char buf[16384];
    double deadline = now_us() + 2e6;
    for (;;) {
        int left = (int)((deadline - now_us()) / 1000);
        if (left <= 0) return -1;
        struct pollfd p = {sub, POLLIN, 0};
        if (poll(&p, 1, left) <= 0) return -1;
        int n = recv(sub, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == ENOBUFS) continue;
            return -1;
        }
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type != RTM_NEWLINK) continue;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            if (ifi->ifi_index != idx) continue;
            int len = IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_MTU && *(unsigned *)RTA_DATA(a) != *last) {
                    *last = *(unsigned *)RTA_DATA(a);
                    return 0;
                }
        }
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100;
    int idle = argc > 2 ? atoi(argv[2]) : 10;
    raw_send = argc > 3 && strcmp(argv[3], "raw") == 0;
    int gap_ms = argc > 4 ? atoi(argv[4]) : 0;
    if (system("ip link add gvb0 type veth peer name gvb1 && ip link set gvb0 up") != 0) {
        fprintf(stderr, "evbench: cannot create the veth pair (root in a namespace of its own?)\n");
        return 2;
    }
    int idx = if_nametoindex("gvb0");
    int req = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    int sub = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
    if (req < 0 || sub < 0 || bind(sub, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("evbench: subscribe");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Let the link's own setup events pass, then start from its current MTU. */
    char sink[16384];
    struct pollfd p = {sub, POLLIN, 0};
    while (poll(&p, 1, 100) > 0) recv(sub, sink, sizeof sink, MSG_DONTWAIT);
    unsigned last = 0;
    int missed = 0;
    for (int i = 0; i < n; i++) {
        unsigned mtu = i % 2 ? 1500 : 1400;
        if (gap_ms > 0) {
            struct timespec gap = {gap_ms / 1000, (gap_ms % 1000) * 1000000L};
            nanosleep(&gap, NULL);
        }
        double t0 = now_us();
        int e = set_mtu(req, idx, mtu, i + 1);
        if (e != 0) {
            fprintf(stderr, "evbench: set mtu: %s\n", strerror(-e));
            return 2;
        }
        if (wait_event(sub, idx, &last) != 0) {
            missed++;
            printf("missed %d\n", i);
            continue;
        }
        printf("latency_us %.1f\n", now_us() - t0);
        fflush(stdout);
    }
    double c0 = cpu_us(), w0 = now_us();
    while (now_us() - w0 < idle * 1e6)
        if (poll(&p, 1, 200) > 0) recv(sub, sink, sizeof sink, MSG_DONTWAIT);
    printf("idle_cpu_pct %.3f\n", 100.0 * (cpu_us() - c0) / (now_us() - w0));
    printf("missed_total %d\n", missed);
    system("ip link del gvb0");
    return missed ? 1 : 0;
}
