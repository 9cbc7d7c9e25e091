# Weft top-level targets. One build configuration (release + testability) serves the
# binaries, the Swift unit tests, the integration tests, the demo and the benchmarks.
SHELL       := /bin/bash
SWIFT       ?= swift
PYTHON      ?= python3
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
export WEFT_BIN ?= $(CURDIR)/.build/release
# make install: the CNI plugin where runtimes look for it (DESTDIR for packaging).
CNI_BIN_DIR  ?= /opt/cni/bin
CNI_CONF_DIR ?= /etc/cni/net.d

.PHONY: all deps build test unit-test integration-test demo bench bench-tcp install clean fuzz test-asan test-tsan soak

all: build

deps:
	scripts/install-deps.sh

build:
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests

unit-test:
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build

integration-test:
	$(PYTHON) -m pytest -v Tests/integration

test: deps build
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build
	$(PYTHON) -m pytest -v Tests/integration

demo: deps build
	scripts/demo.sh

# The whole comparison (graph scenarios, sweeps, e2e vs peers with NDR and latency) and a
# report with plots in benchmarks/results/; about 20 minutes on 2 cores.
bench: deps build
	benchmarks/bench.sh

# Bulk TCP pod to pod only (part of make bench): iperf3 through the Linux bridge (TSO on and off)
# and weftd af-packet / af-xdp / tap, medians of 5 runs; about 5 minutes.
bench-tcp: deps build
	$(PYTHON) benchmarks/tcp.py

# weft-cni as CNI type "weft", and its network configuration (an existing
# conflist is kept: it may have been edited).
install: build
	install -D -m 0755 .build/release/weft-cni $(DESTDIR)$(CNI_BIN_DIR)/weft
	if [ -e $(DESTDIR)$(CNI_CONF_DIR)/10-weft.conflist ]; then \
		echo "install: keeping existing $(DESTDIR)$(CNI_CONF_DIR)/10-weft.conflist"; \
	else \
		install -D -m 0644 configs/10-weft.conflist $(DESTDIR)$(CNI_CONF_DIR)/10-weft.conflist; \
	fi

# libFuzzer targets with AddressSanitizer (docs/fuzzing.md), built apart in .build-fuzz:
# FUZZ_SECONDS per target, FUZZ_TARGETS a subset of: packet api cni pcap.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

# Everything built with AddressSanitizer / ThreadSanitizer (.build-asan, .build-tsan), then the
# unit tests and the integration tests against those binaries (docs/sanitizers.md).
test-asan:
	scripts/sanitize.sh address

test-tsan:
	scripts/sanitize.sh thread

# 30 minutes of mixed traffic, attach/detach churn every second, weftd restarted every
# 5 minutes: loss outside restart windows, memory, leaks (benchmarks/soak.py).
SOAK_MINUTES ?= 30
soak: deps build
	$(PYTHON) benchmarks/soak.py --minutes $(SOAK_MINUTES)

clean:
	rm -rf .build .pytest_cache Tests/integration/__pycache__
