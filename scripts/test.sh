#!/usr/bin/env bash
# The README's test command: set-up, lint, type-check, layering, unit tests on SQLite and
# PostgreSQL, and (as root) the integration tests on real Open vSwitch + namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== lint"; ruff check src tests bench
echo "== types"; mypy
echo "== layering"; lint-imports --no-cache
if command -v npm >/dev/null; then echo "== web UI: types, format"; (cd web && npm run --silent check); fi

pgdir=$(mktemp -d /tmp/netweave-pg.XXXXXX)
trap './scripts/pg.sh stop "$pgdir"' EXIT
if url=$(./scripts/pg.sh start "$pgdir"); then
    export NETWEAVE_TEST_PG=$url
    echo "== PostgreSQL at $url"
else
    echo "== PostgreSQL unavailable: its tests will be skipped"
fi

targets=(tests/unit)
if [ "$(id -u)" = 0 ]; then targets+=(tests/integration); fi
if [ -x /usr/bin/chromium ]; then targets+=(tests/e2e); fi  # the web UI in headless Chromium
echo "== tests: ${targets[*]}"
pytest -q -p no:cacheprovider "${targets[@]}" "$@"
