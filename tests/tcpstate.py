"""What the kernel says about a local TCP port (/proc/net/tcp), for tests that must act only
once a client's request has reached a server that does not read it (a SIGSTOPped ORB)."""

import time

ESTABLISHED = "01"


def unread_requests(port):
    """How many established connections to 127.0.0.1:`port` hold bytes the server has not read."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if int(local.split(":")[1], 16) == port and state == ESTABLISHED \
                    and int(queues.split(":")[1], 16) > 0:
                count += 1
    return count


def wait_for_unread_request(port, seconds=10.0):
    """Wait until a request to `port` sits unread at the server; AssertionError if none came."""
    deadline = time.monotonic() + seconds
    while not unread_requests(port):
        assert time.monotonic() < deadline, f"no request reached port {port} in {seconds}s"
        time.sleep(0.02)
