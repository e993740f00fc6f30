# bbcalls.sh: busybox applets that open netlink, packet, raw ICMP, inet and unix sockets.
#
# Run with `busybox sh bbcalls.sh` in a network namespace holding only `lo`. Every applet is
# called as `busybox APPLET` so that the same binary answers in a container of the bb image
# and directly in the sandbox. One line per step, `NAME: exit N[: output]`; output is shown
# only where it does not vary between runs (no times, counters or addresses that change).
# gvnet-harness's `descendants` scenario compares the transcript in a container below the
# gvnet-enabled dockerd with the transcript outside any container.

# out NAME CMD...: exit status and the first lines of the output
out() {
	n=$1
	shift
	o=$("$@" 2>&1)
	s=$?
	echo "$n: exit $s: $(printf '%s\n' "$o" | head -n 6 | tr '\n' '|')"
}

# st NAME CMD...: the exit status only
st() {
	n=$1
	shift
	"$@" >/dev/null 2>&1
	echo "$n: exit $?"
}

bb=busybox
out version sh -c "$bb | head -n 1 | cut -d' ' -f1,2"
out ip-link $bb ip -o link show
st ip-addr-add $bb ip addr add 192.0.2.1/24 dev lo
out ip-addr $bb ip -o -4 addr show dev lo
st ip6-addr-add $bb ip -6 addr add 2001:db8::1/64 dev lo
st ip-route-add $bb ip route add 198.51.100.0/24 dev lo
out ip-route $bb ip route show
st ip-dummy $bb ip link add gvdummy0 type dummy
st ip-link-mtu $bb ip link set lo mtu 65000
out ip-link-lo $bb ip -o link show lo
st ifconfig $bb ifconfig lo 127.0.0.1 up
st brctl-addbr $bb brctl addbr gvbr0
st ping $bb ping -c 1 -W 2 127.0.0.1
st ping6 $bb ping6 -c 1 -W 2 ::1
st arping $bb arping -c 1 -w 1 -I lo 127.0.0.1
st uevent $bb timeout 1 $bb uevent true

# TCP: httpd and wget on loopback
d=$($bb mktemp -d)
echo "hello over tcp" >"$d/hello"
$bb httpd -f -p 127.0.0.1:8088 -h "$d" &
h=$!
i=0
while [ $i -lt 20 ] && ! $bb netstat -ltn 2>/dev/null | $bb grep -q ':8088 '; do
	$bb sleep 0.1
	i=$((i + 1))
done
out wget $bb wget -q -T 3 -O- http://127.0.0.1:8088/hello
kill $h
wait $h 2>/dev/null
$bb rm -rf "$d"
out netstat-unix sh -c "$bb netstat -lx 2>&1 | $bb head -n 2"
echo end
