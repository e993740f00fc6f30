/* nlcount: a known set of socket calls, then it stays alive until stdin closes, so that
 * `gvnet counters PID` can read from outside what libgvnet.so counted (interceptor/tests/counters.rs).
 *
 *   1. bind of a NETLINK_ROUTE socket with nl_groups = RTMGRP_LINK   (emulated under gvnet)
 *   2. setsockopt NETLINK_ADD_MEMBERSHIP RTNLGRP_IPV4_IFADDR          (emulated)
 *   3. getsockname of that socket                                     (emulated: groups filled in)
 *   4. bind of a UDP socket to 127.0.0.1:0                            (forwarded to libc untouched)
 *
 * Prints one line "ready bind=R1 add=R2 name=R3 groups=G udp=R4" after them. */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl a;
    memset(&a, 0, sizeof a);
    a.nl_family = AF_NETLINK;
    a.nl_groups = RTMGRP_LINK;
    int r1 = bind(nl, (struct sockaddr *)&a, sizeof a);
    int g = RTNLGRP_IPV4_IFADDR;
    int r2 = setsockopt(nl, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g);
    struct sockaddr_nl got;
    socklen_t len = sizeof got;
    memset(&got, 0, sizeof got);
    int r3 = getsockname(nl, (struct sockaddr *)&got, &len);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r4 = bind(u, (struct sockaddr *)&in, sizeof in);
    printf("ready bind=%d add=%d name=%d groups=%#x udp=%d\n", r1, r2, r3, got.nl_groups, r4);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
}
