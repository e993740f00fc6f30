#!/bin/sh
# ipmon.sh: `ip monitor link address route` sees the changes made next to it.
#
# Run in a fresh network namespace: `unshare -n sh ipmon.sh`. It starts `ip monitor` (which
# subscribes with bind(nl_groups)), makes changes with `ip`, and checks that the line
# `ip monitor` prints for each appears within 3 s. Linux is the reference: the same script passes
# on the host kernel without any preload, and in gVisor with LD_PRELOAD=libgvnet.so (inherited
# by `ip monitor`). One line per check, as nlevents: `ok NAME`, `FAIL NAME: why`,
# `unsupported-here NAME: why` (the kernel refused the change with EOPNOTSUPP, or accepted it and
# `ip link` shows no change, so Linux would send no event either), then
# `# end: N ok, N failed, N unsupported`. Exit status 1 when any check failed.
# POSIX sh; needs ip, grep, sed, sleep (fractions), mktemp, unshare. IPMON_KEEP=FILE keeps a copy
# of what ip monitor printed.

n_ok=0 n_fail=0 n_unsup=0 misses=0
out=$(mktemp)
err=$(mktemp)
mon=$(mktemp)
mon_pid=
ns_pid=

finish() {
    [ -n "$mon_pid" ] && kill "$mon_pid" 2>/dev/null
    [ -n "$ns_pid" ] && kill "$ns_pid" 2>/dev/null
    echo "# end: $n_ok ok, $n_fail failed, $n_unsup unsupported"
    [ -n "${IPMON_KEEP:-}" ] && cp "$mon" "$IPMON_KEEP"
    rm -f "$out" "$err" "$mon"
    [ "$n_fail" -eq 0 ]
    exit $?
}

ok() { echo "ok $1"; n_ok=$((n_ok + 1)); }
fail() { echo "FAIL $1: $2"; n_fail=$((n_fail + 1)); }
unsupported() { echo "unsupported-here $1: $2"; n_unsup=$((n_unsup + 1)); }

# change NAME ARGS...: runs `ip ARGS`; 0 when done, else reported (unsupported or FAIL).
change() {
    name=$1
    shift
    if ip "$@" >"$err" 2>&1; then
        return 0
    fi
    text=$(tr '\n' ' ' <"$err")
    case "$text" in
    *"not supported"*) unsupported "$name" "\`ip $*\` refused: $text" ;;
    *) fail "$name" "\`ip $*\` failed: $text" ;;
    esac
    return 1
}

mark() { mark_lines=$(wc -l <"$mon"); }

# expect NAME WHAT REGEX [EXCLUDE]: a monitor line printed since the last mark matches REGEX
# (and not EXCLUDE) within 3 s.
expect() {
    name=$1 what=$2 re=$3 ex=${4:-}
    i=0
    while [ $i -lt 30 ]; do
        if [ -n "$ex" ]; then
            tail -n +$((mark_lines + 1)) "$mon" | grep -E -- "$re" | grep -Ev -- "$ex" >"$out"
        else
            tail -n +$((mark_lines + 1)) "$mon" | grep -E -- "$re" >"$out"
        fi
        if [ -s "$out" ]; then
            ok "$name"
            misses=0
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    fail "$name" "ip monitor printed no line for $what within 3 s ($(($(wc -l <"$mon") - mark_lines)) other lines)"
    misses=$((misses + 1))
    if [ $misses -ge 3 ]; then
        fail abort "3 expected lines in a row did not appear; stopping"
        finish
    fi
    return 1
}

# link_field NAME: the `ip -o link show` line of a link.
link_line() { ip -o link show "$1" 2>/dev/null; }
mtu_of() { link_line "$1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
is_up() { link_line "$1" | grep -Eq '^[0-9]+: [^:]+: <([^>]*,)?UP[,>]'; }

others=$(ip -o link show | grep -v ': lo:' | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | tr '\n' ' ')
if [ -n "$others" ]; then
    fail fresh-netns "links other than lo exist here ($others); run this in a new network namespace (unshare -n)"
    finish
fi
ip link set lo up

ip monitor link address route >"$mon" 2>&1 &
mon_pid=$!
sleep 0.5
if ! kill -0 "$mon_pid" 2>/dev/null; then
    fail monitor-start "ip monitor exited: $(tr '\n' ' ' <"$mon")"
    mon_pid=
    finish
fi
ok monitor-start

mark
change link-add link add ev0 type veth peer name ev1 || finish
expect link-add "RTM_NEWLINK ev0" '^[0-9]+: ev0[@:]'

mark
if change link-rename link set ev0 name evm; then
    expect link-rename "the renamed link evm" '^[0-9]+: evm[@:]'
fi
dev=evm
link_line evm >/dev/null || dev=ev0

before=$(mtu_of $dev)
mark
if change link-mtu link set $dev mtu 1400; then
    now=$(mtu_of $dev)
    if [ "$now" = "$before" ]; then
        unsupported link-mtu "\`ip link set $dev mtu 1400\` was accepted but ip link still shows mtu $now"
    else
        expect link-mtu "$dev with mtu $now" "^[0-9]+: $dev[@:].* mtu $now "
    fi
fi

mark
if change link-address link set $dev address 02:00:00:00:ee:01; then
    if link_line $dev | grep -q 'link/ether 02:00:00:00:ee:01'; then
        expect link-address "the new link address" 'link/ether 02:00:00:00:ee:01'
    else
        unsupported link-address "\`ip link set $dev address 02:00:00:00:ee:01\` was accepted but ip link shows no change"
    fi
fi

was_up=0
is_up $dev && was_up=1
mark
if change link-up link set $dev up; then
    if [ $was_up = 1 ]; then
        unsupported link-up "$dev was already UP before \`ip link set $dev up\`"
    elif is_up $dev; then
        expect link-up "$dev UP" "^[0-9]+: $dev(@[^:]*)?: <([^>]*,)?UP[,>]"
    else
        unsupported link-up "\`ip link set $dev up\` was accepted but ip link does not show UP"
    fi
fi
mark
if change link-down link set $dev down; then
    if is_up $dev; then
        unsupported link-down "\`ip link set $dev down\` was accepted but ip link still shows UP"
    else
        expect link-down "$dev without UP" "^[0-9]+: $dev(@[^:]*)?: <" '[<,]UP[,>]'
    fi
fi
ip link set $dev up
ip link set ev1 up

mark
change addr4-add addr add 10.77.0.1/24 dev $dev &&
    expect addr4-add "inet 10.77.0.1/24" '^[0-9]+: .*inet 10\.77\.0\.1/24'
mark
change addr6-add -6 addr add fd77::1/64 dev $dev nodad &&
    expect addr6-add "inet6 fd77::1/64" '^[0-9]+: .*inet6 fd77::1/64'
mark
change route4-add route add 10.78.0.0/24 via 10.77.0.2 dev $dev &&
    expect route4-add "10.78.0.0/24 via 10.77.0.2" '^10\.78\.0\.0/24 via 10\.77\.0\.2'
mark
change route4-del route del 10.78.0.0/24 &&
    expect route4-del "Deleted 10.78.0.0/24" '^Deleted 10\.78\.0\.0/24'
mark
change addr4-del addr del 10.77.0.1/24 dev $dev &&
    expect addr4-del "Deleted inet 10.77.0.1/24" '^Deleted [0-9]+: .*inet 10\.77\.0\.1/24'
mark
change addr6-del -6 addr del fd77::1/64 dev $dev &&
    expect addr6-del "Deleted inet6 fd77::1/64" '^Deleted [0-9]+: .*inet6 fd77::1/64'

# netns move: the link leaves this namespace (RTM_DELLINK here)
unshare -n sleep 60 &
ns_pid=$!
sleep 0.2
mark
change netns-link-add link add evn0 type veth peer name evn1 &&
    expect netns-link-add "RTM_NEWLINK evn1" '^[0-9]+: evn1[@:]'
mark
if change netns-out link set evn1 netns $ns_pid; then
    if link_line evn1 >/dev/null; then
        unsupported netns-out "\`ip link set evn1 netns $ns_pid\` was accepted but evn1 is still here"
    else
        expect netns-out "Deleted evn1" '^Deleted [0-9]+: evn1[@:]'
    fi
fi

mark
change link-del link del $dev &&
    expect link-del "Deleted $dev" "^Deleted [0-9]+: $dev[@:]"

finish
