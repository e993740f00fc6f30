# gvnet: build, test and demo. Every target that needs packages installs them (scripts/deps.sh).
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

LIB     := target/release/libgvnet.so
HARNESS := target/release/gvnet-harness

.PHONY: all deps build lint unit stress fuzz check check-preload check-baseline check-setups test \
	bench demo down clean install uninstall

# `make install`: libgvnet.so, the gvnet command, gvnet-dockerd, a docker.service drop-in and
# the settings file it reads. PREFIX and DESTDIR as usual; NOBUILD=1 installs what is already
# built (no cargo). The drop-in and settings go under SYSCONFDIR (systemd does not read
# /usr/local/etc). Files: see docs/quickstart-gvisor.md.
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib/gvnet
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= $(SYSCONFDIR)/systemd/system
BUILD_DIR  ?= $(or $(CARGO_TARGET_DIR),target)/release
NOBUILD    ?=
INSTALLED  := $(BINDIR)/gvnet $(BINDIR)/gvnet-dockerd $(LIBDIR)/libgvnet.so \
	$(SYSTEMDDIR)/docker.service.d/gvnet.conf $(SYSCONFDIR)/default/gvnet
SUBST      := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@SYSTEMDDIR@|$(SYSTEMDDIR)|g'

all: build

deps:
	bash scripts/deps.sh

build: deps
	cargo build --release --workspace

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Unit tests of every crate and the conformance tests on the host kernel (C via libc, Go via the
# seccomp trap), each compared with Linux's own answers.
unit: build
	GVNET_SO=$(CURDIR)/$(LIB) cargo test --release --workspace

# Stress (interceptor/tests/stress.rs): 16 threads of trapped calls while others fork, exec and
# take signals, under GVNET_MODE=force; fails on a hang, a crash or a swallowed SIGSYS. `unit`
# runs it for 10 s; this target for STRESS_SECONDS (default 60).
STRESS_SECONDS ?= 60
stress: build
	GVNET_SO=$(CURDIR)/$(LIB) GVNET_STRESS_SECONDS=$(STRESS_SECONDS) cargo test --release -p gvnet --test stress -- --nocapture

# Fuzzing (fuzz/, cargo-fuzz on nightly; not part of test): every target in turn, FUZZ_SECONDS
# each (default 150: 4 targets = 10 minutes). Crashes land in fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 150
fuzz:
	cargo +nightly fuzz --help >/dev/null 2>&1 || cargo install cargo-fuzz
	cd fuzz && for t in $$(cargo +nightly fuzz list); do \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# The gVisor suite: a real dockerd in a real runsc sandbox, with the preload and without it.
# `make check` runs one gVisor: RUNSC (a runsc binary or an .xz of one; default Debian's, the
# testbed's) with the global runsc flags RUNSC_FLAGS, e.g.
#   make check RUNSC=../shared/gvisor/runsc-release-20260817.0-70.xz RUNSC_FLAGS="--allow-packet-socket-write"
# `make test` runs every setup (scripts/gvisor-suite.sh): Debian's runsc, then RUNSC (default
# ../shared/gvisor/runsc-release-20260817.0-70.xz) without and with --allow-packet-socket-write.
RUNSC       ?=
RUNSC_FLAGS ?=
RUNSC_ARGS  := $(if $(RUNSC),--runsc $(RUNSC)) $(foreach f,$(RUNSC_FLAGS),--runsc-flag=$(f))

check: check-preload check-baseline

check-preload: build
	$(HARNESS) testbed
	$(HARNESS) check $(RUNSC_ARGS)

check-baseline: build
	$(HARNESS) testbed
	$(HARNESS) check --no-preload $(RUNSC_ARGS)

check-setups: build
	$(HARNESS) testbed
	RUNSC='$(RUNSC)' HARNESS=$(HARNESS) bash scripts/gvisor-suite.sh

test: lint unit check-setups

# What gvnet costs, measured side by side (not part of test): prints a table and writes
# docs/performance.md. Counts are options of `gvnet-harness bench` (BENCH_ARGS).
bench: build
	$(HARNESS) testbed
	$(HARNESS) bench $(BENCH_ARGS)

# dockerd in gVisor under the preload; a container on the default bridge prints its address.
demo: build
	$(HARNESS) testbed
	@if [ -e $${GVNET_CACHE:-/var/cache/gvnet}/up.state ]; then $(HARNESS) down; fi
	$(HARNESS) up
	$(HARNESS) exec docker run --rm bb ip -4 addr show eth0
	@echo "dockerd keeps running in the sandbox: '$(HARNESS) exec docker ...' talks to it, '$(HARNESS) down' stops it."

down:
	$(HARNESS) down

install:
	@if [ -z "$(NOBUILD)" ]; then cargo build --release -p gvnet -p gvnet-cli; fi
	@for f in $(BUILD_DIR)/libgvnet.so $(BUILD_DIR)/gvnet; do \
		[ -f $$f ] || { echo "install: $$f is not built (cargo build --release)" >&2; exit 1; }; done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(SYSTEMDDIR)/docker.service.d $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 $(BUILD_DIR)/gvnet $(DESTDIR)$(BINDIR)/gvnet
	install -m 0755 tools/gvnet-dockerd $(DESTDIR)$(BINDIR)/gvnet-dockerd
	install -m 0644 $(BUILD_DIR)/libgvnet.so $(DESTDIR)$(LIBDIR)/libgvnet.so
	$(SUBST) tools/systemd/gvnet.conf.in >$(DESTDIR)$(SYSTEMDDIR)/docker.service.d/gvnet.conf
	$(SUBST) tools/default/gvnet.in >$(DESTDIR)$(SYSCONFDIR)/default/gvnet
	chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/docker.service.d/gvnet.conf $(DESTDIR)$(SYSCONFDIR)/default/gvnet
	@echo "installed; start dockerd with: $(BINDIR)/gvnet-dockerd   (or: systemctl daemon-reload; systemctl restart docker)"

# Removes exactly what install put there, and the directories it made if they are left empty.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SYSTEMDDIR)/docker.service.d 2>/dev/null

clean:
	cargo clean
