#!/usr/bin/env bash
# The test command: from a fresh clone, installs everything (venv, Python deps, the Maven
# build of the local Neo4j + GDS) and runs the whole suite against the real database, which
# the pytest session fixture starts on a free loopback port and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
if ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing docker-compose (Debian) to validate docker-compose.yml"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null 2>&1 \
    || echo "   (could not install docker-compose; the compose validation test will say so)"
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium (Debian): headless browser for the case-file, GraphiQL and Neo4j Browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "   (could not install chromium; those tests will skip and say so)"
fi
echo "==> running the test suite"
exec .venv/bin/python -m pytest "$@"
