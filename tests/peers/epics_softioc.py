"""A real EPICS soft IOC for the epics-ioc tests (pythonSoftIOC: the EPICS IOC core from
epicscorelibs, serving Channel Access), booted from an st.cmd the way procServ runs one.

Usage: python3 epics_softioc.py ST_CMD. The startup script is read at boot; of its lines only
epicsEnvSet("NAME", "VALUE") is acted on (the IOC's name comes from IOCNAME), the rest is
echoed, as an IOC shell would echo its commands. The IOC serves devIocStats' records
(<IOCNAME>:HEARTBEAT, :UPTIME, ...) and <IOCNAME>:PID, its process id, and runs the interactive
shell on its stdin, which is procServ's console: `exit()` there shuts the IOC down.
"""

import os
import re
import sys

SET_ENV = re.compile(r'^\s*epicsEnvSet\(\s*"([^"]+)"\s*,\s*"([^"]*)"\s*\)\s*$')


def boot(script):
    with open(script) as f:
        for line in f:
            print(line.rstrip(), flush=True)
            found = SET_ENV.match(line)
            if found:
                os.environ[found.group(1)] = found.group(2)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: epics_softioc.py ST_CMD")
    boot(sys.argv[1])
    name = os.environ.get("IOCNAME")
    if not name:
        sys.exit(f"{sys.argv[1]}: no epicsEnvSet(\"IOCNAME\", ...) line")

    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    builder.SetDeviceName(name)
    builder.aOut("SETPOINT", initial_value=0.0)
    # devIocStats' PROCESS_ID reads -1 in this build, so the pid is served by a record of ours.
    builder.longIn("PID", initial_value=os.getpid())
    softioc.devIocStats(name)
    builder.LoadDatabase()
    # pvAccess (QSRV) only when asked: IOC_PVA=YES in the environment.
    softioc.iocInit(dispatcher, enable_pva=os.environ.get("IOC_PVA") == "YES")
    print(f"IOC {name} running as pid {os.getpid()}", flush=True)
    softioc.interactive_ioc(globals())


if __name__ == "__main__":
    main()
