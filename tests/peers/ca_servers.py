"""Two independent Channel Access servers serving the same PVs, for tests/test_ca_client.py.

Usage: python3 ca_servers.py softioc|caproto DEVICE (PV names DEVICE:LONG, ...). `softioc` is
a real EPICS IOC (pythonSoftIOC: the IOC core and RSRV of EPICS base, via epicscorelibs);
`caproto` is caproto's pure-Python server. Both take their ports from EPICS_CA_SERVER_PORT and
EPICS_CAS_INTF_ADDR_LIST in the environment and print "ready" once they serve. The PVs, one
per native type, are listed in VALUES; BIG is an array whose reply needs the extended header.
"""

import sys

BIG = 20000  # doubles: 160000 bytes, past the 16-bit payload size
VALUES = {
    "LONG": 42,
    "DOUBLE": 2.5,
    "STRING": "hello, CA",
    "ENUM": 1,
    "SHORT": [-7, 8, 9],
    "FLOAT": [0.5, 1.5],
    "CHAR": [104, 105, 0],
}


def softioc_server(prefix):
    import os

    os.environ.setdefault("EPICS_CA_MAX_ARRAY_BYTES", str(8 * BIG + 4096))
    import numpy
    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    builder.SetDeviceName(prefix)
    builder.longIn("LONG", initial_value=VALUES["LONG"])
    builder.aIn("DOUBLE", initial_value=VALUES["DOUBLE"])
    builder.stringIn("STRING", initial_value=VALUES["STRING"])
    builder.mbbIn("ENUM", "zero", "one", "two", initial_value=VALUES["ENUM"])
    builder.WaveformIn("SHORT", numpy.array(VALUES["SHORT"], dtype=numpy.int16))
    builder.WaveformIn("FLOAT", numpy.array(VALUES["FLOAT"], dtype=numpy.float32))
    builder.WaveformIn("CHAR", numpy.array(VALUES["CHAR"], dtype=numpy.uint8))
    builder.WaveformIn("BIG", numpy.arange(BIG, dtype=numpy.float64))
    builder.LoadDatabase()
    softioc.iocInit(dispatcher, enable_pva=False)
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin


def caproto_server(prefix):
    from caproto import ChannelType
    from caproto.server import PVGroup, pvproperty, run

    class Types(PVGroup):
        long = pvproperty(name="LONG", value=VALUES["LONG"], dtype=ChannelType.LONG)
        double = pvproperty(name="DOUBLE", value=VALUES["DOUBLE"], dtype=ChannelType.DOUBLE)
        string = pvproperty(name="STRING", value=VALUES["STRING"], dtype=ChannelType.STRING)
        enum = pvproperty(name="ENUM", value="one", dtype=ChannelType.ENUM,
                          enum_strings=["zero", "one", "two"])
        short = pvproperty(name="SHORT", value=VALUES["SHORT"], dtype=ChannelType.INT)
        float = pvproperty(name="FLOAT", value=VALUES["FLOAT"], dtype=ChannelType.FLOAT)
        char = pvproperty(name="CHAR", value=VALUES["CHAR"], dtype=ChannelType.CHAR,
                          max_length=3)
        big = pvproperty(name="BIG", value=[float(i) for i in range(BIG)],
                         dtype=ChannelType.DOUBLE)

    group = Types(prefix=f"{prefix}:")

    async def started(*_):
        print("ready", flush=True)

    run(group.pvdb, startup_hook=started)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("softioc", "caproto"):
        sys.exit("usage: ca_servers.py softioc|caproto DEVICE")
    (softioc_server if sys.argv[1] == "softioc" else caproto_server)(sys.argv[2])
