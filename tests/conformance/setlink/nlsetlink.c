/* RTM_SETLINK as netavark sends it (netlink-packet-route over libc send, flags
 * NLM_F_REQUEST|ACK|EXCL|CREATE), and variants, on the host kernel. interceptor/tests/setlink.rs
 * runs it in a fresh network namespace (setup.sh) without the library and under
 * GVNET_MODE=force: every line but the `echo` lines must be the same. `echo` lines show the flags
 * of the header the kernel's ack echoes, which is the request the kernel got: gvnet sends a copy
 * without NLM_F_CREATE|EXCL|REPLACE. `buffer` lines check that the caller's request is unchanged
 * after the send. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;
static unsigned seq = 100;

struct req {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[64];
};

static void attr(struct req *r, unsigned short type, const void *data, unsigned short len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void init(struct req *r, unsigned short flags, int index, unsigned up)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r->h.nlmsg_type = RTM_SETLINK;
	r->h.nlmsg_flags = flags;
	r->h.nlmsg_seq = ++seq;
	r->i.ifi_family = AF_UNSPEC;
	r->i.ifi_index = index;
	r->i.ifi_flags = up;
	r->i.ifi_change = up;
}

/* Sends `r` with send (how = 0) or sendto to the kernel (how = 1), reads the ack, prints it. */
static void run(const char *what, struct req *r, int how)
{
	struct req saved;
	char buf[8192];
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	ssize_t n;
	memcpy(&saved, r, sizeof(saved));
	if (how == 0)
		n = send(fd, r, r->h.nlmsg_len, 0);
	else
		n = sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k));
	printf("%s: %s %zd", what, how ? "sendto" : "send", n);
	if (n < 0)
		printf(" errno %d", errno);
	printf("\n");
	printf("%s: buffer %s\n", what, memcmp(&saved, r, sizeof(saved)) ? "CHANGED" : "unchanged");
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		printf("%s: recv %zd errno %d\n", what, n, errno);
		return;
	}
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	struct nlmsgerr *e = NLMSG_DATA(h);
	printf("%s: ack type %u seq %s error %d, echoed type %u seq %s\n", what, h->nlmsg_type,
	       h->nlmsg_seq == r->h.nlmsg_seq ? "ok" : "WRONG", e->error, e->msg.nlmsg_type,
	       e->msg.nlmsg_seq == r->h.nlmsg_seq ? "ok" : "WRONG");
	printf("echo %s: flags 0x%x\n", what, e->msg.nlmsg_flags);
}

static void show(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		printf("link %s: absent (errno %d)\n", name, errno);
		close(s);
		return;
	}
	int up = ifr.ifr_flags & IFF_UP;
	ioctl(s, SIOCGIFMTU, &ifr);
	printf("link %s: %s mtu %d\n", name, up ? "up" : "down", ifr.ifr_mtu);
	close(s);
}

int main(void)
{
	const unsigned short netavark = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
	struct req r;
	int va = if_nametoindex("va"), vb = if_nametoindex("vb"), br = if_nametoindex("br0");
	setvbuf(stdout, NULL, _IONBF, 0);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	/* netavark's Socket::new: socket, NETLINK_GET_STRICT_CHK, bind to nl_pid 0 (the bind is
	 * what makes a process that waits for gvnet's decision decide). */
	struct sockaddr_nl any = {.nl_family = AF_NETLINK};
	if (fd < 0 || bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 || !va || !vb || !br) {
		printf("setup failed\n");
		return 1;
	}
	show("lo");
	show("va");

	init(&r, netavark, 0, IFF_UP);
	attr(&r, IFLA_IFNAME, "lo", 3);
	run("lo up by name", &r, 0);

	init(&r, netavark, va, IFF_UP);
	run("va up by index", &r, 0);

	init(&r, netavark, vb, 0);
	attr(&r, IFLA_MASTER, &br, 4);
	run("vb master br0", &r, 1);

	unsigned mtu = 1400;
	init(&r, netavark, va, 0);
	attr(&r, IFLA_MTU, &mtu, 4);
	run("va mtu 1400", &r, 0);

	init(&r, netavark, vb, 0);
	attr(&r, IFLA_IFNAME, "vc", 3);
	run("vb renamed vc", &r, 1);

	init(&r, netavark, 0, IFF_UP);
	attr(&r, IFLA_IFNAME, "nosuch0", 8);
	run("missing name", &r, 0);

	init(&r, netavark, 9999, IFF_UP);
	run("missing index", &r, 0);

	init(&r, NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE, va, 0);
	run("va replace", &r, 0);

	init(&r, NLM_F_REQUEST | NLM_F_ACK, va, 0);
	run("va plain", &r, 1);

	/* Not a setlink: an RTM_NEWLINK for an existing device with EXCL is EEXIST everywhere. */
	init(&r, netavark, va, 0);
	r.h.nlmsg_type = RTM_NEWLINK;
	run("va newlink excl", &r, 0);

	show("lo");
	show("va");
	show("vb");
	show("vc");
	return 0;
}
