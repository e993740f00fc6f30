/* A veth pair as netavark (podman) makes one, and the IFLA_LINK its ends report.
 *
 * netavark 1.17's create_veth_pair: a NETLINK_ROUTE socket in this namespace and one made in
 * the container's namespace, both with NETLINK_GET_STRICT_CHK set right after socket(2)
 * (netlink-sys); RTM_NEWLINK kind veth with NLM_F_REQUEST|ACK|EXCL|CREATE sent with libc send,
 * the host end unnamed, the peer named and put into the container's namespace by
 * IFLA_NET_NS_FD; then RTM_GETLINK of the peer by name on the container's socket, whose
 * IFLA_LINK is taken as the host end's index.
 *
 * Prints one line per fact; `peer-link:` and `host-link:` say "ok" when IFLA_LINK names the
 * other end, as Linux's veth_get_iflink does. Runs on the host kernel without the library (the
 * reference: interceptor/tests/veth.rs), under GVNET_MODE=force, and in gVisor with and
 * without the library (gvnet-harness check, scenario veth-peer). Exit status 0 when both are
 * ok, 1 when not, 2 when the pair could not be made. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN
 * (unshare(CLONE_NEWNET)). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

static unsigned seq = 1;

struct req {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[512];
};

static struct rtattr *attr(struct nlmsghdr *h, unsigned short type, const void *data,
			   unsigned short len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void nest_end(struct nlmsghdr *h, struct rtattr *a)
{
	a->rta_len = (char *)h + h->nlmsg_len - (char *)a;
}

/* A route socket as netlink-sys makes it, strict checking asked for (gVisor refuses the
 * option without the library: its answer is printed, not fatal). */
static int route_socket(const char *where)
{
	int one = 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		printf("socket %s: %s\n", where, strerror(errno));
		exit(2);
	}
	int r = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	fprintf(stderr, "strict %s: %s\n", where, r == 0 ? "ok" : strerror(errno));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("bind %s: %s\n", where, strerror(errno));
		exit(2);
	}
	return fd;
}

/* The ack's error (0: done), or the one RTM_NEWLINK of a get into `out`. */
static int talk(int fd, struct req *r, char *out, size_t cap, ssize_t *got)
{
	r->h.nlmsg_seq = ++seq;
	if (send(fd, r, r->h.nlmsg_len, 0) != (ssize_t)r->h.nlmsg_len)
		return -errno;
	char buf[8192];
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, n))
		return -EBADMSG;
	if (h->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	if (out) {
		*got = h->nlmsg_len < cap ? h->nlmsg_len : cap;
		memcpy(out, buf, *got);
	}
	return 0;
}

/* IFLA_LINK of a link message (-1: none), and its name. */
static long iflink(const char *m, char *name)
{
	const struct nlmsghdr *h = (const void *)m;
	int len = IFLA_PAYLOAD(h);
	long link = -1;
	for (struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_LINK)
			link = *(unsigned *)RTA_DATA(a);
		if (a->rta_type == IFLA_IFNAME && name)
			snprintf(name, IFNAMSIZ, "%s", (char *)RTA_DATA(a));
	}
	return link;
}

static int get_link(int fd, int index, const char *name, char *out, ssize_t *got)
{
	struct req r = {0};
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.h.nlmsg_type = RTM_GETLINK;
	r.h.nlmsg_flags = NLM_F_REQUEST;
	r.i.ifi_index = index;
	if (name)
		attr(&r.h, IFLA_IFNAME, name, strlen(name) + 1);
	return talk(fd, &r, out, 4096, got);
}

int main(int argc, char **argv)
{
	const char *peer = argc > 1 ? argv[1] : "gvnet-vp0";
	int host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int host = route_socket("host");
	if (host_ns < 0 || unshare(CLONE_NEWNET) < 0) {
		printf("unshare: %s\n", strerror(errno));
		return 2;
	}
	int ctr_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int ctr = route_socket("container");
	if (ctr_ns < 0 || setns(host_ns, CLONE_NEWNET) < 0) {
		printf("setns: %s\n", strerror(errno));
		return 2;
	}

	struct req r = {0};
	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
	unsigned mtu = 1500;
	attr(&r.h, IFLA_MTU, &mtu, 4);
	struct rtattr *info = attr(&r.h, IFLA_LINKINFO, NULL, 0);
	attr(&r.h, IFLA_INFO_KIND, "veth", 4);
	struct rtattr *data = attr(&r.h, IFLA_INFO_DATA, NULL, 0);
	struct rtattr *p = attr(&r.h, VETH_INFO_PEER, NULL, 0);
	r.h.nlmsg_len += sizeof(struct ifinfomsg); /* the peer's, all zero */
	attr(&r.h, IFLA_IFNAME, peer, strlen(peer) + 1);
	attr(&r.h, IFLA_MTU, &mtu, 4);
	unsigned nsfd = ctr_ns;
	attr(&r.h, IFLA_NET_NS_FD, &nsfd, 4);
	nest_end(&r.h, p);
	nest_end(&r.h, data);
	nest_end(&r.h, info);
	int e = talk(host, &r, NULL, 0, NULL);
	printf("create: %s\n", e ? strerror(-e) : "ok");
	if (e)
		return 2;

	char m[4096];
	ssize_t got;
	e = get_link(ctr, 0, peer, m, &got);
	if (e) {
		printf("get peer: %s\n", strerror(-e));
		return 2;
	}
	int peer_index = ((struct ifinfomsg *)NLMSG_DATA((struct nlmsghdr *)m))->ifi_index;
	long host_index = iflink(m, NULL);
	printf("peer IFLA_LINK: %s\n", host_index < 0 ? "none" : "present");
	if (host_index <= 0) {
		printf("peer-link: missing\n");
		return 1;
	}
	char host_name[IFNAMSIZ] = "";
	e = get_link(host, host_index, NULL, m, &got);
	long back = e ? -2 : iflink(m, host_name);
	/* Linux names an unnamed end veth<N>, gVisor veth<its index>: only "veth" is compared. */
	printf("peer-link: %s (the host end is %.4s...)\n",
	       e ? strerror(-e) : "ok", host_name);
	printf("host-link: %s\n", back == peer_index ? "ok" : back < 0 ? "none" : "other");

	/* Deleting the host end takes the peer with it. */
	struct req d = {0};
	d.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	d.h.nlmsg_type = RTM_DELLINK;
	d.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	d.i.ifi_index = host_index;
	e = talk(host, &d, NULL, 0, NULL);
	printf("delete: %s\n", e ? strerror(-e) : "ok");
	e = get_link(ctr, 0, peer, m, &got);
	printf("peer after delete: %s\n", e ? strerror(-e) : "still there");
	return (back == peer_index && host_index > 0) ? 0 : 1;
}
