#!/usr/bin/env bash
# Install every Debian package Weft needs to build, test, demo and benchmark.
# Idempotent and fast when everything is already there (checked with dpkg -s).
# Usage: scripts/install-deps.sh            (as root, or via sudo)
set -euo pipefail

PACKAGES=(
  # namespaces, veths, traffic
  iproute2 iputils-ping iputils-arping iperf3 netsniff-ng tcpdump tshark ethtool
  # iptables MASQUERADE and conntrack -C for benchmarks/e2e.sh -m nat
  iptables conntrack
  procps psmisc util-linux curl jq
  # C libraries the Swift targets link against
  libnl-3-dev libnl-route-3-dev libsqlite3-dev libpcap-dev
  # AF_XDP: libxdp (xsk sockets, the default redirect program) and libbpf; xdp-tools for xdp-loader status
  libxdp-dev libbpf-dev xdp-tools
  # peers for benchmarks/ (dpdk-testpmd lives in dpdk-dev on Debian 12)
  dpdk dpdk-dev openvswitch-switch
  # make bench: the report's plots
  gnuplot-nox
  # reference CNI plugins (host-local, tuning, bridge...; in /usr/lib/cni) for
  # weft-cni's delegated IPAM, chaining tests and benchmarks/cni.sh
  containernetworking-plugins
  # Tests/integration/libcni: a Go driver linking Debian's libcni (what runtimes link)
  golang-go golang-github-appc-cni-dev
  python3
)

# root runs apt directly; anyone else goes through sudo (which keeps DEBIAN_FRONTEND via env).
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo env DEBIAN_FRONTEND=noninteractive"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no, non-interactively.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

# pytest for Tests/integration, using whichever python3 is first on PATH.
if ! python3 -m pytest --version >/dev/null 2>&1; then
  echo "install-deps: installing pytest"
  python3 -m pip install --quiet pytest || {
    # Debian's own python3 refuses pip installs into the system (PEP 668); use the package.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-pytest
  }
fi
python3 -m pytest --version >/dev/null
echo "install-deps: ok"
