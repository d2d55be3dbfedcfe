"""A small real service for the daemon agent's tests (not a mock: it is a process that runs).

--record FILE      write argv (JSON) to FILE first, to show what the agent passed
--ignore-term      ignore SIGTERM, so only SIGKILL stops it
--child            fork a child that stays in the session (and also ignores SIGTERM if asked)
--exit-after S:N   exit with status N after S seconds
"""

import json
import os
import signal
import sys
import time


def main(argv):
    args = argv[1:]
    if "--record" in args:
        with open(args[args.index("--record") + 1], "w") as f:
            json.dump({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                       "uid": os.getuid(), "umask": os.umask(0)}, f)
    if "--ignore-term" in args:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "--child" in args and os.fork() == 0:
        while True:
            time.sleep(1)
    if any(a.startswith("--exit-after") for a in args):
        spec = args[[i for i, a in enumerate(args) if a.startswith("--exit-after")][0] + 1]
        seconds, status = spec.split(":")
        time.sleep(float(seconds))
        sys.exit(int(status))
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv)
