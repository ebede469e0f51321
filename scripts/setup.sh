#!/usr/bin/env bash
# One-time set-up on a fresh machine: system packages (when root) and a virtualenv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openvswitch-switch iproute2 iputils-ping iperf3 ethtool postgresql tcpdump)

if [ "$(id -u)" = 0 ]; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The packaged OVS service is not used: the lab starts its own daemons.
    systemctl disable --now openvswitch-switch >/dev/null 2>&1 || true
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v -E "^WARNING: (Location|Running pip)" || true
.venv/bin/python -c "import netweave" && echo "setup: ok (.venv ready)"
