# The namespace nlsetlink.c runs in (interceptor/tests/setlink.rs sources it in a fresh
# `unshare -n`): lo down, a bridge br0, a veth pair va/vb, all down.
ip link add br0 type bridge
ip link add va type veth peer name vb
