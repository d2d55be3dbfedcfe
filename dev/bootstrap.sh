#!/bin/bash
# Prepare a fresh Debian 12 machine (as root): the Debian packages, a virtual environment with
# this checkout installed editable (with its test extra) at /opt/ocfpy, and agent entry scripts
# in /usr/lib/ocf/resource.d/ocfpy that run this checkout's code.
# Agents run under Debian's /usr/bin/python3, the interpreter a cluster node has (pyenv's lives
# under /root, which Pacemaker's and ocf-tester's unprivileged checks cannot read).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bootstrap: run as root (sudo)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
missing=$(grep -v '^#' dev/debian-packages | while read -r p; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
fi
VENV=${OCFPY_VENV:-/opt/ocfpy}
[ -x "$VENV/bin/python3" ] || /usr/bin/python3 -m venv "$VENV"
flock /tmp/ocfpy-install.lock sh -c "
  '$VENV/bin/pip' install -q --disable-pip-version-check -e '.[test]' &&
  '$VENV/bin/ocfpy-agents' install >/dev/null"
# The commands on PATH, as the RPM puts them in /usr/bin.
for command in ocfgen ocfpy-agents ocfpy-ducc-head-mode; do
  ln -sfn "$VENV/bin/$command" "/usr/local/bin/$command"
done
