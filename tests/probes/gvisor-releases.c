/* What the kernel answers to each call gvnet cares about (docs/gvisor-releases.md).
 * Not part of the suite. Build: gcc -static -O1 -o probe gvisor-releases.c
 * Run:   runsc --root=DIR --network=none --net-raw [--allow-packet-socket-write] do ./probe
 * (runsc 20240729: --TESTONLY-allow-packet-endpoint-write). As root; on Linux for reference.
 * The packet sends use an unbound socket and sll_ifindex 0 or 9999: no frame can leave. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
static const char *e(long r){ static char b[64]; if(r>=0){snprintf(b,sizeof b,"ok(%ld)",r);return b;} snprintf(b,sizeof b,"%s", strerrorname_np(errno)); return b; }
static int nl(void){ return socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE); }
static struct sockaddr_nl sa(unsigned g){ struct sockaddr_nl a; memset(&a,0,sizeof a); a.nl_family=AF_NETLINK; a.nl_groups=g; return a; }
int main(void){
  unsigned gs[]={RTMGRP_LINK,RTMGRP_NEIGH,RTMGRP_IPV4_IFADDR,RTMGRP_IPV4_ROUTE,RTMGRP_IPV6_IFADDR,RTMGRP_IPV6_ROUTE,RTMGRP_LINK|RTMGRP_IPV4_IFADDR};
  for(unsigned i=0;i<sizeof gs/sizeof*gs;i++){ int f=nl(); struct sockaddr_nl a=sa(gs[i]); printf("bind groups=0x%x: %s\n",gs[i],e(bind(f,(void*)&a,sizeof a))); close(f);}
  int grp[]={RTNLGRP_LINK,RTNLGRP_NEIGH,RTNLGRP_IPV4_IFADDR,RTNLGRP_IPV4_ROUTE,RTNLGRP_IPV6_IFADDR,RTNLGRP_IPV6_ROUTE,0,65};
  for(unsigned i=0;i<sizeof grp/sizeof*grp;i++){ int f=nl(); printf("ADD_MEMBERSHIP %d: %s\n",grp[i],e(setsockopt(f,SOL_NETLINK,NETLINK_ADD_MEMBERSHIP,&grp[i],4))); printf("DROP_MEMBERSHIP %d: %s\n",grp[i],e(setsockopt(f,SOL_NETLINK,NETLINK_DROP_MEMBERSHIP,&grp[i],4))); close(f);}
  { int f=nl(); int g=1; setsockopt(f,SOL_NETLINK,NETLINK_ADD_MEMBERSHIP,&g,4); unsigned long long m=0; socklen_t l=8; long r=getsockopt(f,SOL_NETLINK,NETLINK_LIST_MEMBERSHIPS,&m,&l); printf("LIST_MEMBERSHIPS after ADD 1: %s len=%u val=0x%llx\n",e(r),l,m); close(f);}
  { int f=nl(); struct sockaddr_nl a=sa(RTMGRP_LINK); long r=bind(f,(void*)&a,sizeof a); struct sockaddr_nl b; socklen_t l=sizeof b; memset(&b,0,sizeof b); long r2=getsockname(f,(void*)&b,&l); printf("getsockname after bind LINK (bind %ld): %s nl_groups=0x%x\n",r,e(r2),b.nl_groups); close(f);}
  for(int i=0;i<2;i++){ unsigned g=i?RTMGRP_IPV4_IFADDR:RTMGRP_LINK; int f=nl(); struct sockaddr_nl a=sa(g); printf("connect groups=0x%x: %s\n",g,e(connect(f,(void*)&a,sizeof a))); close(f);}
  for(int i=0;i<2;i++){ unsigned g=i?RTMGRP_IPV4_IFADDR:RTMGRP_LINK; int f=nl(); struct sockaddr_nl a=sa(g); struct nlmsghdr h; memset(&h,0,sizeof h); h.nlmsg_len=16; h.nlmsg_type=NLMSG_NOOP; printf("sendto NOOP groups=0x%x: %s\n",g,e(sendto(f,&h,16,MSG_DONTWAIT,(void*)&a,sizeof a))); close(f);}
  { int f=nl(); int one=1; printf("setsockopt GET_STRICT_CHK: %s\n",e(setsockopt(f,SOL_NETLINK,NETLINK_GET_STRICT_CHK,&one,4))); printf("setsockopt EXT_ACK: %s\n",e(setsockopt(f,SOL_NETLINK,NETLINK_EXT_ACK,&one,4))); printf("setsockopt NO_ENOBUFS: %s\n",e(setsockopt(f,SOL_NETLINK,NETLINK_NO_ENOBUFS,&one,4))); close(f);}
  int p=socket(AF_PACKET,SOCK_RAW|SOCK_CLOEXEC,htons(ETH_P_ARP)); printf("packet socket: %s\n",e(p));
  if(p>=0){ char fr[42]={0}; struct { int ifi; int halen; socklen_t len; } c[]={{0,6,20},{0,0,20},{0,6,12},{9999,6,20}};
    for(unsigned i=0;i<4;i++){ struct sockaddr_ll ll; memset(&ll,0,sizeof ll); ll.sll_family=AF_PACKET; ll.sll_protocol=htons(ETH_P_ARP); ll.sll_ifindex=c[i].ifi; ll.sll_halen=c[i].halen; printf("packet sendto ifindex=%d halen=%d addrlen=%u: %s\n",c[i].ifi,c[i].halen,c[i].len,e(sendto(p,fr,sizeof fr,0,(void*)&ll,c[i].len))); } }
  const char *ps[]={"/proc/sys/net/ipv6","/proc/sys/net/ipv6/conf","/proc/sys/net/ipv6/conf/all/disable_ipv6","/proc/sys/net/ipv6/conf/lo/disable_ipv6","/proc"};
  for(unsigned i=0;i<5;i++){ struct stat st; long r=stat(ps[i],&st); printf("stat %s: %s ino=%lu\n",ps[i],e(r),r==0?(unsigned long)st.st_ino:0UL);}
  { int f=open("/proc/self/ns/pid",O_RDONLY); printf("setns(own pid ns, CLONE_NEWPID): %s\n",e(setns(f,CLONE_NEWPID))); }
  return 0; }
