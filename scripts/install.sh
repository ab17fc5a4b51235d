#!/usr/bin/env bash
# Installs what sybilgraph needs, from nothing: a virtualenv with the package and its
# dependencies, and the Maven build of the local Neo4j 5.26 + OpenGDS 2.13 launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> installing Python dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
# constraints.txt pins every dependency (scripts/update-constraints.sh regenerates it).
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
echo "==> building the local Neo4j 5.26 + OpenGDS 2.13 launcher (Maven; first time downloads ~130 MB)"
.venv/bin/python -c "from sybilgraph.settings import Settings; from sybilgraph.db.launcher import LocalNeo4j; LocalNeo4j(Settings()).build()"
