"""The chassis_control command of a simulated BMC (ocfpy/testbed/bmc.py).

ipmi_sim runs it as `power.py SOCKET NODE get power` (print `power:0` or `power:1`) and
`power.py SOCKET NODE set power 0|1`; it passes the request to the cluster's power switch on
the Unix socket SOCKET and exits 0 when the switch did it. Executed with the Debian
interpreter (`python3 -I -S`), never imported; standard library only.
"""

import socket
import sys


def main(argv):
    if len(argv) < 4 or argv[3] != "power" or argv[2] not in ("get", "set"):
        print(f"usage: power.py SOCKET NODE get|set power [0|1], not {argv[1:]}",
              file=sys.stderr)
        return 2
    path, node, verb = argv[0], argv[1], argv[2]
    request = f"get {node}" if verb == "get" else f"set {node} {argv[4] if len(argv) > 4 else ''}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(path)
            conn.sendall((request.strip() + "\n").encode())
            answer = conn.makefile().readline().strip()
    except OSError as exc:
        print(f"power switch {path}: {exc}", file=sys.stderr)
        return 1
    if not answer.startswith("power:"):
        print(answer or "the power switch gave no answer", file=sys.stderr)
        return 1
    if verb == "get":
        print(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
