"""The demo's EPICS soft IOC (pythonSoftIOC: the EPICS IOC core, serving Channel Access).

Run by the epics-ioc agent as `python3 demo_ioc.py ST_CMD` under procServ. Of the startup script
it acts on epicsEnvSet("IOCNAME", "...") and echoes every line, as an IOC shell does. It serves
devIocStats' records (<IOCNAME>:HEARTBEAT counts once a second) and a setpoint, then runs the
interactive shell on procServ's console, where `exit()` stops it.
"""

import re
import sys

IOCNAME = re.compile(r'^\s*epicsEnvSet\(\s*"IOCNAME"\s*,\s*"([^"]+)"\s*\)')


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: demo_ioc.py ST_CMD")
    name = None
    with open(sys.argv[1]) as script:
        for line in script:
            print(line.rstrip(), flush=True)
            found = IOCNAME.match(line)
            name = found.group(1) if found else name
    if not name:
        sys.exit(f"{sys.argv[1]}: no epicsEnvSet(\"IOCNAME\", ...) line")

    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    builder.SetDeviceName(name)
    builder.aOut("SETPOINT", initial_value=0.0)
    softioc.devIocStats(name)
    builder.LoadDatabase()
    softioc.iocInit(dispatcher, enable_pva=False)
    softioc.interactive_ioc(globals())


if __name__ == "__main__":
    main()
