#!/bin/bash
# The README's main job (as root on a fresh Debian 12): install what is needed, bring up a local
# three-node Pacemaker cluster in network namespaces, run an EPICS IOC and a status service on it
# through ocfpy, show crm_mon, run the failover drill, print the MTTR, tear everything down.
# Extra arguments go to the demo (--nodes 1 for a single-node cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo dev/demo.sh)" >&2; exit 1; }
dev/bootstrap.sh
# -I: the installed ocfpy, never the source tree in the current directory.
exec "${OCFPY_VENV:-/opt/ocfpy}/bin/python3" -I -m ocfpy.testbed.demo "$@"
