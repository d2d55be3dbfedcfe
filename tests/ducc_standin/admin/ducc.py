#!/usr/bin/python3
"""STAND-IN for DUCC's admin/ducc.py (not DUCC): ducc.py -c COMPONENT [-b] [--nodup].

Starts the component's stand-in daemon (../daemon.py) with DUCC's command-line marks; see
../README.md. DUCC_HOME is the directory above the admin directory this script is called from.
"""
import os
import subprocess
import sys
import time

MARKS = {
    "broker": ["-DDUCC_BROKER_CREDENTIALS_FILE={home}/resources.private/ducc-broker-credentials"],
    "or": ["-Dducc.deploy.components=orchestrator"],
    "rm": ["-Dducc.deploy.components=rm"],
    "pm": ["-Dducc.deploy.components=pm"],
    "sm": ["-Dducc.deploy.components=sm"],
    "ws": ["-Dducc.deploy.components=ws"],
    "ag": ["-Dducc.deploy.components=agent"],
    "db": ["org.apache.cassandra.service.CassandraDaemon"],
}


def main(argv):
    home = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
    component, background, nodup = None, False, False
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "-c" and words:
            component = words.pop(0)
        elif word == "-b":
            background = True
        elif word == "--nodup":
            nodup = True
        else:
            print(f"ducc.py: unknown argument {word}", file=sys.stderr)
            return 1
    if component not in MARKS:
        print(f"ducc.py: unknown component {component!r}", file=sys.stderr)
        return 1
    marks = [m.format(home=home) for m in MARKS[component]]
    argv = [sys.executable, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..",
                                         "daemon.py"), f"-DDUCC_HOME={home}", *marks]
    if nodup and already_running(home, marks):
        print(f"ducc.py: {component} is already running from {home}", file=sys.stderr)
        return 1
    os.makedirs(os.path.join(home, "logs"), exist_ok=True)
    with open(os.path.join(home, "logs", f"{component}.log"), "ab") as log:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=background)
    if not background:
        return child.wait()
    time.sleep(0.2)
    if child.poll() is not None:
        print(f"ducc.py: {component} exited with {child.returncode}", file=sys.stderr)
        return 1
    print(f"ducc.py: started {component} as pid {child.pid}")
    return 0


def already_running(home, marks):
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if f"-DDUCC_HOME={home}" in args and all(m in args for m in marks):
            return True
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
