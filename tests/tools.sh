#!/usr/bin/env bash
# Interoperability test tools, from PyPI, each in a venv of its own under .venv (their pins clash with
# the project's: openapi-python-client and datacontract-cli cap typer, httpx and duckdb below ours).
#   tests/tools.sh                  # both
#   tests/tools.sh openapi-client   # .venv/openapi-client/bin/openapi-python-client
#   tests/tools.sh datacontract     # .venv/datacontract/bin/datacontract
# VENVS=<dir> puts the venvs elsewhere; PYTHON=<python3.11+> picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
VENVS=${VENVS:-.venv}
PYTHON=${PYTHON:-python3}

tool() {  # tool <venv name> <executable> <requirement>...
  local dir="$VENVS/$1" exe=$2
  shift 2
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  [ -x "$dir/bin/$exe" ] || "$dir/bin/python" -m pip install -q "$@"
  "$dir/bin/$exe" --version
}

case "${1:-all}" in
  openapi-client | all) tool openapi-client openapi-python-client 'openapi-python-client>=0.29,<0.30' ;;&
  datacontract | all) tool datacontract datacontract 'datacontract-cli[duckdb,postgres]>=1.2,<1.3' ;;
  openapi-client) ;;
  *) echo "usage: $0 [openapi-client|datacontract|all]" >&2; exit 2 ;;
esac
