#!/usr/bin/env bash
# Installs what building and testing gvnet needs on a Debian 12 machine, as root. Idempotent:
# installs only what is missing. Called by `make demo` and `make test`.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
pkg_missing() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }

# debootstrap: the harness builds the sandbox's sid root filesystem with it.
# gcc + libc6-dev: the C conformance program and the static socket victim (libc.a).
# golang-go: the Go (cgo) conformance program, whose raw syscalls the seccomp path must catch.
# binutils: dpkg-deb/objdump used by tests; ca-certificates, gpgv, debian-archive-keyring: apt.
# golang-github-vishvananda-netlink-dev: the Go event subscriber (tests/conformance/events), built
# in GOPATH mode against /usr/share/gocode. iproute2 (ip) and util-linux (unshare): the event
# tests make their changes with ip in a fresh network namespace.
for p in debootstrap gcc libc6-dev golang-go binutils make debian-archive-keyring \
    golang-github-vishvananda-netlink-dev iproute2 util-linux; do
    if pkg_missing "$p"; then need+=("$p"); fi
done

if [ ${#need[@]} -gt 0 ]; then
    echo "deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Rust: the workspace needs Rust 1.85 or later (rust-version in Cargo.toml). A machine without a
# toolchain gets Debian trixie's rustc/cargo (1.85), pinned low so nothing else moves to trixie.
if ! have cargo && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! have cargo; then
    echo "deps: no cargo found; installing rustc and cargo from Debian trixie"
    cat > /etc/apt/sources.list.d/gvnet-trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    cat > /etc/apt/preferences.d/gvnet-trixie <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie rustc cargo >/dev/null
fi
if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
    if have rustup; then
        rustup component add clippy rustfmt >/dev/null
    else
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie rust-clippy rustfmt >/dev/null || true
    fi
fi
echo "deps: ok ($(cargo --version), $(go version 2>/dev/null | cut -d' ' -f3), debootstrap $(dpkg-query -W -f='${Version}' debootstrap))"
