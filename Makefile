# Weft top-level targets. One build configuration (release + testability) serves the
# binaries, the Swift unit tests, the integration tests, the demo and the benchmarks.
SHELL       := /bin/bash
SWIFT       ?= swift
PYTHON      ?= python3
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
export WEFT_BIN ?= $(CURDIR)/.build/release

.PHONY: all deps build test unit-test integration-test demo bench clean

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

bench: build
	benchmarks/e2e.sh

clean:
	rm -rf .build .pytest_cache Tests/integration/__pycache__
