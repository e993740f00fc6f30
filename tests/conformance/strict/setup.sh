# The namespace nlstrict.c runs in (interceptor/tests/strict.rs sources it in a fresh
# `unshare -n`): a bridge br0 with ports vp and vr, a bridge br1 without ports, veth pairs,
# IPv4 and IPv6 addresses, routes in tables main and 100.
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad
ip link set lo up
ip link add br0 type bridge
ip link add br1 type bridge
ip link add va type veth peer name vb
ip link add vp type veth peer name vq
ip link add vr type veth peer name vs
ip link set vp master br0
ip link set vr master br0
for l in br0 br1 va vb vp vq vr vs; do ip link set $l up; done
ip addr add 10.1.0.1/24 dev va
ip addr add 10.2.0.1/24 dev br0
ip addr add 10.3.0.1/24 dev vp
ip addr add fd00:1::1/64 dev va nodad
ip addr add fd00:2::1/64 dev br0 nodad
ip route add 10.9.0.0/16 via 10.1.0.2 proto static
ip route add blackhole 10.7.0.0/16
ip route add 10.8.0.0/16 dev br0 table 100 proto 99
ip route add 10.5.0.0/16 via 10.1.0.4 table 100
ip -6 route add fd00:9::/64 via fd00:1::2 proto static
ip -6 route add fd00:8::/64 dev br0 table 100
