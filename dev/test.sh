#!/bin/bash
# The test command: bootstrap this machine, then run the whole suite (extra args go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
dev/bootstrap.sh
# pytest, not "python -m pytest": the latter puts the source tree first on sys.path, where
# ocfpy.agents (mapped from agents/ at install time) does not exist.
exec "${OCFPY_VENV:-/opt/ocfpy}/bin/pytest" "$@"
