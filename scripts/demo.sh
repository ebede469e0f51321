#!/usr/bin/env bash
# The README's main command: set-up, then the controller with a demo network.
# As root the network is real (Open vSwitch + namespaces); otherwise it is emulated.
# Extra arguments go to `netweave demo` (see `netweave demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/netweave demo "$@"
