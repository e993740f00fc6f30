# iproute2 (which turns NETLINK_GET_STRICT_CHK and NETLINK_EXT_ACK on and filters in the
# kernel where it can) in the namespace of setup.sh; $PRE runs each `ip` under the library or
# is empty. interceptor/tests/strict.rs compares the output with and without it.
set +e
run() { "$@" 2>&1; echo "rc=$?"; }
run $PRE ip -o link show master br0 | awk '{print $1, $2}'
run $PRE ip -o link show master br1
run $PRE ip -o link show type bridge | awk '{print $2}'
run $PRE ip -o addr show dev va | awk '{print $2, $3, $4}' | grep -v fe80
run $PRE ip -o -4 addr show | awk '{print $2, $3, $4}'
run $PRE ip route show table 100
run $PRE ip -6 route show table 100
run $PRE ip route show table 200
echo "# ip end"
