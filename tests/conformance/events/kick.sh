#!/bin/sh
# kick.sh: does a change made by one process wake the event monitor of another, with polling off?
#
#   unshare -n sh kick.sh LIB MONITOR_KICK CHANGER
#
# Starts `ip monitor link` under LD_PRELOAD=LIB (GVNET_MODE=force) with GVNET_EVENT_IDLE_MS=0, so
# its monitor dumps only when kicked, and GVNET_EVENT_KICK=MONITOR_KICK (a file, or off). After
# 2 s (the monitor's fast cycles are long over) a veth pair gvk0/gvk1 is added by `ip`: under the
# same preload with the kick file $KICK_FILE when CHANGER is `preload`, without any preload when
# it is `plain`. Prints `seen` when ip monitor reported gvk0 within 3 s, else `not seen`, then
# what ip monitor printed on stderr. Needs ip, grep, sleep (fractions), mktemp.
lib=$1 monitor_kick=$2 changer=$3
out=$(mktemp)
LD_PRELOAD=$lib GVNET_MODE=force GVNET_EVENT_IDLE_MS=0 GVNET_EVENT_KICK=$monitor_kick \
    ip monitor link >"$out" 2>&1 &
mon=$!
sleep 2
case "$changer" in
preload) LD_PRELOAD=$lib GVNET_MODE=force GVNET_EVENT_KICK=$KICK_FILE \
    ip link add gvk0 type veth peer name gvk1 ;;
plain) ip link add gvk0 type veth peer name gvk1 ;;
*) echo "kick.sh: CHANGER is preload or plain" >&2; exit 2 ;;
esac || { echo "kick.sh: ip link add failed" >&2; exit 2; }
i=0
while [ $i -lt 30 ] && ! grep -q gvk0 "$out"; do
    sleep 0.1
    i=$((i + 1))
done
if grep -q gvk0 "$out"; then echo seen; else echo "not seen"; fi
kill "$mon"
cat "$out" >&2
rm -f "$out"
