#!/usr/bin/env bash
# One-time set-up on a fresh machine: system packages (when root) and a virtualenv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openvswitch-switch iproute2 iputils-ping iperf3 ethtool postgresql tcpdump chromium mininet prometheus)

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

# The web UI: web/ built into src/netweave/web/static/ (Node.js >= 20 and npm).
if command -v npm >/dev/null; then
    (
        cd web
        [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
        npm run --silent build -- --logLevel warn
    ) || { echo "setup: the web UI did not build"; exit 1; }
else
    echo "setup: no npm: the web UI is not built (netweave serve says so at /)"
fi
.venv/bin/python -c "import netweave" && echo "setup: ok (.venv ready)"
