#!/usr/bin/env bash
# Installs what sybilgraph needs, from nothing: a virtualenv with the package and its
# dependencies, and the Maven build of the local Neo4j 5.26 + OpenGDS 2.13 launcher.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "sybilgraph needs Python 3.11 or newer; '$PY' is $("$PY" --version 2>&1 || echo missing)." >&2
  echo "Install it, or name one: PYTHON=python3.11 bash $0" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> installing Python dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip
# constraints.txt pins every dependency (scripts/update-constraints.sh regenerates it).
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
echo "==> building the local Neo4j 5.26 + OpenGDS 2.13 launcher (Maven; first time downloads ~130 MB)"
.venv/bin/sybilgraph db build
