#!/bin/bash
# While developing: put the working tree's code into /opt/ocfpy and refresh the agent scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${OCFPY_VENV:-/opt/ocfpy}
flock /tmp/ocfpy-install.lock sh -c "
  '$VENV/bin/pip' install -q --disable-pip-version-check --no-deps --force-reinstall . &&
  '$VENV/bin/ocfpy-agents' install >/dev/null"
