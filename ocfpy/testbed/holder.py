"""The first process of a test node: run as pid 1 of the node's own pid namespace.

`unshare --net --mount --uts --ipc --pid --fork --kill-child --mount-proc` starts this file
with the Debian interpreter (`python3 -I -S holder.py SPEC`, SPEC a JSON object). It makes the
node's private file-system view (bind mounts over the directories corosync and pacemaker keep
state in, tmpfs on /run and /dev/shm), sets the hostname, brings loopback up, reports `ready`
on stdout and then reaps orphans until it is told to stop.

Being pid 1 of the namespace is what makes teardown total: when this process exits the kernel
kills every process left in the namespace (corosync, pacemaker, the agents' daemons) and the
mount namespace with its mounts disappears with the last of them. It reaps, so a killed service
never lingers as a zombie that an agent could mistake for a live process.

This file is executed, never imported; it uses only the standard library.
"""

import json
import os
import signal
import socket
import subprocess
import sys


def run(*argv):
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def prepare(spec):
    if spec.get("private_mounts", True):
        run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", "/run")
        os.makedirs("/run/lock", exist_ok=True)
        os.chmod("/run/lock", 0o1777)
        run("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm")
    for source, target in spec.get("binds", ()):
        run("mount", "--bind", source, target)
    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])
    run("ip", "link", "set", "lo", "up")
    for argv in spec.get("commands", ()):
        run(*argv)


def _stop(*_):
    raise SystemExit(0)


def main():
    spec = json.loads(sys.argv[1])
    # pid 1 of a namespace gets only the signals it has handlers for.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        prepare(spec)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"failed: {exc}", flush=True)
        return 1
    print("ready", flush=True)
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)
    # Orphans (daemons the agents detached) are re-parented to us: reap them as they die.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        signal.sigtimedwait({signal.SIGCHLD}, 5.0)


if __name__ == "__main__":
    sys.exit(main())
