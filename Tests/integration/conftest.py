"""Fixtures for Weft integration tests.

- `node`: a fresh "node" network namespace + temp dir + weftd running inside it; torn down
  afterwards (weftd stopped, namespace deleted, temp dir removed), also when the test fails.
- `container`: factory `container(name)` -> Container (a namespace made with `ip netns add`),
  all deleted at teardown.
- `unique`: a short name unique to this test run.

Binaries come from $WEFT_BIN (default <repo>/.build/release). Needs root.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from weftlib import RUN_SUFFIX, WEFT_BIN, Container, Netns, Weftd, sanitizer_report, weft_binary  # noqa: E402

_counter = itertools.count(1)


def _unique(tag: str) -> str:
    return f"weft-it-{RUN_SUFFIX}-{next(_counter)}-{tag}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's report on the item so fixtures can tell whether the test failed.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def weft_bins() -> Path:
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (network namespaces, veths)")
    for b in ("weftd", "weftctl"):
        if not os.access(weft_binary(b), os.X_OK):
            pytest.fail(f"{weft_binary(b)} not found: run `make build` or set WEFT_BIN "
                        f"(currently {WEFT_BIN})")
    return WEFT_BIN


@pytest.fixture
def unique():
    return _unique


@pytest.fixture
def node(request, weft_bins):
    """weftd running in a fresh node namespace. Extra weftd args via @pytest.mark.weftd_args."""
    mark = request.node.get_closest_marker("weftd_args")
    extra = list(mark.args) if mark else []
    ns = Netns(_unique("node"))
    tmp = Path(tempfile.mkdtemp(prefix="weft-it-"))
    d = Weftd(ns, tmp, extra)
    try:
        d.start()
        yield d
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            sys.stderr.write(f"\n--- weftd log ({d.log_path}) ---\n{d.log_tail(80)}\n")
        d.stop()
        report = sanitizer_report(d.log_path)
        ns.delete()
        shutil.rmtree(tmp, ignore_errors=True)
        if report:
            pytest.fail(f"weftd's log holds a sanitizer report:\n{report}")


@pytest.fixture
def container():
    """Factory: container(name) -> Container in a fresh namespace (IPv6 off to keep it quiet)."""
    made: list[Netns] = []

    def make(name: str) -> Container:
        ns = Netns(_unique(name))
        made.append(ns)
        # No IPv6: router solicitations / MLD reports would refresh MAC tables and add
        # unexpected frames to captures.
        ns.run(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1"])
        return Container(ns, f"{name}-{RUN_SUFFIX}-{next(_counter)}")

    try:
        yield make
    finally:
        for ns in reversed(made):
            ns.delete()


def pytest_configure(config):
    config.addinivalue_line("markers", "weftd_args(*args): extra command-line args for weftd")
