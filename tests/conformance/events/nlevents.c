/* nlevents: conformance test of rtnetlink multicast event delivery (issue 3).
 *
 * Usage: nlevents bind|membership [-v] [-k]
 *   bind:       subscribe with bind(nl_groups)
 *   membership: subscribe with setsockopt(NETLINK_ADD_MEMBERSHIP)
 *   -v:         print every message received
 *   -k:         keep going after 3 expected events in a row did not arrive (default: stop)
 *
 * Run it in a fresh network namespace (`unshare -n nlevents bind`): it makes its own changes
 * there with `ip` (fork/exec) and expects the events Linux sends for them. Linux is the
 * reference: the same program must pass on the host kernel without any preload, and in gVisor
 * under libgvnet.so. One line per check:
 *   ok NAME
 *   FAIL NAME: why
 *   unsupported-here NAME: why    (the kernel refused the change with EOPNOTSUPP, or accepted it
 *                                  and the object as dumped did not change, so Linux semantics
 *                                  demand no event either)
 * then `# end: N ok, N failed, N unsupported`. Exit status 1 when any check failed.
 * Dynamically linked on purpose: it must be LD_PRELOAD-able.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define EV_TIMEOUT_MS 3000
#define BUFSZ 65536

static int n_ok, n_fail, n_unsup, timeouts_in_a_row;
static int verbose, keep_going;
static int use_bind = 1;

static void ok(const char *name) {
    printf("ok %s\n", name);
    fflush(stdout);
}
static void fail(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    n_fail++;
}
static void unsupported(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("unsupported-here %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    n_unsup++;
}
#define OK(name) (ok(name), n_ok++)

static void finish(void) {
    printf("# end: %d ok, %d failed, %d unsupported\n", n_ok, n_fail, n_unsup);
    fflush(stdout);
    exit(n_fail ? 1 : 0);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- running ip */

static char ip_out[4096];

/* Runs `ip ARGS...` (in the network namespace open at nsfd, unless -1), with `input` on stdin
 * (NULL: /dev/null). Returns the exit status; the combined output is left in ip_out. */
static int run_ip_in(int nsfd, const char *input, char *const argv[]) {
    int out[2], in[2];
    if (pipe(out) || pipe(in)) {
        snprintf(ip_out, sizeof ip_out, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(ip_out, sizeof ip_out, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) {
            dprintf(out[1], "setns: %s", strerror(errno));
            _exit(126);
        }
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[1]);
        close(out[0]);
        execvp("ip", argv);
        dprintf(2, "exec ip: %s", strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    if (input) {
        size_t len = strlen(input), done = 0;
        while (done < len) {
            ssize_t n = write(in[1], input + done, len - done);
            if (n <= 0)
                break;
            done += n;
        }
    }
    close(in[1]);
    size_t got = 0;
    ssize_t n;
    while ((n = read(out[0], ip_out + got, sizeof ip_out - 1 - got)) > 0)
        got += n;
    ip_out[got] = 0;
    while (got && (ip_out[got - 1] == '\n'))
        ip_out[--got] = 0;
    close(out[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ip with printf-style words separated by spaces. */
static int ipf(int nsfd, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *argv[40];
    int argc = 0;
    argv[argc++] = "ip";
    for (char *tok = strtok(line, " "); tok && argc < 39; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return run_ip_in(nsfd, NULL, argv);
}
#define IP(...) ipf(-1, __VA_ARGS__)

/* The kernel's answer to a change request: 0 done, 1 refused as unsupported (reported), -1
 * failed (reported). */
static int change(const char *name, int rc, const char *what) {
    if (rc == 0)
        return 0;
    if (strstr(ip_out, "not supported")) {
        unsupported(name, "`ip %s` refused: %s", what, ip_out);
        return 1;
    }
    fail(name, "`ip %s` failed (exit %d): %s", what, rc, ip_out);
    return -1;
}

/* ---------------------------------------------------------------- netlink objects */

struct link {
    int index, family;
    unsigned flags;
    char name[IFNAMSIZ];
    unsigned mtu;
    unsigned char addr[32];
    int addrlen;
    int master; /* 0: no IFLA_MASTER */
};

struct addr {
    int family, prefixlen, index;
    unsigned char local[16];
};

struct route {
    int family, dst_len, table, oif, has_gw;
    unsigned char dst[16], gw[16];
};

struct neigh {
    int family, index;
    unsigned char dst[16];
};

static int parse_link(struct nlmsghdr *h, struct link *l) {
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
        return -1;
    memset(l, 0, sizeof *l);
    l->index = ifi->ifi_index;
    l->family = ifi->ifi_family;
    l->flags = ifi->ifi_flags;
    int len = IFLA_PAYLOAD(h);
    for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        switch (a->rta_type) {
        case IFLA_IFNAME:
            snprintf(l->name, sizeof l->name, "%s", (char *)RTA_DATA(a));
            break;
        case IFLA_MTU:
            memcpy(&l->mtu, RTA_DATA(a), 4);
            break;
        case IFLA_ADDRESS:
            l->addrlen = RTA_PAYLOAD(a) > 32 ? 32 : RTA_PAYLOAD(a);
            memcpy(l->addr, RTA_DATA(a), l->addrlen);
            break;
        case IFLA_MASTER:
            memcpy(&l->master, RTA_DATA(a), 4);
            break;
        }
    }
    return 0;
}

static int parse_addr(struct nlmsghdr *h, struct addr *x) {
    struct ifaddrmsg *ifa = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa))
        return -1;
    memset(x, 0, sizeof *x);
    x->family = ifa->ifa_family;
    x->prefixlen = ifa->ifa_prefixlen;
    x->index = ifa->ifa_index;
    int have_local = 0;
    int len = IFA_PAYLOAD(h);
    for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        int n = RTA_PAYLOAD(a) > 16 ? 16 : RTA_PAYLOAD(a);
        if (a->rta_type == IFA_LOCAL) {
            memcpy(x->local, RTA_DATA(a), n);
            have_local = 1;
        } else if (a->rta_type == IFA_ADDRESS && !have_local) {
            memcpy(x->local, RTA_DATA(a), n);
        }
    }
    return 0;
}

static int parse_route(struct nlmsghdr *h, struct route *r) {
    struct rtmsg *rtm = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *rtm))
        return -1;
    memset(r, 0, sizeof *r);
    r->family = rtm->rtm_family;
    r->dst_len = rtm->rtm_dst_len;
    r->table = rtm->rtm_table;
    int len = RTM_PAYLOAD(h);
    for (struct rtattr *a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        int n = RTA_PAYLOAD(a) > 16 ? 16 : RTA_PAYLOAD(a);
        switch (a->rta_type) {
        case RTA_DST:
            memcpy(r->dst, RTA_DATA(a), n);
            break;
        case RTA_GATEWAY:
            memcpy(r->gw, RTA_DATA(a), n);
            r->has_gw = 1;
            break;
        case RTA_OIF:
            memcpy(&r->oif, RTA_DATA(a), 4);
            break;
        case RTA_TABLE:
            memcpy(&r->table, RTA_DATA(a), 4);
            break;
        }
    }
    return 0;
}

static int parse_neigh(struct nlmsghdr *h, struct neigh *n) {
    struct ndmsg *nd = NLMSG_DATA(h);
    if (h->nlmsg_len < NLMSG_LENGTH(sizeof *nd))
        return -1;
    memset(n, 0, sizeof *n);
    n->family = nd->ndm_family;
    n->index = nd->ndm_ifindex;
    int len = h->nlmsg_len - NLMSG_LENGTH(sizeof *nd);
    for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof *nd)); RTA_OK(a, len);
         a = RTA_NEXT(a, len))
        if (a->rta_type == NDA_DST)
            memcpy(n->dst, RTA_DATA(a), RTA_PAYLOAD(a) > 16 ? 16 : RTA_PAYLOAD(a));
    return 0;
}

static const char *fmt_ip(int family, const unsigned char *a) {
    static char buf[4][INET6_ADDRSTRLEN];
    static int i;
    i = (i + 1) % 4;
    inet_ntop(family, a, buf[i], sizeof buf[i]);
    return buf[i];
}

static const char *fmt_mac(const unsigned char *a, int n) {
    static char buf[2][100];
    static int i;
    i = (i + 1) % 2;
    buf[i][0] = 0;
    for (int k = 0; k < n && k < 32; k++)
        sprintf(buf[i] + strlen(buf[i]), k ? ":%02x" : "%02x", a[k]);
    return buf[i];
}

static const char *type_name(int t) {
    switch (t) {
    case RTM_NEWLINK: return "RTM_NEWLINK";
    case RTM_DELLINK: return "RTM_DELLINK";
    case RTM_NEWADDR: return "RTM_NEWADDR";
    case RTM_DELADDR: return "RTM_DELADDR";
    case RTM_NEWROUTE: return "RTM_NEWROUTE";
    case RTM_DELROUTE: return "RTM_DELROUTE";
    case RTM_NEWNEIGH: return "RTM_NEWNEIGH";
    case RTM_DELNEIGH: return "RTM_DELNEIGH";
    case NLMSG_ERROR: return "NLMSG_ERROR";
    case NLMSG_DONE: return "NLMSG_DONE";
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "type %d", t);
    return buf;
}

/* The rtnetlink group Linux sends a message of this type/family to; 0 when it is none of the
 * groups this program knows (which Linux would not send to these subscribers). */
static int group_of(struct nlmsghdr *h) {
    int family = ((unsigned char *)NLMSG_DATA(h))[0];
    switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        return RTNLGRP_LINK;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        return family == AF_INET ? RTNLGRP_IPV4_IFADDR : family == AF_INET6 ? RTNLGRP_IPV6_IFADDR : 0;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        return family == AF_INET ? RTNLGRP_IPV4_ROUTE : family == AF_INET6 ? RTNLGRP_IPV6_ROUTE : 0;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
        return RTNLGRP_NEIGH;
    }
    return 0;
}

static void describe(struct nlmsghdr *h, char *out, size_t n) {
    int t = h->nlmsg_type;
    int g = group_of(h);
    if (t == RTM_NEWLINK || t == RTM_DELLINK) {
        struct link l;
        parse_link(h, &l);
        snprintf(out, n, "%s family %d index %d name %s mtu %u flags 0x%x address %s master %d", type_name(t),
                 l.family, l.index, l.name, l.mtu, l.flags, fmt_mac(l.addr, l.addrlen), l.master);
    } else if (t == RTM_NEWADDR || t == RTM_DELADDR) {
        struct addr a;
        parse_addr(h, &a);
        snprintf(out, n, "%s %s/%d index %d", type_name(t), fmt_ip(a.family, a.local), a.prefixlen, a.index);
    } else if (t == RTM_NEWROUTE || t == RTM_DELROUTE) {
        struct route r;
        parse_route(h, &r);
        snprintf(out, n, "%s %s/%d table %d oif %d gw %s", type_name(t), fmt_ip(r.family, r.dst), r.dst_len,
                 r.table, r.oif, r.has_gw ? fmt_ip(r.family, r.gw) : "-");
    } else if (t == RTM_NEWNEIGH || t == RTM_DELNEIGH) {
        struct neigh x;
        parse_neigh(h, &x);
        snprintf(out, n, "%s %s index %d", type_name(t), fmt_ip(x.family, x.dst), x.index);
    } else {
        snprintf(out, n, "%s (group %d)", type_name(t), g);
    }
}

/* ---------------------------------------------------------------- sockets */

static int rq = -1; /* plain request socket, never subscribed */
static unsigned rq_seq = 1000;

static int nl_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        fail("socket", "socket(AF_NETLINK): %s", strerror(errno));
        finish();
    }
    return fd;
}

static unsigned mask_of(const int *groups) {
    unsigned m = 0;
    for (; *groups; groups++)
        m |= 1u << (*groups - 1);
    return m;
}

/* A socket subscribed to the 0-terminated `groups` the way this run subscribes. Returns -1
 * (reported as FAIL `name`) when the kernel refuses. */
static int subscribe(const char *name, const int *groups) {
    int fd = nl_socket();
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (use_bind)
        sa.nl_groups = mask_of(groups);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fail(name, "bind nl_groups=0x%x: %s", sa.nl_groups, strerror(errno));
        close(fd);
        return -1;
    }
    if (!use_bind) {
        for (const int *g = groups; *g; g++) {
            if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g, sizeof *g) != 0) {
                fail(name, "setsockopt NETLINK_ADD_MEMBERSHIP %d: %s", *g, strerror(errno));
                close(fd);
                return -1;
            }
        }
    }
    return fd;
}

static unsigned portid_of(int fd) {
    struct sockaddr_nl sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return sa.nl_pid;
}

static unsigned groups_of(int fd) {
    struct sockaddr_nl sa;
    socklen_t len = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0xdeadbeef;
    return sa.nl_groups;
}

static int send_req(int fd, int type, int flags, unsigned seq, const void *body, int blen) {
    char buf[1024];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    h->nlmsg_len = NLMSG_LENGTH(blen);
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | flags;
    h->nlmsg_seq = seq;
    memcpy(NLMSG_DATA(h), body, blen);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    return sendto(fd, buf, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) < 0 ? -errno : 0;
}

typedef void (*dump_cb)(struct nlmsghdr *h, void *arg);

/* Dumps `type` for `family` on the request socket; calls cb for each object. 0 or -errno. */
static int dump(int type, int family, dump_cb cb, void *arg) {
    struct rtgenmsg g = {.rtgen_family = family};
    char body[sizeof(struct ifinfomsg)];
    memset(body, 0, sizeof body);
    memcpy(body, &g, sizeof g);
    unsigned seq = ++rq_seq;
    int blen = type == RTM_GETLINK ? (int)sizeof(struct ifinfomsg)
               : type == RTM_GETROUTE ? (int)sizeof(struct rtmsg)
               : type == RTM_GETADDR ? (int)sizeof(struct ifaddrmsg)
                                      : (int)sizeof(struct ndmsg);
    char full[64];
    memset(full, 0, sizeof full);
    full[0] = family;
    int r = send_req(rq, type, NLM_F_DUMP, seq, full, blen);
    if (r)
        return r;
    static char buf[BUFSZ];
    for (;;) {
        struct pollfd p = {rq, POLLIN, 0};
        if (poll(&p, 1, EV_TIMEOUT_MS) <= 0)
            return -ETIMEDOUT;
        ssize_t n = recv(rq, buf, sizeof buf, 0);
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(h);
                return e->error;
            }
            cb(h, arg);
        }
    }
}

/* One link by index on the request socket: 0, or -errno (-ENODEV when it is gone). */
static int get_link(int index, struct link *l) {
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index};
    unsigned seq = ++rq_seq;
    int r = send_req(rq, RTM_GETLINK, 0, seq, &ifi, sizeof ifi);
    if (r)
        return r;
    static char buf[BUFSZ];
    for (;;) {
        struct pollfd p = {rq, POLLIN, 0};
        if (poll(&p, 1, EV_TIMEOUT_MS) <= 0)
            return -ETIMEDOUT;
        ssize_t n = recv(rq, buf, sizeof buf, 0);
        if (n < 0)
            return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (h->nlmsg_type == RTM_NEWLINK)
                return parse_link(h, l);
        }
    }
}

static int index_of(const char *name) {
    return (int)if_nametoindex(name);
}

/* ---------------------------------------------------------------- reading events */

/* One subscriber: a socket, what it asked for, and a datagram being taken apart. */
struct sub {
    const char *label;
    int fd;
    unsigned portid;
    unsigned groups; /* bit g-1 for each group asked for */
    int allow_enobufs;
    int enobufs;
    int events;      /* messages taken out so far */
    int bad_headers; /* reported already */
    char buf[BUFSZ];
    ssize_t len, off;
    struct sockaddr_nl from;
};

static int header_failures;

/* Checks what Linux guarantees for every event on a subscriber: not a reply, pid 0 or some
 * other socket's (a requester's), a group that was asked for, sent by the kernel. */
static void check_event_header(struct sub *s, struct nlmsghdr *h) {
    char d[300];
    describe(h, d, sizeof d);
    const char *why = NULL;
    char tmp[120];
    int g = group_of(h);
    if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
        why = "a reply on a socket that sent no request";
    else if (h->nlmsg_flags & NLM_F_MULTI)
        why = "NLM_F_MULTI set on an event";
    else if (h->nlmsg_pid != 0 && h->nlmsg_pid == s->portid) {
        snprintf(tmp, sizeof tmp, "nlmsg_pid is the subscriber's own portid %u", s->portid);
        why = tmp;
    } else if (g == 0 || !(s->groups & (1u << (g - 1)))) {
        snprintf(tmp, sizeof tmp, "group %d was not subscribed (groups 0x%x)", g, s->groups);
        why = tmp;
    } else if (s->from.nl_pid != 0) {
        snprintf(tmp, sizeof tmp, "source address nl_pid %u, not the kernel's 0", s->from.nl_pid);
        why = tmp;
    } else if (s->from.nl_groups != (1u << (g - 1))) {
        snprintf(tmp, sizeof tmp, "source address nl_groups 0x%x, Linux gives the group's mask 0x%x",
                 s->from.nl_groups, 1u << (g - 1));
        why = tmp;
    }
    if (why) {
        header_failures++;
        if (s->bad_headers++ < 5)
            fail("event-headers", "%s: %s: %s", s->label, why, d);
    }
}

/* Next message within `ms` milliseconds: 1 with *out set, 0 on timeout. ENOBUFS is counted
 * (and reported unless allowed). */
static int next_msg(struct sub *s, int ms, struct nlmsghdr **out) {
    long deadline = now_ms() + ms;
    for (;;) {
        if (s->off < s->len) {
            struct nlmsghdr *h = (struct nlmsghdr *)(s->buf + s->off);
            ssize_t rest = s->len - s->off;
            if (!NLMSG_OK(h, rest)) {
                fail("event-headers", "%s: a datagram ends in a partial message (%zd bytes left)", s->label, rest);
                s->off = s->len;
                continue;
            }
            s->off += NLMSG_ALIGN(h->nlmsg_len);
            s->events++;
            if (verbose) {
                char d[300];
                describe(h, d, sizeof d);
                printf("  [%s] %s pid %u seq %u flags 0x%x from pid %u groups 0x%x\n", s->label, d, h->nlmsg_pid,
                       h->nlmsg_seq, h->nlmsg_flags, s->from.nl_pid, s->from.nl_groups);
            }
            *out = h;
            return 1;
        }
        long left = deadline - now_ms();
        if (left < 0)
            left = 0;
        struct pollfd p = {s->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        socklen_t alen = sizeof s->from;
        memset(&s->from, 0, sizeof s->from);
        ssize_t n = recvfrom(s->fd, s->buf, sizeof s->buf, MSG_DONTWAIT, (struct sockaddr *)&s->from, &alen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                s->enobufs++;
                if (!s->allow_enobufs)
                    fail("event-headers", "%s: recv: ENOBUFS (events were lost)", s->label);
                continue;
            }
            fail("event-headers", "%s: recv: %s", s->label, strerror(errno));
            return 0;
        }
        s->len = n;
        s->off = 0;
    }
}

typedef int (*match_fn)(struct nlmsghdr *h, const void *want);

/* Waits up to EV_TIMEOUT_MS for a message that `match` accepts; others are ignored (Linux sends
 * more than the test asks about). Every message's header is checked. */
static int wait_for(struct sub *s, const char *name, const char *what, match_fn match, const void *want,
                    char *copy, size_t copylen) {
    long deadline = now_ms() + EV_TIMEOUT_MS;
    struct nlmsghdr *h;
    int seen = 0;
    char last[300] = "";
    for (;;) {
        long left = deadline - now_ms();
        if (left <= 0 || !next_msg(s, (int)left, &h))
            break;
        check_event_header(s, h);
        seen++;
        if (match(h, want)) {
            if (copy)
                memcpy(copy, h, h->nlmsg_len < copylen ? h->nlmsg_len : copylen);
            timeouts_in_a_row = 0;
            return 1;
        }
        describe(h, last, sizeof last);
    }
    fail(name, "%s did not arrive within %d ms (%d other messages seen%s%s)", what, EV_TIMEOUT_MS, seen,
         seen ? ", last: " : "", last);
    if (++timeouts_in_a_row >= 3 && !keep_going) {
        fail("abort", "3 expected events in a row did not arrive; stopping");
        finish();
    }
    return 0;
}

/* Reads whatever is queued, waiting `quiet_ms` after the last message. */
static void drain(struct sub *s, int quiet_ms) {
    struct nlmsghdr *h;
    while (next_msg(s, quiet_ms, &h))
        check_event_header(s, h);
}

/* ---------------------------------------------------------------- matchers */

struct want_link {
    int type, index;
    const char *name; /* NULL: any */
};

static int match_link(struct nlmsghdr *h, const void *w) {
    const struct want_link *x = w;
    if (h->nlmsg_type != x->type)
        return 0;
    struct link l;
    if (parse_link(h, &l) || l.family != AF_UNSPEC)
        return 0;
    if (x->index && l.index != x->index)
        return 0;
    if (x->name && strcmp(l.name, x->name) != 0)
        return 0;
    return 1;
}

/* Either of two wanted links (want points at an array of two). */
static int match_link_either(struct nlmsghdr *h, const void *w) {
    const struct want_link *x = w;
    return match_link(h, &x[0]) || match_link(h, &x[1]);
}

struct want_addr {
    int type, family, prefixlen;
    unsigned char local[16];
};

static int match_addr(struct nlmsghdr *h, const void *w) {
    const struct want_addr *x = w;
    struct addr a;
    if (h->nlmsg_type != x->type || parse_addr(h, &a))
        return 0;
    return a.family == x->family && a.prefixlen == x->prefixlen &&
           !memcmp(a.local, x->local, x->family == AF_INET ? 4 : 16);
}

struct want_route {
    int type, family, dst_len;
    unsigned char dst[16];
};

static int match_route(struct nlmsghdr *h, const void *w) {
    const struct want_route *x = w;
    struct route r;
    if (h->nlmsg_type != x->type || parse_route(h, &r))
        return 0;
    return r.family == x->family && r.dst_len == x->dst_len && r.table == RT_TABLE_MAIN &&
           !memcmp(r.dst, x->dst, x->family == AF_INET ? 4 : 16);
}

struct want_neigh {
    int type, family;
    unsigned char dst[16];
};

static int match_neigh(struct nlmsghdr *h, const void *w) {
    const struct want_neigh *x = w;
    struct neigh n;
    if (h->nlmsg_type != x->type || parse_neigh(h, &n))
        return 0;
    return n.family == x->family && !memcmp(n.dst, x->dst, x->family == AF_INET ? 4 : 16);
}

/* ---------------------------------------------------------------- link changes */

/* The event's link against the dump's: what `ip link` shows must agree. */
static int same_link(const char *name, const struct link *ev, const struct link *dump) {
    if (strcmp(ev->name, dump->name) || ev->mtu != dump->mtu || ev->addrlen != dump->addrlen ||
        memcmp(ev->addr, dump->addr, ev->addrlen) || ev->master != dump->master ||
        (ev->flags & IFF_UP) != (dump->flags & IFF_UP)) {
        fail(name,
             "event payload differs from the dump: event name %s mtu %u address %s master %d up %d; "
             "dump name %s mtu %u address %s master %d up %d",
             ev->name, ev->mtu, fmt_mac(ev->addr, ev->addrlen), ev->master, !!(ev->flags & IFF_UP), dump->name,
             dump->mtu, fmt_mac(dump->addr, dump->addrlen), dump->master, !!(dump->flags & IFF_UP));
        return 0;
    }
    return 1;
}

enum attr { A_NAME, A_MTU, A_ADDRESS, A_MASTER, A_UP };

static int attr_differs(enum attr a, const struct link *x, const struct link *y) {
    switch (a) {
    case A_NAME: return strcmp(x->name, y->name) != 0;
    case A_MTU: return x->mtu != y->mtu;
    case A_ADDRESS: return x->addrlen != y->addrlen || memcmp(x->addr, y->addr, x->addrlen);
    case A_MASTER: return x->master != y->master;
    case A_UP: return (x->flags & IFF_UP) != (y->flags & IFF_UP);
    }
    return 0;
}

static const char *attr_name(enum attr a) {
    static const char *n[] = {"IFLA_IFNAME", "IFLA_MTU", "IFLA_ADDRESS", "IFLA_MASTER", "IFF_UP"};
    return n[a];
}

/* `ip ARGS` changes attribute `a` of link `index`; expect an RTM_NEWLINK for it whose payload
 * matches the dump taken after the change. Returns 1 when checked ok. */
static int link_change(struct sub *s, const char *name, int index, enum attr a, const char *args) {
    struct link before, after, ev;
    if (get_link(index, &before)) {
        fail(name, "RTM_GETLINK %d before the change failed", index);
        return 0;
    }
    int r = change(name, IP("%s", args), args);
    if (r)
        return 0;
    int e = get_link(index, &after);
    if (e) {
        fail(name, "RTM_GETLINK %d after `ip %s`: %s", index, args, strerror(-e));
        return 0;
    }
    if (!attr_differs(a, &before, &after)) {
        unsupported(name, "`ip %s` was accepted but %s of the link as dumped did not change", args, attr_name(a));
        return 0;
    }
    struct want_link w = {RTM_NEWLINK, index, NULL};
    char msg[BUFSZ];
    /* Linux may send more than one RTM_NEWLINK for the link; the one showing the change counts. */
    long deadline = now_ms() + EV_TIMEOUT_MS;
    while (now_ms() < deadline) {
        if (!wait_for(s, name, "RTM_NEWLINK for the link", match_link, &w, msg, sizeof msg))
            return 0;
        parse_link((struct nlmsghdr *)msg, &ev);
        if (!attr_differs(a, &ev, &after))
            return same_link(name, &ev, &after) ? (OK(name), 1) : 0;
    }
    fail(name, "no RTM_NEWLINK for index %d showed the new %s", index, attr_name(a));
    return 0;
}

/* ---------------------------------------------------------------- address and route checks */

struct find_addr {
    const struct want_addr *w;
    int found, index;
};
static void cb_find_addr(struct nlmsghdr *h, void *arg) {
    struct find_addr *f = arg;
    struct want_addr w = *f->w;
    w.type = h->nlmsg_type;
    if (match_addr(h, &w)) {
        struct addr a;
        parse_addr(h, &a);
        f->found = 1;
        f->index = a.index;
    }
}

static void addr_change(struct sub *s, const char *name, int type, int family, const char *addr, int plen,
                        const char *args) {
    struct want_addr w = {type, family, plen, {0}};
    inet_pton(family, addr, w.local);
    if (change(name, IP("%s", args), args))
        return;
    struct find_addr f = {&w, 0, 0};
    int e = dump(RTM_GETADDR, family, cb_find_addr, &f);
    if (e) {
        fail(name, "RTM_GETADDR dump: %s", strerror(-e));
        return;
    }
    if (f.found != (type == RTM_NEWADDR)) {
        unsupported(name, "`ip %s` was accepted but the address dump %s %s/%d", args,
                    f.found ? "still lists" : "does not list", addr, plen);
        return;
    }
    char msg[BUFSZ];
    char what[100];
    snprintf(what, sizeof what, "%s %s/%d", type_name(type), addr, plen);
    if (!wait_for(s, name, what, match_addr, &w, msg, sizeof msg))
        return;
    struct addr got;
    parse_addr((struct nlmsghdr *)msg, &got);
    if (type == RTM_NEWADDR && got.index != f.index) {
        fail(name, "event index %d, dump index %d", got.index, f.index);
        return;
    }
    OK(name);
}

struct find_route {
    const struct want_route *w;
    int found;
    struct route r;
};
static void cb_find_route(struct nlmsghdr *h, void *arg) {
    struct find_route *f = arg;
    struct want_route w = *f->w;
    w.type = h->nlmsg_type;
    if (match_route(h, &w)) {
        f->found = 1;
        parse_route(h, &f->r);
    }
}

static void route_change(struct sub *s, const char *name, int type, int family, const char *dst, int plen,
                         const char *args) {
    struct want_route w = {type, family, plen, {0}};
    inet_pton(family, dst, w.dst);
    if (change(name, IP("%s", args), args))
        return;
    struct find_route f = {&w, 0, {0}};
    int e = dump(RTM_GETROUTE, family, cb_find_route, &f);
    if (e) {
        fail(name, "RTM_GETROUTE dump: %s", strerror(-e));
        return;
    }
    if (f.found != (type == RTM_NEWROUTE)) {
        unsupported(name, "`ip %s` was accepted but the route dump %s %s/%d", args,
                    f.found ? "still lists" : "does not list", dst, plen);
        return;
    }
    char msg[BUFSZ];
    char what[100];
    snprintf(what, sizeof what, "%s %s/%d table main", type_name(type), dst, plen);
    if (!wait_for(s, name, what, match_route, &w, msg, sizeof msg))
        return;
    struct route got;
    parse_route((struct nlmsghdr *)msg, &got);
    if (type == RTM_NEWROUTE &&
        (got.oif != f.r.oif || got.has_gw != f.r.has_gw || memcmp(got.gw, f.r.gw, 16))) {
        fail(name, "event oif %d gw %s, dump oif %d gw %s", got.oif, got.has_gw ? fmt_ip(family, got.gw) : "-",
             f.r.oif, f.r.has_gw ? fmt_ip(family, f.r.gw) : "-");
        return;
    }
    OK(name);
}

/* ---------------------------------------------------------------- the sequence */

static const int ALL_GROUPS[] = {RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE,
                                 RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, 0};
static const int V4ADDR_ONLY[] = {RTNLGRP_IPV4_IFADDR, 0};

static struct sub *new_sub(const char *label, const int *groups) {
    struct sub *s = calloc(1, sizeof *s);
    s->label = label;
    s->fd = subscribe(label, groups);
    if (s->fd < 0) {
        free(s);
        return NULL;
    }
    s->portid = portid_of(s->fd);
    s->groups = mask_of(groups);
    return s;
}

static void free_sub(struct sub *s) {
    if (s) {
        close(s->fd);
        free(s);
    }
}

/* A child process in its own network namespace, for links to move to. */
static pid_t ns_child;
static int start_ns_child(void) {
    int p[2];
    if (pipe(p))
        return -1;
    ns_child = fork();
    if (ns_child == 0) {
        close(p[0]);
        char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    if (read(p[0], &c, 1) != 1 || c != 'y') {
        close(p[0]);
        return -1;
    }
    close(p[0]);
    return 0;
}

static void netns_moves(struct sub *s) {
    if (start_ns_child()) {
        fail("netns-out", "could not start a process in a new network namespace (unshare)");
        return;
    }
    if (change("netns-out", IP("link add evm0 type veth peer name evm1"), "link add evm0 type veth peer name evm1"))
        return;
    int idx = index_of("evm1");
    struct want_link w = {RTM_NEWLINK, idx, "evm1"};
    if (!wait_for(s, "netns-out", "RTM_NEWLINK evm1", match_link, &w, NULL, 0))
        return;
    char args[100];
    snprintf(args, sizeof args, "link set evm1 netns %d", (int)ns_child);
    if (change("netns-out", IP("%s", args), args))
        return;
    struct link l;
    if (get_link(idx, &l) != -ENODEV) {
        unsupported("netns-out", "`ip %s` was accepted but index %d is still here", args, idx);
        return;
    }
    struct want_link d = {RTM_DELLINK, idx, "evm1"};
    if (wait_for(s, "netns-out", "RTM_DELLINK evm1 in the old namespace", match_link, &d, NULL, 0))
        OK("netns-out");

    /* And back: the link arrives here again, announced with RTM_NEWLINK. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", (int)ns_child);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
        fail("netns-in", "open %s: %s", path, strerror(errno));
        return;
    }
    snprintf(args, sizeof args, "link set evm1 netns %d", (int)getpid());
    int rc = ipf(nsfd, "%s", args);
    close(nsfd);
    if (change("netns-in", rc, args))
        return;
    int idx2 = index_of("evm1");
    if (!idx2) {
        unsupported("netns-in", "`ip %s` (run in the other namespace) was accepted but evm1 is not here", args);
        return;
    }
    struct want_link n = {RTM_NEWLINK, idx2, "evm1"};
    char msg[BUFSZ];
    if (!wait_for(s, "netns-in", "RTM_NEWLINK evm1 in the namespace it arrived in", match_link, &n, msg,
                  sizeof msg))
        return;
    struct link ev, now;
    parse_link((struct nlmsghdr *)msg, &ev);
    if (get_link(idx2, &now) == 0 && same_link("netns-in", &ev, &now))
        OK("netns-in");
}

static void main_sequence(struct sub *s) {
    /* link add: both ends of a veth pair, then a bridge */
    if (change("link-add", IP("link add ev0 type veth peer name ev1"), "link add ev0 type veth peer name ev1"))
        finish();
    int idx = index_of("ev0");
    int peer = index_of("ev1");
    {
        struct want_link w = {RTM_NEWLINK, idx, "ev0"};
        char msg[BUFSZ];
        struct link ev, now;
        if (wait_for(s, "link-add", "RTM_NEWLINK ev0", match_link, &w, msg, sizeof msg)) {
            parse_link((struct nlmsghdr *)msg, &ev);
            if (get_link(idx, &now) == 0 && same_link("link-add", &ev, &now))
                OK("link-add");
        }
    }
    int br = 0;
    if (!change("bridge-add", IP("link add evbr type bridge"), "link add evbr type bridge")) {
        br = index_of("evbr");
        struct want_link w = {RTM_NEWLINK, br, "evbr"};
        if (wait_for(s, "bridge-add", "RTM_NEWLINK evbr", match_link, &w, NULL, 0))
            OK("bridge-add");
    }

    /* while down (Linux refuses to rename a running link) */
    link_change(s, "link-rename", idx, A_NAME, "link set ev0 name evx");
    const char *dev = index_of("evx") == idx ? "evx" : "ev0";
    char args[200];
    snprintf(args, sizeof args, "link set %s mtu 1400", dev);
    link_change(s, "link-mtu", idx, A_MTU, args);

    /* no event for a request that changes nothing: the next RTM_NEWLINK for the link after a
     * same-value MTU request must already show the address change that follows it */
    drain(s, 300);
    struct link before;
    get_link(idx, &before);
    snprintf(args, sizeof args, "link set %s mtu 1400", dev);
    if (!change("noop-no-event", IP("%s", args), args)) {
        struct link mid;
        get_link(idx, &mid);
        if (attr_differs(A_MTU, &before, &mid)) {
            fail("noop-no-event", "repeating `ip %s` changed the MTU again (%u -> %u)", args, before.mtu, mid.mtu);
        } else {
            snprintf(args, sizeof args, "link set %s address 02:00:00:00:ee:01", dev);
            if (!change("link-address", IP("%s", args), args)) {
                struct link after;
                get_link(idx, &after);
                if (!attr_differs(A_ADDRESS, &before, &after)) {
                    unsupported("link-address", "`ip %s` was accepted but IFLA_ADDRESS did not change", args);
                    unsupported("noop-no-event", "needs the link-address change after it");
                } else {
                    struct want_link w = {RTM_NEWLINK, idx, NULL};
                    char msg[BUFSZ];
                    struct link ev;
                    if (wait_for(s, "link-address", "RTM_NEWLINK after the address change", match_link, &w, msg,
                                 sizeof msg)) {
                        parse_link((struct nlmsghdr *)msg, &ev);
                        if (attr_differs(A_ADDRESS, &ev, &after))
                            fail("noop-no-event",
                                 "the first RTM_NEWLINK after the no-op request still shows address %s "
                                 "(the no-op request produced an event)",
                                 fmt_mac(ev.addr, ev.addrlen));
                        else {
                            OK("noop-no-event");
                            if (same_link("link-address", &ev, &after))
                                OK("link-address");
                        }
                    }
                }
            }
        }
    }

    if (br) {
        snprintf(args, sizeof args, "link set %s master evbr", dev);
        if (link_change(s, "link-master", idx, A_MASTER, args)) {
            snprintf(args, sizeof args, "link set %s nomaster", dev);
            link_change(s, "link-nomaster", idx, A_MASTER, args);
        } else {
            unsupported("link-nomaster", "needs link-master");
        }
    }

    IP("link set ev1 up");
    snprintf(args, sizeof args, "link set %s up", dev);
    link_change(s, "link-up", idx, A_UP, args);
    snprintf(args, sizeof args, "link set %s down", dev);
    link_change(s, "link-down", idx, A_UP, args);
    IP("link set %s up", dev);

    /* addresses and routes */
    snprintf(args, sizeof args, "addr add 10.77.0.1/24 dev %s", dev);
    addr_change(s, "addr4-add", RTM_NEWADDR, AF_INET, "10.77.0.1", 24, args);
    snprintf(args, sizeof args, "-6 addr add fd77::1/64 dev %s nodad", dev);
    addr_change(s, "addr6-add", RTM_NEWADDR, AF_INET6, "fd77::1", 64, args);
    snprintf(args, sizeof args, "route add 10.78.0.0/24 via 10.77.0.2 dev %s", dev);
    route_change(s, "route4-add", RTM_NEWROUTE, AF_INET, "10.78.0.0", 24, args);
    snprintf(args, sizeof args, "-6 route add fd78::/64 via fd77::2 dev %s", dev);
    route_change(s, "route6-add", RTM_NEWROUTE, AF_INET6, "fd78::", 64, args);
    route_change(s, "route4-del", RTM_DELROUTE, AF_INET, "10.78.0.0", 24, "route del 10.78.0.0/24");
    route_change(s, "route6-del", RTM_DELROUTE, AF_INET6, "fd78::", 64, "-6 route del fd78::/64");
    snprintf(args, sizeof args, "addr del 10.77.0.1/24 dev %s", dev);
    addr_change(s, "addr4-del", RTM_DELADDR, AF_INET, "10.77.0.1", 24, args);
    snprintf(args, sizeof args, "-6 addr del fd77::1/64 dev %s", dev);
    addr_change(s, "addr6-del", RTM_DELADDR, AF_INET6, "fd77::1", 64, args);

    /* neighbours */
    snprintf(args, sizeof args, "addr add 10.77.0.1/24 dev %s", dev);
    IP("%s", args);
    snprintf(args, sizeof args, "neigh add 10.77.0.9 lladdr 02:00:00:00:ee:09 dev %s nud permanent", dev);
    int nr = change("neigh-add", IP("%s", args), args);
    if (nr == 0) {
        struct want_neigh w = {RTM_NEWNEIGH, AF_INET, {0}};
        inet_pton(AF_INET, "10.77.0.9", w.dst);
        if (wait_for(s, "neigh-add", "RTM_NEWNEIGH 10.77.0.9", match_neigh, &w, NULL, 0))
            OK("neigh-add");
        snprintf(args, sizeof args, "neigh del 10.77.0.9 dev %s", dev);
        if (!change("neigh-del", IP("%s", args), args)) {
            w.type = RTM_DELNEIGH;
            if (wait_for(s, "neigh-del", "RTM_DELNEIGH 10.77.0.9", match_neigh, &w, NULL, 0))
                OK("neigh-del");
        }
    } else if (nr == 1) {
        unsupported("neigh-del", "needs neigh-add");
    }

    netns_moves(s);

    /* delete */
    snprintf(args, sizeof args, "link del %s", dev);
    if (!change("link-del", IP("%s", args), args)) {
        /* both ends go; the order of the two messages is not part of the contract */
        struct want_link w[2] = {{RTM_DELLINK, idx, dev}, {RTM_DELLINK, peer, "ev1"}};
        char msg[BUFSZ];
        int got[2] = {0, 0};
        while (!(got[0] && got[1]) &&
               wait_for(s, "link-del", got[0] ? "RTM_DELLINK for the peer ev1" : "RTM_DELLINK for the veth",
                        match_link_either, w, msg, sizeof msg))
            for (int k = 0; k < 2; k++)
                got[k] |= match_link((struct nlmsghdr *)msg, &w[k]);
        if (got[0] && got[1])
            OK("link-del");
    }
    if (br && !change("bridge-del", IP("link del evbr"), "link del evbr")) {
        struct want_link w = {RTM_DELLINK, br, "evbr"};
        if (wait_for(s, "bridge-del", "RTM_DELLINK evbr", match_link, &w, NULL, 0))
            OK("bridge-del");
    }
}

/* The socket subscribed to IPv4 addresses alone got those and nothing else. */
static void check_only_groups(struct sub *og) {
    int before = og->events;
    int saw_v4_new = 0;
    struct nlmsghdr *h;
    int bad = 0;
    while (next_msg(og, 300, &h)) {
        int g = group_of(h);
        if (g != RTNLGRP_IPV4_IFADDR) {
            char d[300];
            describe(h, d, sizeof d);
            if (bad++ < 3)
                fail("only-groups", "subscribed to RTNLGRP_IPV4_IFADDR alone, received %s", d);
        }
        struct want_addr w = {RTM_NEWADDR, AF_INET, 24, {0}};
        inet_pton(AF_INET, "10.77.0.1", w.local);
        if (match_addr(h, &w))
            saw_v4_new = 1;
    }
    if (bad)
        return;
    if (!saw_v4_new)
        fail("only-groups", "no RTM_NEWADDR 10.77.0.1/24 among its %d messages", og->events - before);
    else
        OK("only-groups");
}

/* poll, select and epoll on a nonblocking subscriber. */
static void readiness(void) {
    struct sub *s = new_sub("readiness", V4ADDR_ONLY);
    if (!s)
        return;
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    char buf[BUFSZ];
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0)
        fail("readiness-empty", "poll says readable (revents 0x%x) before any event", p.revents);
    else if ((errno = 0, recv(s->fd, buf, sizeof buf, 0)) != -1 || errno != EAGAIN)
        fail("readiness-empty", "recv on an empty nonblocking subscriber did not fail with EAGAIN (errno %s)",
             errno ? strerror(errno) : "0: it returned data");
    else
        OK("readiness-empty");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ee = {.events = EPOLLIN, .data.fd = s->fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ee);

    if (change("readiness-poll", IP("addr add 10.79.0.1/32 dev lo"), "addr add 10.79.0.1/32 dev lo"))
        goto out;
    p.revents = 0;
    int r = poll(&p, 1, EV_TIMEOUT_MS);
    if (r == 1 && (p.revents & POLLIN))
        OK("readiness-poll");
    else
        fail("readiness-poll", "poll returned %d revents 0x%x within %d ms after an address was added", r, p.revents,
             EV_TIMEOUT_MS);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(s->fd, &rs);
    struct timeval tv = {0, 0};
    if (r == 1) {
        if (select(s->fd + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(s->fd, &rs))
            OK("readiness-select");
        else
            fail("readiness-select", "select does not report the subscriber readable while poll does");
        struct epoll_event out;
        if (epoll_wait(ep, &out, 1, 0) == 1 && (out.events & EPOLLIN))
            OK("readiness-epoll");
        else
            fail("readiness-epoll", "epoll_wait does not report EPOLLIN while poll does");
    }
    /* epoll wakes a waiter for an event that arrives later */
    while (recv(s->fd, buf, sizeof buf, 0) > 0)
        ;
    if (change("readiness-epoll-wait", IP("addr add 10.79.0.2/32 dev lo"), "addr add 10.79.0.2/32 dev lo"))
        goto out;
    struct epoll_event out;
    if (epoll_wait(ep, &out, 1, EV_TIMEOUT_MS) == 1 && (out.events & EPOLLIN)) {
        ssize_t n = recv(s->fd, buf, sizeof buf, 0);
        struct want_addr w = {RTM_NEWADDR, AF_INET, 32, {0}};
        inet_pton(AF_INET, "10.79.0.2", w.local);
        if (n > 0 && match_addr((struct nlmsghdr *)buf, &w))
            OK("readiness-epoll-wait");
        else
            fail("readiness-epoll-wait", "epoll woke, but recv gave %zd bytes (%s), not RTM_NEWADDR 10.79.0.2/32", n,
                 n < 0 ? strerror(errno) : n >= (ssize_t)sizeof(struct nlmsghdr) ? type_name(((struct nlmsghdr *)buf)->nlmsg_type) : "short");
    } else {
        fail("readiness-epoll-wait", "epoll_wait did not wake within %d ms for a new event", EV_TIMEOUT_MS);
    }
    /* drained again: not readable */
    while (recv(s->fd, buf, sizeof buf, 0) > 0)
        ;
    p.revents = 0;
    FD_ZERO(&rs);
    FD_SET(s->fd, &rs);
    if (poll(&p, 1, 0) == 0 && select(s->fd + 1, &rs, NULL, NULL, &tv) == 0)
        OK("readiness-drained");
    else
        fail("readiness-drained", "still readable (revents 0x%x) after recv returned EAGAIN", p.revents);
out:
    close(ep);
    free_sub(s);
}

/* MSG_PEEK, MSG_TRUNC and a short buffer, as Linux does them. */
static void peek_trunc(void) {
    struct sub *s = new_sub("peek", V4ADDR_ONLY);
    if (!s)
        return;
    static char a[BUFSZ], b[BUFSZ];
    if (change("peek", IP("addr add 10.81.0.1/32 dev lo"), "addr add 10.81.0.1/32 dev lo"))
        goto out;
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, EV_TIMEOUT_MS) != 1) {
        fail("peek", "no event within %d ms", EV_TIMEOUT_MS);
        goto out;
    }
    ssize_t t = recv(s->fd, a, 16, MSG_PEEK | MSG_TRUNC);
    ssize_t n1 = recv(s->fd, a, sizeof a, MSG_PEEK);
    ssize_t n2 = recv(s->fd, b, sizeof b, MSG_DONTWAIT);
    struct want_addr w = {RTM_NEWADDR, AF_INET, 32, {0}};
    inet_pton(AF_INET, "10.81.0.1", w.local);
    if (n1 <= 0 || n1 != n2 || memcmp(a, b, n1))
        fail("peek", "MSG_PEEK gave %zd bytes, the next recv %zd bytes%s", n1, n2,
             n1 == n2 && n1 > 0 ? " with different contents" : "");
    else if (!match_addr((struct nlmsghdr *)b, &w))
        fail("peek", "the datagram is not RTM_NEWADDR 10.81.0.1/32");
    else
        OK("peek");
    if (t != n2)
        fail("trunc", "recv(16 bytes, MSG_PEEK|MSG_TRUNC) returned %zd, the datagram has %zd", t, n2);
    else
        OK("trunc");

    /* two more events; a 16-byte read takes the first and drops its rest */
    if (change("short-buffer", IP("addr add 10.81.0.2/32 dev lo"), "addr add 10.81.0.2/32 dev lo"))
        goto out;
    if (poll(&p, 1, EV_TIMEOUT_MS) != 1) {
        fail("short-buffer", "no event within %d ms", EV_TIMEOUT_MS);
        goto out;
    }
    if (change("short-buffer", IP("addr add 10.81.0.3/32 dev lo"), "addr add 10.81.0.3/32 dev lo"))
        goto out;
    char small[16];
    struct iovec iov = {small, sizeof small};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(s->fd, &mh, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)small;
    if (n != 16 || !(mh.msg_flags & MSG_TRUNC) || h->nlmsg_type != RTM_NEWADDR) {
        fail("short-buffer", "recvmsg with 16 bytes returned %zd, msg_flags 0x%x, type %d (want 16, MSG_TRUNC, "
                             "RTM_NEWADDR)",
             n, mh.msg_flags, h->nlmsg_type);
        goto out;
    }
    if (poll(&p, 1, EV_TIMEOUT_MS) != 1) {
        fail("short-buffer", "the third event did not arrive within %d ms", EV_TIMEOUT_MS);
        goto out;
    }
    n = recv(s->fd, b, sizeof b, MSG_DONTWAIT);
    inet_pton(AF_INET, "10.81.0.3", w.local);
    h = (struct nlmsghdr *)b;
    if (n < (ssize_t)sizeof *h || !NLMSG_OK(h, n) || (ssize_t)h->nlmsg_len != n || !match_addr(h, &w))
        fail("short-buffer", "after the truncated read, recv gave %zd bytes that are not the whole RTM_NEWADDR "
                             "10.81.0.3/32 (the rest of the truncated datagram was not dropped?)",
             n);
    else
        OK("short-buffer");
out:
    free_sub(s);
}

/* The subscriber's own requests are answered as usual while events flow. */
static int dump_count;
static void cb_count(struct nlmsghdr *h, void *arg) {
    (void)h;
    (void)arg;
    dump_count++;
}

static void own_requests(void) {
    static const int groups[] = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, 0};
    struct sub *s = new_sub("own", groups);
    if (!s)
        return;
    IP("addr add 10.82.0.1/32 dev lo");
    struct pollfd p = {s->fd, POLLIN, 0};
    poll(&p, 1, EV_TIMEOUT_MS); /* an event is waiting (or not: the dump must work either way) */
    dump_count = 0;
    dump(RTM_GETLINK, AF_UNSPEC, cb_count, NULL);
    int expect = dump_count;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    unsigned seq = 4242;
    if (send_req(s->fd, RTM_GETLINK, NLM_F_DUMP, seq, &ifi, sizeof ifi)) {
        fail("own-dump", "sendto: %s", strerror(errno));
        goto out;
    }
    int parts = 0, done = 0, events = 0, bad = 0;
    struct nlmsghdr *h;
    while (!done && next_msg(s, EV_TIMEOUT_MS, &h)) {
        if (h->nlmsg_seq == seq && h->nlmsg_pid == s->portid) {
            if (h->nlmsg_type == NLMSG_DONE)
                done = 1;
            else if (h->nlmsg_type == RTM_NEWLINK && (h->nlmsg_flags & NLM_F_MULTI))
                parts++;
            else
                bad++;
        } else {
            check_event_header(s, h);
            events++;
        }
    }
    if (!done || bad || parts != expect)
        fail("own-dump", "dump on the subscribed socket: %d links (a plain socket sees %d), NLMSG_DONE %s, %d "
                         "unexpected replies",
             parts, expect, done ? "seen" : "missing", bad);
    else
        OK("own-dump");

    /* a request with an ACK; its own event may carry its pid and seq (Linux: the requester's) */
    struct {
        struct ifaddrmsg ifa;
        struct rtattr rta;
        unsigned char a[4];
    } req;
    memset(&req, 0, sizeof req);
    req.ifa.ifa_family = AF_INET;
    req.ifa.ifa_prefixlen = 32;
    req.ifa.ifa_index = index_of("lo");
    req.rta.rta_type = IFA_LOCAL;
    req.rta.rta_len = RTA_LENGTH(4);
    inet_pton(AF_INET, "10.82.0.2", req.a);
    seq = 4243;
    if (send_req(s->fd, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, &req, sizeof req)) {
        fail("own-ack", "sendto: %s", strerror(errno));
        goto out;
    }
    int acked = 0, ack_err = 1, got_event = 0;
    struct want_addr w = {RTM_NEWADDR, AF_INET, 32, {0}};
    inet_pton(AF_INET, "10.82.0.2", w.local);
    long deadline = now_ms() + EV_TIMEOUT_MS;
    while ((!acked || !got_event) && now_ms() < deadline && next_msg(s, (int)(deadline - now_ms()), &h)) {
        if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == seq) {
            acked = 1;
            ack_err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        } else if (match_addr(h, &w)) {
            got_event = 1;
            if (h->nlmsg_flags & NLM_F_MULTI)
                fail("own-ack", "the event for its own request has NLM_F_MULTI");
        } else {
            check_event_header(s, h);
        }
    }
    if (!acked || ack_err)
        fail("own-ack", "RTM_NEWADDR request: %s", acked ? strerror(-ack_err) : "no ACK");
    else
        OK("own-ack");
    if (!got_event)
        fail("own-event", "no RTM_NEWADDR 10.82.0.2/32 event for the socket's own request");
    else
        OK("own-event");
out:
    free_sub(s);
}

static int list_memberships(int fd, unsigned *word0, socklen_t *len) {
    unsigned words[8] = {0};
    *len = sizeof words;
    int r = getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, len);
    *word0 = words[0];
    return r ? -errno : 0;
}

/* LIST_MEMBERSHIPS, getsockname and DROP_MEMBERSHIP agree; a dropped group stops. */
static void memberships(void) {
    static const int groups[] = {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, 0};
    struct sub *s = new_sub("memberships", groups);
    if (!s)
        return;
    unsigned w0;
    socklen_t len;
    const char *name = use_bind ? "memberships-bind" : "memberships-add";
    unsigned want = mask_of(groups);
    int e = list_memberships(s->fd, &w0, &len);
    if (e || w0 != want || groups_of(s->fd) != want)
        fail(name, "LIST_MEMBERSHIPS %s word0 0x%x, getsockname 0x%x, want 0x%x", e ? strerror(-e) : "ok", w0,
             groups_of(s->fd), want);
    else
        OK(name);
    int g6 = RTNLGRP_IPV6_IFADDR, g4 = RTNLGRP_IPV4_IFADDR;
    if (setsockopt(s->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g6, sizeof g6) ||
        setsockopt(s->fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &g4, sizeof g4)) {
        fail("memberships-drop", "ADD/DROP_MEMBERSHIP: %s", strerror(errno));
        goto out;
    }
    want = (want | (1u << (g6 - 1))) & ~(1u << (g4 - 1));
    s->groups = want;
    e = list_memberships(s->fd, &w0, &len);
    if (e || w0 != want || groups_of(s->fd) != want) {
        fail("memberships-drop", "after ADD %d, DROP %d: LIST_MEMBERSHIPS word0 0x%x, getsockname 0x%x, want 0x%x",
             g6, g4, w0, groups_of(s->fd), want);
        goto out;
    }
    OK("memberships-drop");
    drain(s, 200);
    /* an IPv4 address (dropped group), then an IPv6 one (joined group) as the positive control */
    IP("addr add 10.83.0.1/32 dev lo");
    if (change("drop-no-events", IP("-6 addr add fd83::1/128 dev lo nodad"), "-6 addr add fd83::1/128 dev lo nodad"))
        goto out;
    struct want_addr w = {RTM_NEWADDR, AF_INET6, 128, {0}};
    inet_pton(AF_INET6, "fd83::1", w.local);
    /* check_event_header fails any IPv4 address event: its group is no longer in s->groups */
    int before = header_failures;
    if (wait_for(s, "drop-no-events", "RTM_NEWADDR fd83::1/128 (joined group)", match_addr, &w, NULL, 0)) {
        drain(s, 300);
        if (header_failures == before)
            OK("drop-no-events");
        else
            fail("drop-no-events", "events of the dropped group arrived (see event-headers)");
    }
out:
    free_sub(s);
}

/* Closing a subscriber drops its memberships: a new socket (maybe on the same fd number) has
 * none and gets nothing. */
static void close_drops_state(void) {
    static const int link[] = {RTNLGRP_LINK, 0};
    struct sub *old = new_sub("closed", link);
    if (!old)
        return;
    free_sub(old);
    int fd = nl_socket();
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    struct sub *ctl = new_sub("control", link);
    if (!ctl) {
        close(fd);
        return;
    }
    unsigned w0;
    socklen_t len;
    list_memberships(fd, &w0, &len);
    if (groups_of(fd) != 0 || len != 0) {
        fail("close-drops-state", "a new socket has getsockname groups 0x%x, LIST_MEMBERSHIPS length %u",
             groups_of(fd), (unsigned)len);
    } else if (!change("close-drops-state", IP("link add evz0 type veth peer name evz1"),
                       "link add evz0 type veth peer name evz1")) {
        struct want_link w = {RTM_NEWLINK, 0, "evz0"};
        if (wait_for(ctl, "close-drops-state", "RTM_NEWLINK evz0 on the control subscriber", match_link, &w, NULL,
                     0)) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 300) != 0)
                fail("close-drops-state", "the unsubscribed socket became readable (revents 0x%x)", p.revents);
            else
                OK("close-drops-state");
        }
        IP("link del evz0");
    }
    close(fd);
    free_sub(ctl);
}

/* A subscriber that falls behind gets ENOBUFS once, and the stream goes on. */
static void enobufs(void) {
    struct sub *s = new_sub("enobufs", V4ADDR_ONLY);
    if (!s)
        return;
    s->allow_enobufs = 1;
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
    enum { N = 200 };
    static char batch[N * 48];
    batch[0] = 0;
    for (int i = 1; i <= N; i++)
        sprintf(batch + strlen(batch), "addr add 10.84.%d.%d/32 dev lo\n", i / 250, i % 250 + 1);
    char *argv[] = {"ip", "-batch", "-", NULL};
    if (change("enobufs", run_ip_in(-1, batch, argv), "-batch - (200 address adds)"))
        goto out;
    sleep_ms(300);
    drain(s, 500);
    int got = s->events;
    if (s->enobufs != 1)
        fail("enobufs", "%d ENOBUFS errors for %d events of which %d were read (want exactly 1)", s->enobufs, N, got);
    else if (got >= N)
        fail("enobufs", "ENOBUFS, yet all %d events were read", got);
    else
        OK("enobufs");
    s->allow_enobufs = 0;
    struct want_addr w = {RTM_DELADDR, AF_INET, 32, {0}};
    inet_pton(AF_INET, "10.84.0.2", w.local);
    if (!change("enobufs-resume", IP("addr del 10.84.0.2/32 dev lo"), "addr del 10.84.0.2/32 dev lo") &&
        wait_for(s, "enobufs-resume", "RTM_DELADDR 10.84.0.2/32 after the overrun", match_addr, &w, NULL, 0))
        OK("enobufs-resume");
out:
    free_sub(s);
}

static void fresh_namespace(void) {
    struct link l;
    int others = 0;
    char names[200] = "";
    for (int i = 1; i < 64; i++) {
        if (get_link(i, &l) == 0 && strcmp(l.name, "lo") != 0) {
            others++;
            snprintf(names + strlen(names), sizeof names - strlen(names), " %s", l.name);
        }
    }
    if (others) {
        fail("fresh-netns", "links other than lo exist here (%s); run this in a new network namespace "
                            "(unshare -n)",
             names);
        finish();
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || (strcmp(argv[1], "bind") && strcmp(argv[1], "membership"))) {
        fprintf(stderr, "usage: %s bind|membership [-v] [-k]\n", argv[0]);
        return 2;
    }
    use_bind = strcmp(argv[1], "bind") == 0;
    for (int i = 2; i < argc; i++) {
        verbose |= strcmp(argv[i], "-v") == 0;
        keep_going |= strcmp(argv[i], "-k") == 0;
    }
    rq = nl_socket();
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    if (bind(rq, (struct sockaddr *)&sa, sizeof sa)) {
        fail("socket", "bind of a plain netlink socket: %s", strerror(errno));
        finish();
    }
    fresh_namespace();
    IP("link set lo up");

    struct sub *s = new_sub("main", ALL_GROUPS);
    struct sub *og = new_sub("only-v4-addr", V4ADDR_ONLY);
    if (!s || !og)
        finish();
    OK(use_bind ? "subscribe-bind" : "subscribe-membership");
    main_sequence(s);
    check_only_groups(og);
    drain(s, 100);
    if (header_failures == 0)
        printf("ok event-headers\n"), n_ok++;
    free_sub(og);
    free_sub(s);

    readiness();
    peek_trunc();
    own_requests();
    memberships();
    close_drops_state();
    enobufs();
    if (ns_child > 0) {
        kill(ns_child, SIGKILL);
        waitpid(ns_child, NULL, 0);
    }
    finish();
}
