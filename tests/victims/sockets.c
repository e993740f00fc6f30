/*
 * sockets.c: a victim for gvnet's seccomp filter.
 *
 * dockerd runs with libgvnet.so, which installs a seccomp filter; every process dockerd starts
 * (containerd, runc, the container's own processes) inherits that filter but not gvnet's SIGSYS
 * handler. This program, statically linked so LD_PRELOAD cannot matter, makes the socket calls
 * the filter is interested in and prints one line per call: `<call>: ok[ (detail)]` or
 * `<call>: <ERRNAME> (<errno>)`. It ends with `alive` and exit status 0. If the filter traps one
 * of these calls in a process without a handler, the process dies of SIGSYS (status 159 under
 * docker) before printing `alive`.
 *
 * gvnet-harness's `descendants` scenario also runs it directly in the sandbox (no filter) and
 * compares the transcripts: every line except `seccomp mode` must be the same. So nothing that
 * varies between runs (fds, ports, pids) is printed; run it in a network namespace holding only
 * `lo`.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o sockets sockets.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EMSGSIZE: return "EMSGSIZE";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETDOWN: return "ENETDOWN";
	case ENETUNREACH: return "ENETUNREACH";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	default: return "E?";
	}
}

/* Prints the result of one call; returns rc unchanged. */
static long report(const char *what, long rc, const char *detail)
{
	if (rc < 0)
		printf("%s: %s (%d)\n", what, errname(errno), errno);
	else if (detail && *detail)
		printf("%s: ok (%s)\n", what, detail);
	else
		printf("%s: ok\n", what);
	fflush(stdout);
	return rc;
}

static struct sockaddr_nl nl_addr(unsigned pid, unsigned groups)
{
	struct sockaddr_nl a;
	memset(&a, 0, sizeof(a));
	a.nl_family = AF_NETLINK;
	a.nl_pid = pid;
	a.nl_groups = groups;
	return a;
}

/* Reads the RTM_GETLINK dump until NLMSG_DONE; returns the number of links or -1. */
static int read_dump(int fd, int *links)
{
	char buf[32768];
	*links = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) <= 0) {
			errno = EAGAIN;
			return -1;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -1;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				errno = -e->error;
				return -1;
			}
			if (h->nlmsg_type == RTM_NEWLINK)
				(*links)++;
		}
	}
}

static void netlink_other(int proto, const char *name);

static void netlink_route(void)
{
	char d[128];
	int fd = report("netlink-route socket", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "");
	if (fd < 0)
		return;
	report("netlink fcntl O_NONBLOCK", fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), "");

	/* What vishvananda/netlink's Subscribe does (moby's waitForIfUpped). */
	struct sockaddr_nl a = nl_addr(0, RTMGRP_LINK);
	report("netlink bind nl_groups=RTMGRP_LINK", bind(fd, (struct sockaddr *)&a, sizeof(a)), "");

	struct sockaddr_nl got;
	socklen_t len = sizeof(got);
	memset(&got, 0, sizeof(got));
	long rc = getsockname(fd, (struct sockaddr *)&got, &len);
	snprintf(d, sizeof(d), "nl_groups=0x%x", got.nl_groups);
	report("netlink getsockname", rc, d);

	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = 1;
	req.i.ifi_family = AF_UNSPEC;
	struct sockaddr_nl to = nl_addr(0, RTMGRP_LINK);
	rc = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to));
	report("netlink sendto RTM_GETLINK to nl_groups=RTMGRP_LINK", rc, "");
	if (rc >= 0) {
		int links;
		rc = read_dump(fd, &links);
		snprintf(d, sizeof(d), "%d links", links);
		report("netlink RTM_GETLINK dump reply", rc, d);
	}

	int grp = RTNLGRP_LINK;
	report("setsockopt SOL_NETLINK NETLINK_ADD_MEMBERSHIP RTNLGRP_LINK",
	       setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)), "");
	grp = RTNLGRP_IPV4_IFADDR;
	report("setsockopt SOL_NETLINK NETLINK_ADD_MEMBERSHIP RTNLGRP_IPV4_IFADDR",
	       setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)), "");
	short small = RTNLGRP_LINK;
	report("setsockopt SOL_NETLINK NETLINK_ADD_MEMBERSHIP optlen=2",
	       setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &small, sizeof(small)), "");

	unsigned int groups[4] = { 0 };
	len = sizeof(groups);
	rc = getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len);
	snprintf(d, sizeof(d), "0x%x", groups[0]);
	report("getsockopt SOL_NETLINK NETLINK_LIST_MEMBERSHIPS", rc, d);

	grp = RTNLGRP_IPV4_IFADDR;
	report("setsockopt SOL_NETLINK NETLINK_DROP_MEMBERSHIP RTNLGRP_IPV4_IFADDR",
	       setsockopt(fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &grp, sizeof(grp)), "");
	close(fd);

	/* A plain request/response socket: no groups anywhere. */
	fd = report("netlink-route socket (no groups)", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), "");
	if (fd >= 0) {
		a = nl_addr(0, 0);
		report("netlink bind nl_groups=0", bind(fd, (struct sockaddr *)&a, sizeof(a)), "");
		to = nl_addr(0, 0);
		rc = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to));
		report("netlink sendto RTM_GETLINK to the kernel", rc, "");
		if (rc >= 0) {
			int links;
			rc = read_dump(fd, &links);
			snprintf(d, sizeof(d), "%d links", links);
			report("netlink RTM_GETLINK dump reply (no groups)", rc, d);
		}
		close(fd);
	}

	/* connect() with groups is the other way in. */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd >= 0) {
		a = nl_addr(0, RTMGRP_LINK);
		report("netlink connect nl_groups=RTMGRP_LINK", connect(fd, (struct sockaddr *)&a, sizeof(a)), "");
		memset(&got, 0, sizeof(got));
		len = sizeof(got);
		rc = getpeername(fd, (struct sockaddr *)&got, &len);
		snprintf(d, sizeof(d), "nl_groups=0x%x", got.nl_groups);
		report("netlink getpeername", rc, d);
		int one = 1;
		report("setsockopt SOL_NETLINK NETLINK_NO_ENOBUFS",
		       setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)), "");
		/* sendmsg to a group: the other send path. */
		struct sockaddr_nl grp_to = nl_addr(0, RTMGRP_LINK);
		struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
		struct msghdr mh;
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &grp_to;
		mh.msg_namelen = sizeof(grp_to);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		report("netlink sendmsg RTM_GETLINK to nl_groups=RTMGRP_LINK", sendmsg(fd, &mh, 0), "");
		close(fd);
	}

	/* Other netlink protocols with and without groups: not gvnet's business. */
	netlink_other(NETLINK_KOBJECT_UEVENT, "netlink-kobject-uevent");
	netlink_other(NETLINK_GENERIC, "netlink-generic");
}


/* One request/reply on a generic netlink socket: CTRL_CMD_GETFAMILY for "nlctrl". */
static void genl_getfamily(int fd, const char *label)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		struct nlattr a;
		char name[8];
	} req;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = GENL_ID_CTRL;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = 7;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	req.a.nla_len = NLA_HDRLEN + 7;
	req.a.nla_type = CTRL_ATTR_FAMILY_NAME;
	strcpy(req.name, "nlctrl");
	struct sockaddr_nl to = nl_addr(0, 0);
	char what[128];
	snprintf(what, sizeof(what), "%s sendto CTRL_CMD_GETFAMILY nlctrl", label);
	long rc = report(what, sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&to, sizeof(to)), "");
	if (rc < 0)
		return;
	char buf[8192];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	rc = poll(&p, 1, 2000) > 0 ? recv(fd, buf, sizeof(buf), 0) : (errno = EAGAIN, -1);
	char d[64] = "";
	if (rc >= (long)sizeof(struct nlmsghdr)) {
		struct nlmsghdr *h = (struct nlmsghdr *)buf;
		snprintf(d, sizeof(d), "type %s", h->nlmsg_type == GENL_ID_CTRL ? "GENL_ID_CTRL" : h->nlmsg_type == NLMSG_ERROR ? "NLMSG_ERROR" : "other");
	}
	snprintf(what, sizeof(what), "%s reply", label);
	report(what, rc, d);
}

/* Netlink protocols other than ROUTE, with and without groups: never gvnet's business. */
static void netlink_other(int proto, const char *name)
{
	char what[128], d[64];
	int fd;
	snprintf(what, sizeof(what), "%s socket", name);
	fd = report(what, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto), "");
	if (fd < 0)
		return;
	struct sockaddr_nl a = nl_addr(0, 0);
	snprintf(what, sizeof(what), "%s bind nl_groups=0", name);
	report(what, bind(fd, (struct sockaddr *)&a, sizeof(a)), "");
	if (proto == NETLINK_GENERIC)
		genl_getfamily(fd, name);
	int grp = 1;
	snprintf(what, sizeof(what), "%s setsockopt NETLINK_ADD_MEMBERSHIP 1", name);
	report(what, setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)), "");
	unsigned int groups[2] = { 0 };
	socklen_t len = sizeof(groups);
	long rc = getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, groups, &len);
	snprintf(d, sizeof(d), "0x%x", groups[0]);
	snprintf(what, sizeof(what), "%s getsockopt NETLINK_LIST_MEMBERSHIPS", name);
	report(what, rc, d);
	close(fd);

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return;
	a = nl_addr(0, 1);
	snprintf(what, sizeof(what), "%s bind nl_groups=1", name);
	report(what, bind(fd, (struct sockaddr *)&a, sizeof(a)), "");
	struct sockaddr_nl got;
	len = sizeof(got);
	memset(&got, 0, sizeof(got));
	rc = getsockname(fd, (struct sockaddr *)&got, &len);
	snprintf(d, sizeof(d), "nl_groups=0x%x", got.nl_groups);
	snprintf(what, sizeof(what), "%s getsockname", name);
	report(what, rc, d);
	if (proto == NETLINK_GENERIC)
		genl_getfamily(fd, name);
	close(fd);
}

static void packet(void)
{
	unsigned ifindex = if_nametoindex("lo");
	/* A gratuitous ARP for 127.0.0.1, as moby's advertise-address code sends on a bridge. */
	unsigned char frame[42];
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	frame[12] = 0x08, frame[13] = 0x06;
	frame[14] = 0x00, frame[15] = 0x01, frame[16] = 0x08, frame[17] = 0x00;
	frame[18] = 6, frame[19] = 4, frame[20] = 0, frame[21] = 1;
	frame[28] = 127, frame[31] = 1, frame[38] = 127, frame[41] = 1;

	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ARP);
	ll.sll_ifindex = (int)ifindex;
	ll.sll_halen = 6;
	memset(ll.sll_addr, 0xff, 6);

	int fd = report("packet socket SOCK_RAW ETH_P_ARP", socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP)), "");
	if (fd >= 0) {
		report("packet bind lo", bind(fd, (struct sockaddr *)&ll, sizeof(ll)), "");
		report("packet sendto sockaddr_ll (raw ARP frame)",
		       sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&ll, sizeof(ll)), "");
		struct packet_mreq mr;
		memset(&mr, 0, sizeof(mr));
		mr.mr_ifindex = (int)ifindex;
		mr.mr_type = PACKET_MR_ALLMULTI;
		report("packet setsockopt PACKET_ADD_MEMBERSHIP ALLMULTI",
		       setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)), "");
		close(fd);
	}
	fd = report("packet socket SOCK_DGRAM ETH_P_ARP", socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP)), "");
	if (fd >= 0) {
		report("packet sendto sockaddr_ll (ARP payload)",
		       sendto(fd, frame + 14, sizeof(frame) - 14, 0, (struct sockaddr *)&ll, sizeof(ll)), "");
		close(fd);
	}
}

static void inet(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	int u = report("udp socket", socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "");
	if (u >= 0) {
		int one = 1, grp = RTNLGRP_LINK;
		report("udp setsockopt SO_REUSEADDR", setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), "");
		report("udp setsockopt SOL_NETLINK NETLINK_ADD_MEMBERSHIP",
		       setsockopt(u, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)), "");
		report("udp bind 127.0.0.1:0", bind(u, (struct sockaddr *)&a, sizeof(a)), "");
		getsockname(u, (struct sockaddr *)&a, &len);
		report("udp sendto self", sendto(u, "ping", 4, 0, (struct sockaddr *)&a, sizeof(a)), "");
		char buf[8] = { 0 };
		struct pollfd p = { .fd = u, .events = POLLIN };
		long rc = poll(&p, 1, 2000) > 0 ? recv(u, buf, sizeof(buf), 0) : (errno = EAGAIN, -1);
		report("udp recv", rc, rc == 4 && !memcmp(buf, "ping", 4) ? "ping" : "wrong data");
		close(u);
	}

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(a);
	int l = report("tcp socket", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "");
	if (l >= 0) {
		report("tcp bind 127.0.0.1:0", bind(l, (struct sockaddr *)&a, sizeof(a)), "");
		report("tcp listen", listen(l, 4), "");
		int one = 1;
		report("tcp setsockopt TCP_NODELAY", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), "");
		getsockname(l, (struct sockaddr *)&a, &len);
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		report("tcp connect", connect(c, (struct sockaddr *)&a, sizeof(a)), "");
		int s = report("tcp accept", accept(l, NULL, NULL), "");
		if (s >= 0) {
			char buf[8] = { 0 };
			report("tcp send", send(c, "pong", 4, 0), "");
			long rc = recv(s, buf, sizeof(buf), 0);
			report("tcp recv", rc, rc == 4 && !memcmp(buf, "pong", 4) ? "pong" : "wrong data");
			close(s);
		}
		close(c);
		close(l);
	}

	struct sockaddr_in6 a6;
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	a6.sin6_addr = in6addr_loopback;
	int u6 = report("udp6 socket", socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0), "");
	if (u6 >= 0) {
		int one = 1;
		report("udp6 setsockopt IPV6_V6ONLY", setsockopt(u6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), "");
		report("udp6 bind [::1]:0", bind(u6, (struct sockaddr *)&a6, sizeof(a6)), "");
		socklen_t l6 = sizeof(a6);
		getsockname(u6, (struct sockaddr *)&a6, &l6);
		report("udp6 sendto self", sendto(u6, "ping6", 5, 0, (struct sockaddr *)&a6, sizeof(a6)), "");
		char buf[8] = { 0 };
		struct pollfd p = { .fd = u6, .events = POLLIN };
		long rc = poll(&p, 1, 2000) > 0 ? recv(u6, buf, sizeof(buf), 0) : (errno = EAGAIN, -1);
		report("udp6 recv", rc, rc == 5 && !memcmp(buf, "ping6", 5) ? "ping6" : "wrong data");
		close(u6);
	}

	struct sockaddr_un un;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "gvnet-victim-%d", (int)getpid());
	int x = report("unix socket", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "");
	if (x >= 0) {
		report("unix bind abstract",
		       bind(x, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1))),
		       "");
		close(x);
	}
	int sp[2];
	if (report("unix stream socketpair", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), "") == 0) {
		int one = 1;
		char buf[8] = { 0 };
		report("unix setsockopt SO_PASSCRED", setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), "");
		report("unix stream send", send(sp[1], "unix", 4, 0), "");
		long rc = recv(sp[0], buf, sizeof(buf), 0);
		report("unix stream recv", rc, rc == 4 && !memcmp(buf, "unix", 4) ? "unix" : "wrong data");
		close(sp[0]);
		close(sp[1]);
	}
	/* A datagram socket bound to an abstract name, sent to by address (addrlen != 12, 20). */
	int dr = report("unix dgram socket", socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), "");
	int ds = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (dr >= 0 && ds >= 0) {
		snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "gvnet-dgram-%d", (int)getpid());
		socklen_t ul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1));
		report("unix dgram bind abstract", bind(dr, (struct sockaddr *)&un, ul), "");
		report("unix dgram sendto", sendto(ds, "dgram", 5, 0, (struct sockaddr *)&un, ul), "");
		char buf[8] = { 0 };
		long rc = recv(dr, buf, sizeof(buf), MSG_DONTWAIT);
		report("unix dgram recv", rc, rc == 5 && !memcmp(buf, "dgram", 5) ? "dgram" : "wrong data");
	}
	if (dr >= 0)
		close(dr);
	if (ds >= 0)
		close(ds);
}

/* Seccomp mode from /proc/self/status: 2 means some filter is installed (docker's default
 * profile, or with --security-opt seccomp=unconfined only one inherited from dockerd). */
static void seccomp_mode(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		report("seccomp mode", -1, "");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8)) {
			printf("seccomp mode: %d\n", atoi(line + 8));
			break;
		}
	}
	fclose(f);
	fflush(stdout);
}

int main(void)
{
	seccomp_mode();
	/* gvnet's filter never sets no_new_privs: a descendant must see 0 here. */
	printf("no_new_privs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	netlink_route();
	packet();
	inet();
	printf("alive\n");
	return 0;
}
