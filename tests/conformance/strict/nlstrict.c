/* Strict dump checking (NETLINK_GET_STRICT_CHK) through libc, as netavark does it
 * (netlink-sys: setsockopt, bind, connect, send, recv of 8192 bytes), plus sendto, recvfrom,
 * recvmsg and the option's edge cases. Prints a transcript: what each request was answered
 * with, message by message, by identity (names, addresses, tables), never by counters.
 *
 * Run in a network namespace prepared by interceptor/tests/strict.rs (a bridge br0 with ports
 * vp and vr, an empty bridge br1, veths, addresses, routes in tables main and 100).
 * Usage: nlstrict [--plain]   (--plain: the option is never set, for the test's proof that
 * the transcript tells strict dumps from plain ones). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static int plain;
static unsigned seq = 100;

static int sock(int strict) {
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) { perror("socket"); exit(2); }
	if (strict && plain) printf("setsockopt(NETLINK_GET_STRICT_CHK, 1) skipped (--plain)\n");
	if (strict && !plain) {
		int one = 1;
		int r = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
		printf("setsockopt(NETLINK_GET_STRICT_CHK, 1) = %d %s\n", r, r ? strerror(errno) : "");
	}
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		perror("bind/connect"); exit(2);
	}
	return fd;
}

static unsigned portid(int fd) {
	struct sockaddr_nl sa; socklen_t l = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &l);
	return sa.nl_pid;
}

struct req { struct nlmsghdr h; char body[256]; };

static void put_attr(struct req *r, unsigned short type, const void *data, int len) {
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type; a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void start(struct req *r, unsigned short type, unsigned short flags, int hdrlen) {
	memset(r, 0, sizeof *r);
	r->h.nlmsg_len = NLMSG_LENGTH(hdrlen);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | flags;
	r->h.nlmsg_seq = ++seq;
}

static const char *name(int i) {
	static char b[4][IF_NAMESIZE + 8];
	static int k;
	char *o = b[k++ & 3];
	if (i == 0) return "-";
	if (!if_indextoname(i, o)) snprintf(o, IF_NAMESIZE + 8, "#%d", i);
	return o;
}

static void attrs(struct rtattr *a, int len, struct rtattr **tb, int max) {
	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if ((a->rta_type & NLA_TYPE_MASK) <= max) tb[a->rta_type & NLA_TYPE_MASK] = a;
}

static void addr_str(int fam, struct rtattr *a, char *out) {
	if (!a) { strcpy(out, "-"); return; }
	inet_ntop(fam, RTA_DATA(a), out, INET6_ADDRSTRLEN);
	/* Link-local addresses come from random MAC addresses: the same in every run. */
	if (!strncmp(out, "fe80::", 6) && strlen(out) > 6) strcpy(out, "fe80::(link-local)");
}

static void show(struct nlmsghdr *h, unsigned want_seq, unsigned pid) {
	printf("  type %d flags %#x len-ok %d seq %s pid %s", h->nlmsg_type, h->nlmsg_flags,
	       h->nlmsg_len >= NLMSG_HDRLEN, h->nlmsg_seq == want_seq ? "=" : "other",
	       h->nlmsg_pid == pid ? "=" : "other");
	struct rtattr *tb[64];
	char s1[64], s2[64];
	switch (h->nlmsg_type) {
	case NLMSG_DONE:
		printf(" DONE len %u error %d\n", h->nlmsg_len, *(int *)NLMSG_DATA(h));
		break;
	case NLMSG_ERROR: {
		struct nlmsgerr *e = NLMSG_DATA(h);
		printf(" ERROR %d echo type %d flags %#x seq %s\n", e->error, e->msg.nlmsg_type,
		       e->msg.nlmsg_flags, e->msg.nlmsg_seq == want_seq ? "=" : "other");
		break;
	}
	case RTM_NEWLINK: {
		struct ifinfomsg *i = NLMSG_DATA(h);
		attrs(IFLA_RTA(i), IFLA_PAYLOAD(h), tb, IFLA_MAX < 63 ? IFLA_MAX : 63);
		printf(" link %s master %s\n", tb[IFLA_IFNAME] ? (char *)RTA_DATA(tb[IFLA_IFNAME]) : "?",
		       tb[IFLA_MASTER] ? name(*(int *)RTA_DATA(tb[IFLA_MASTER])) : "-");
		break;
	}
	case RTM_NEWADDR: {
		struct ifaddrmsg *a = NLMSG_DATA(h);
		attrs(IFA_RTA(a), IFA_PAYLOAD(h), tb, IFA_MAX);
		addr_str(a->ifa_family, tb[IFA_ADDRESS], s1);
		printf(" addr family %d dev %s %s/%d\n", a->ifa_family, name(a->ifa_index), s1, a->ifa_prefixlen);
		break;
	}
	case RTM_NEWROUTE: {
		struct rtmsg *r = NLMSG_DATA(h);
		attrs(RTM_RTA(r), RTM_PAYLOAD(h), tb, RTA_MAX);
		unsigned table = tb[RTA_TABLE] ? *(unsigned *)RTA_DATA(tb[RTA_TABLE]) : r->rtm_table;
		addr_str(r->rtm_family, tb[RTA_DST], s1);
		addr_str(r->rtm_family, tb[RTA_GATEWAY], s2);
		printf(" route family %d table %u %s/%d via %s dev %s proto %d type %d\n", r->rtm_family,
		       table, s1, r->rtm_dst_len, s2, tb[RTA_OIF] ? name(*(int *)RTA_DATA(tb[RTA_OIF])) : "-",
		       r->rtm_protocol, r->rtm_type);
		break;
	}
	default:
		printf(" other\n");
	}
}

enum how { SEND, SENDTO };
enum rhow { RECV, RECVFROM, RECVMSG };

/* Sends r, then reads until the dump's NLMSG_DONE or an NLMSG_ERROR, printing every message. */
static void ask(const char *what, int fd, struct req *r, enum how how, enum rhow rhow) {
	static char buf[8192];
	unsigned pid = portid(fd);
	printf("%s:\n", what);
	ssize_t n;
	if (how == SEND) {
		n = send(fd, r, r->h.nlmsg_len, 0);
	} else {
		struct sockaddr_nl k = { .nl_family = AF_NETLINK };
		n = sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof k);
	}
	printf("  sent %zd of %u\n", n, r->h.nlmsg_len);
	for (int rounds = 0; rounds < 64; rounds++) {
		if (rhow == RECV) {
			n = recv(fd, buf, sizeof buf, 0);
		} else if (rhow == RECVFROM) {
			struct sockaddr_nl from; socklen_t fl = sizeof from;
			n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
			if (n >= 0) printf("  from pid %u groups %u len %u\n", from.nl_pid, from.nl_groups, fl);
		} else {
			struct iovec iov = { buf, sizeof buf };
			struct sockaddr_nl from;
			struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1 };
			n = recvmsg(fd, &m, 0);
			if (n >= 0) printf("  msg_flags %#x\n", m.msg_flags);
		}
		if (n < 0) { printf("  recv: %s\n", strerror(errno)); return; }
		int end = 0, count = 0;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			show(h, r->h.nlmsg_seq, pid);
			count++;
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) end = 1;
		}
		if (count == 0) printf("  an empty datagram\n");
		if (end || !(r->h.nlmsg_flags & NLM_F_DUMP)) return;
	}
	printf("  no end after 64 datagrams\n");
}

static void link_dump(int fd, const char *what, int master, const char *kind, int index) {
	struct req r;
	start(&r, RTM_GETLINK, NLM_F_DUMP | NLM_F_ACK, sizeof(struct ifinfomsg));
	((struct ifinfomsg *)NLMSG_DATA(&r.h))->ifi_index = index;
	if (master) put_attr(&r, IFLA_MASTER, &master, 4);
	if (kind) {
		char nest[64];
		struct rtattr *k = (struct rtattr *)nest;
		k->rta_type = IFLA_INFO_KIND; k->rta_len = RTA_LENGTH(strlen(kind));
		memcpy(RTA_DATA(k), kind, strlen(kind));
		put_attr(&r, IFLA_LINKINFO | NLA_F_NESTED, nest, RTA_ALIGN(k->rta_len));
	}
	ask(what, fd, &r, SEND, RECV);
}

static void addr_dump(int fd, const char *what, int family, int index, int prefixlen, enum rhow rh) {
	struct req r;
	start(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
	struct ifaddrmsg *a = NLMSG_DATA(&r.h);
	a->ifa_family = family; a->ifa_index = index; a->ifa_prefixlen = prefixlen;
	ask(what, fd, &r, SEND, rh);
}

static void route_dump(int fd, const char *what, int family, int table_hdr, int table_attr,
		       int type, int dst_len, enum how how, enum rhow rh) {
	struct req r;
	start(&r, RTM_GETROUTE, NLM_F_DUMP | NLM_F_ACK, sizeof(struct rtmsg));
	struct rtmsg *m = NLMSG_DATA(&r.h);
	m->rtm_family = family; m->rtm_table = table_hdr; m->rtm_type = type; m->rtm_dst_len = dst_len;
	if (table_attr) put_attr(&r, RTA_TABLE, &table_attr, 4);
	ask(what, fd, &r, how, rh);
}

static void options(void) {
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int v = 7, r;
	socklen_t l;
	for (int opt = NETLINK_EXT_ACK; opt <= NETLINK_GET_STRICT_CHK; opt++) {
		const char *nm = opt == NETLINK_EXT_ACK ? "EXT_ACK" : "STRICT_CHK";
		v = 7; l = sizeof v;
		r = getsockopt(fd, SOL_NETLINK, opt, &v, &l);
		printf("%s initially: %d %s value %d len %u\n", nm, r, r ? strerror(errno) : "", v, l);
		v = 5;
		r = setsockopt(fd, SOL_NETLINK, opt, &v, sizeof v);
		printf("%s set 5: %d %s\n", nm, r, r ? strerror(errno) : "");
		v = 7; l = 8;
		r = getsockopt(fd, SOL_NETLINK, opt, &v, &l);
		printf("%s read with room 8: %d %s value %d len %u\n", nm, r, r ? strerror(errno) : "", v, l);
		l = 3;
		r = getsockopt(fd, SOL_NETLINK, opt, &v, &l);
		printf("%s read with room 3: %d %s\n", nm, r, r ? strerror(errno) : "");
		r = getsockopt(fd, SOL_NETLINK, opt, &v, (socklen_t *)8);
		printf("%s read, bad length pointer: %d %s\n", nm, r, r ? strerror(errno) : "");
		r = setsockopt(fd, SOL_NETLINK, opt, (void *)8, sizeof v);
		printf("%s set, bad value pointer: %d %s\n", nm, r, r ? strerror(errno) : "");
		v = 1;
		r = setsockopt(fd, SOL_NETLINK, opt, &v, 2);
		printf("%s set with length 2: %d %s\n", nm, r, r ? strerror(errno) : "");
		v = 7; l = sizeof v;
		r = getsockopt(fd, SOL_NETLINK, opt, &v, &l);
		printf("%s after: %d %s value %d len %u\n", nm, r, r ? strerror(errno) : "", v, l);
		v = 0;
		r = setsockopt(fd, SOL_NETLINK, opt, &v, sizeof v);
		printf("%s set 0: %d %s\n", nm, r, r ? strerror(errno) : "");
	}
	close(fd);
}

int main(int argc, char **argv) {
	plain = argc > 1 && !strcmp(argv[1], "--plain");
	setvbuf(stdout, NULL, _IOLBF, 0);
	options();
	int fd = sock(1);
	int br0 = if_nametoindex("br0"), br1 = if_nametoindex("br1"), va = if_nametoindex("va");
	int vp = if_nametoindex("vp");
	link_dump(fd, "links of master br0", br0, NULL, 0);
	link_dump(fd, "links of master br1 (no ports: netavark's 'bridge unused')", br1, NULL, 0);
	link_dump(fd, "links without a master", -1, NULL, 0);
	link_dump(fd, "links of kind bridge", 0, "bridge", 0);
	link_dump(fd, "links of master br0 and kind veth", br0, "veth", 0);
	link_dump(fd, "invalid: link dump with an index", 0, NULL, vp);
	addr_dump(fd, "addresses of va, AF_UNSPEC", AF_UNSPEC, va, 0, RECV);
	addr_dump(fd, "addresses of br0, AF_INET (recvfrom)", AF_INET, br0, 0, RECVFROM);
	addr_dump(fd, "addresses of va, AF_INET6 (recvmsg)", AF_INET6, va, 0, RECVMSG);
	addr_dump(fd, "addresses of every device, AF_INET", AF_INET, 0, 0, RECV);
	addr_dump(fd, "invalid: addresses of a missing device", AF_UNSPEC, 9999, 0, RECV);
	addr_dump(fd, "invalid: address dump with a prefix length", AF_INET, 0, 24, RECV);
	/* netavark's dump_routes: AF_UNSPEC, table main, scope universe, type unicast, ACK. */
	route_dump(fd, "routes of main, unicast, AF_UNSPEC (netavark)", AF_UNSPEC, RT_TABLE_MAIN, 0,
		   RTN_UNICAST, 0, SEND, RECV);
	route_dump(fd, "routes of table 100 (RTA_TABLE), AF_INET (sendto)", AF_INET, 0, 100, 0, 0, SENDTO, RECV);
	route_dump(fd, "routes of table 100, AF_INET6", AF_INET6, 100, 0, 0, 0, SEND, RECVMSG);
	route_dump(fd, "invalid: routes of a missing table, AF_INET", AF_INET, 0, 200, 0, 0, SEND, RECV);
	route_dump(fd, "invalid: route dump with a destination length", AF_INET, 0, 0, 0, 8, SEND, RECV);

	/* A refused dump's answer read in pieces: peek with MSG_TRUNC, then a short buffer. */
	{
		struct req r;
		start(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
		((struct ifaddrmsg *)NLMSG_DATA(&r.h))->ifa_scope = 1;
		printf("invalid: address dump with a scope, read in pieces:\n  sent %zd\n", send(fd, &r, r.h.nlmsg_len, 0));
		char b[64];
		ssize_t n = recv(fd, b, 8, MSG_PEEK | MSG_TRUNC);
		printf("  peek 8 with MSG_TRUNC: %zd\n", n);
		n = recv(fd, b, 8, 0);
		printf("  read 8: %zd\n", n);
		int more = recv(fd, b, sizeof b, MSG_DONTWAIT);
		printf("  then: %d %s\n", more, more < 0 ? strerror(errno) : "data");
	}
	/* iproute2's way: sendmsg, then recvmsg with MSG_PEEK | MSG_TRUNC and no room to learn
	 * each datagram's length, then the datagram into two iovecs. */
	{
		struct req r;
		start(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
		((struct ifaddrmsg *)NLMSG_DATA(&r.h))->ifa_index = va;
		struct sockaddr_nl k = { .nl_family = AF_NETLINK };
		struct iovec siov = { &r, sizeof r }; /* the whole struct, padding included */
		struct msghdr sm = { .msg_name = &k, .msg_namelen = sizeof k, .msg_iov = &siov, .msg_iovlen = 1 };
		printf("addresses of va, iproute2's way:\n  sent %zd of %zu\n", sendmsg(fd, &sm, 0), sizeof r);
		static char a[64], b[8192];
		for (int round = 0; round < 8; round++) {
			struct iovec none = { NULL, 0 };
			struct msghdr pm = { .msg_iov = &none, .msg_iovlen = 1 };
			ssize_t full = recvmsg(fd, &pm, MSG_PEEK | MSG_TRUNC);
			struct iovec two[2] = { { a, sizeof a }, { b, sizeof b } };
			struct sockaddr_nl from;
			struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = two, .msg_iovlen = 2 };
			ssize_t n = recvmsg(fd, &m, 0);
			printf("  peeked %zd, read %zd, msg_flags %#x, from pid %u\n", full, n, m.msg_flags, from.nl_pid);
			if (n <= 0) break;
			static char all[8192 + 64];
			memcpy(all, a, sizeof a);
			memcpy(all + sizeof a, b, n > (ssize_t)sizeof a ? n - sizeof a : 0);
			int end = 0;
			for (struct nlmsghdr *h = (struct nlmsghdr *)all; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
				show(h, r.h.nlmsg_seq, portid(fd));
				if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) end = 1;
			}
			if (end) break;
		}
	}
	/* A refused request sent with sendmsg. */
	{
		struct req r;
		start(&r, RTM_GETROUTE, NLM_F_DUMP, sizeof(struct rtmsg));
		((struct rtmsg *)NLMSG_DATA(&r.h))->rtm_scope = 1;
		struct iovec siov = { &r, r.h.nlmsg_len };
		struct msghdr sm = { .msg_iov = &siov, .msg_iovlen = 1 };
		printf("invalid: route dump with a scope, sendmsg:\n  sent %zd\n", sendmsg(fd, &sm, 0));
		char b[64];
		ssize_t n = recv(fd, b, sizeof b, 0);
		if (n >= 16) show((struct nlmsghdr *)b, r.h.nlmsg_seq, portid(fd));
		else printf("  recv %zd\n", n);
	}
	/* A request that is not a dump is the kernel's business. */
	{
		struct req r;
		start(&r, RTM_GETLINK, 0, sizeof(struct ifinfomsg));
		((struct ifinfomsg *)NLMSG_DATA(&r.h))->ifi_index = br1;
		ask("not a dump: link br1", fd, &r, SEND, RECV);
	}
	close(fd);
	printf("# end\n");
	return 0;
}
