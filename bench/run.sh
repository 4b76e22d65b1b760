#!/usr/bin/env bash
# The one command: bench/run.sh [run|scale|profile] [options]; see bench/README.md and bench/run.sh --help.
# Installs the project with its bench extra into .venv (once), checks for wrk, then runs python -m bench.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,bench]'
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: apt-get install wrk" >&2; exit 1
  fi
fi
exec .venv/bin/python -m bench "$@"
