"""ocfpy-ioc: the EPICS operator's daily commands for IOCs that Pacemaker runs on any node.

    ocfpy-ioc list                 every ocf:ocfpy:epics-ioc resource: IOC name, node, state,
                                   console, last failure (crm_mon XML and the CIB)
    ocfpy-ioc attach NAME          the procServ console of the node that runs it, read-only
                                   (--write to type into it; --for SECONDS to detach by itself)
    ocfpy-ioc log NAME             its console log (the agent's logfile) from that node

NAME is the resource id or the IOC name. Cluster queries run here (a cluster node) or, with
--via NODE, on that node through the runner. A console listens on its node only (procServ binds
a TCP console to 127.0.0.1; the agent's default is a unix socket), so it is reached through the
runner on that node (ssh by default), where `python3 -m ocfpy.iocctl relay` connects to it.
Read-only is enforced by the relay: it never sends a byte to procServ unless --write is given.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional

AGENT = ("ocf", "ocfpy", "epics-ioc")
TELNET_IAC = 255


class IocError(Exception):
    """One line saying what went wrong."""


@dataclass
class Ioc:
    resource: str
    ioc_name: str
    console: str                                  # where it listens on its node, as procServ
    logfile: str                                  # writes it (the parameter if unreadable)
    nodes: list = field(default_factory=list)     # where it runs
    state: str = "Stopped"
    last_failure: Optional[dict] = None           # node, operation, rc, exit_reason, time
    last_node: str = ""                           # where it last ran (from the history)


class Cluster:
    """The cluster's IOCs: queries (crm_mon, cibadmin) run on node `via` through `runner`, or
    here when `via` is None; commands on a node always go through `runner`."""

    def __init__(self, runner, via=None):
        from .runners import LocalRunner

        self.runner = runner
        self.via = via
        self.queries = runner if via else LocalRunner()

    def _run(self, argv):
        from .runners import RunnerError

        try:
            done = self.queries.run(self.via, argv, timeout=60)
        except RunnerError as exc:
            raise IocError(str(exc)) from None
        if done.returncode != 0:
            raise IocError(f"{' '.join(argv[:2])} failed: "
                           f"{(done.stderr or done.stdout).strip() or done.returncode}")
        return done.stdout

    def iocs(self):
        from .crmstatus import StatusError, parse

        cib = ET.fromstring(self._run(["cibadmin", "--query"]))
        try:
            status = parse(self._run(["crm_mon", "-1", "--output-as=xml"]))
        except StatusError as exc:
            raise IocError(f"crm_mon: {exc}") from None
        found = []
        for primitive in cib.iterfind("configuration/resources//primitive"):
            if (primitive.get("class"), primitive.get("provider"), primitive.get("type")) != AGENT:
                continue
            params = {nv.get("name"): nv.get("value") for nv in
                      primitive.iterfind("instance_attributes/nvpair")}
            rid = primitive.get("id")
            ioc = Ioc(rid, params.get("ioc_name", ""), _console(params.get("console", ""), rid),
                      params.get("logfile", ""))
            ioc.nodes = status.where(rid)
            instances = status.matching(rid)
            if any(i.failed for i in instances):
                ioc.state = "FAILED"
            elif ioc.nodes:
                ioc.state = next(i.role for i in instances if i.running)
            elif instances:
                ioc.state = instances[0].role or "Stopped"
            ioc.last_failure = _last_failure(cib, rid)
            ran = [op for op in status.operations if op.resource == rid and op.rc == 0
                   and op.task in ("start", "monitor")]
            ioc.last_node = ioc.nodes[0] if ioc.nodes else (
                max(ran, key=lambda op: op.call).node if ran else "")
            found.append(ioc)
        return found

    def find(self, name):
        iocs = self.iocs()
        for ioc in iocs:
            if name in (ioc.resource, ioc.ioc_name):
                return ioc
        known = ", ".join(sorted(i.resource for i in iocs)) or "none"
        raise IocError(f"no epics-ioc resource or IOC named {name!r} (IOC resources: {known})")


def _last_failure(cib, rid):
    """The newest failure of `rid` on any node, from the CIB status (its last_failure ops)."""
    newest = None
    for state in cib.iterfind("status/node_state"):
        for op in state.iterfind(f"lrm/lrm_resources/lrm_resource[@id='{rid}']/lrm_rsc_op"):
            if op.get("id") != f"{rid}_last_failure_0":
                continue
            entry = {"node": state.get("uname"), "operation": op.get("operation"),
                     "rc": int(op.get("rc-code", "0")), "exit_reason": op.get("exit-reason", ""),
                     "time": int(op.get("last-rc-change", "0"))}
            if newest is None or entry["time"] > newest["time"]:
                newest = entry
    return newest


def _when(seconds):
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def failure_text(failure):
    if not failure:
        return "-"
    reason = f": {failure['exit_reason']}" if failure["exit_reason"] else ""
    return (f"{_when(failure['time'])} {failure['operation']} rc={failure['rc']} on "
            f"{failure['node']}{reason}")


def _console(value, resource):
    """procServ's own 'unix:PATH' or '127.0.0.1:PORT' for the console parameter `value` of
    IOC `resource`; the value itself when it is not one (attach says why)."""
    from .agents.procserv import console_of, console_text

    try:
        return console_text(console_of(value, resource))
    except ValueError:
        return value


def console_address(ioc):
    """The parse_console tuple of the IOC's console, on its node; IocError when unreadable."""
    from .agents.procserv import parse_console

    try:
        return parse_console(ioc.console)
    except ValueError as exc:
        raise IocError(f"{ioc.resource}: console {exc}") from None


# ---- the relay: one console connection, read-only unless asked -------------------------------

def _strip_telnet(data, state):
    """Console bytes without telnet negotiation (IAC + 2 bytes); state carries a split one."""
    out = bytearray()
    for byte in data:
        if state[0]:
            state[0] -= 1
        elif byte == TELNET_IAC:
            state[0] = 2
        else:
            out.append(byte)
    return bytes(out)


def relay(address, write=False, seconds=None, stdin=None, stdout=None):
    """Copy the console at `address` (a parse_console tuple) to stdout, and stdin to it when
    `write`, until the console closes, stdin ends (write) or `seconds` pass."""
    import selectors
    import time

    from .agents.procserv import connect, console_text

    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    try:
        sock = connect(address, 10)
    except OSError as exc:
        raise IocError(f"cannot connect to the console at {console_text(address)}: "
                       f"{exc.strerror}") from None
    deadline = None if seconds is None else time.monotonic() + seconds
    state = [0]
    with sock, selectors.DefaultSelector() as selector:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        if write:
            selector.register(stdin, selectors.EVENT_READ)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            for key, _ in selector.select(left):
                if key.fileobj is sock:
                    data = sock.recv(65536)
                    if not data:
                        return
                    stdout.write(_strip_telnet(data, state))
                    stdout.flush()
                else:
                    data = os.read(stdin.fileno(), 65536)
                    if not data:
                        selector.unregister(stdin)
                        continue
                    sock.sendall(data)


# ---- the commands ---------------------------------------------------------------------------

def cmd_list(cluster, args):
    iocs = cluster.iocs()
    if args.json:
        import json
        from dataclasses import asdict

        print(json.dumps([asdict(i) for i in iocs], indent=1))
        return 0
    rows = [("RESOURCE", "IOC", "NODE", "STATE", "CONSOLE", "LAST FAILURE")]
    rows += [(i.resource, i.ioc_name, ",".join(i.nodes) or "-", i.state, i.console,
              failure_text(i.last_failure)) for i in iocs]
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[5])
    return 0


def _running_node(ioc):
    if not ioc.nodes:
        raise IocError(f"{ioc.resource} ({ioc.ioc_name}) is not running ({ioc.state})")
    return ioc.nodes[0]


def cmd_attach(cluster, args):
    import subprocess

    ioc = cluster.find(args.name)
    node = _running_node(ioc)
    console_address(ioc)  # a console it cannot reach is said here, not on the node
    mode = "read-write" if args.write else "read-only"
    print(f"ocfpy-ioc: {ioc.resource} ({ioc.ioc_name}) on {node}, console {ioc.console}, "
          f"{mode}" + ("" if args.write else " (--write to type)"), file=sys.stderr)
    argv = [args.python, "-I", "-m", "ocfpy.iocctl", "relay", ioc.console]
    argv += (["--write"] if args.write else []) + (
        ["--for", str(args.seconds)] if args.seconds is not None else [])
    return subprocess.call(cluster.runner.command(node, argv),
                           stdin=None if args.write else subprocess.DEVNULL)


def cmd_log(cluster, args):
    import subprocess

    ioc = cluster.find(args.name)
    if not ioc.logfile:
        raise IocError(f"{ioc.resource} has no console log (its logfile parameter is empty)")
    node = args.node or ioc.last_node
    if not node:
        raise IocError(f"{ioc.resource} has not run on any node the cluster remembers: "
                       f"give --node")
    argv = ["tail", "-n", str(args.lines)] + (["-F"] if args.follow else []) + [ioc.logfile]
    print(f"ocfpy-ioc: {ioc.logfile} on {node}", file=sys.stderr)
    return subprocess.call(cluster.runner.command(node, argv), stdin=subprocess.DEVNULL)


def cmd_relay(args):
    from .agents.procserv import parse_console

    try:
        address = parse_console(args.console)
    except ValueError as exc:
        raise IocError(f"console {exc}") from None
    relay(address, args.write, args.seconds)
    return 0


def parser():
    top = argparse.ArgumentParser(prog="ocfpy-ioc", description="Find, attach to and read the "
                                  "EPICS IOCs a Pacemaker cluster runs (ocf:ocfpy:epics-ioc).")
    top.add_argument("--runner", default="ssh", choices=("ssh", "local", "nsenter"),
                     help="how to reach a node (default ssh)")
    top.add_argument("--pid", action="append", default=[], metavar="NODE=PID",
                     help="for --runner nsenter: a process inside each node's namespaces")
    top.add_argument("--via", default=None, metavar="NODE",
                     help="run the cluster queries on NODE (default: here)")
    top.add_argument("--python", default="python3",
                     help="the interpreter with ocfpy on the nodes (default python3)")
    sub = top.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="every IOC resource, where it runs, its state and "
                                          "last failure")
    listing.add_argument("--json", action="store_true")
    attach = sub.add_parser("attach", help="connect to the IOC's procServ console")
    attach.add_argument("name")
    attach.add_argument("--write", action="store_true", help="send what you type (default: "
                                                             "read-only)")
    attach.add_argument("--for", dest="seconds", type=float, default=None,
                        help="detach after SECONDS")
    log = sub.add_parser("log", help="the IOC's console log from its node")
    log.add_argument("name")
    log.add_argument("-n", "--lines", type=int, default=50)
    log.add_argument("-f", "--follow", action="store_true")
    log.add_argument("--node", default=None, help="read it on NODE (default: where it runs or "
                                                  "last ran)")
    relay_cmd = sub.add_parser("relay", help=argparse.SUPPRESS)
    relay_cmd.add_argument("console")
    relay_cmd.add_argument("--write", action="store_true")
    relay_cmd.add_argument("--for", dest="seconds", type=float, default=None)
    return top


def main(argv=None):
    from . import runners

    args = parser().parse_args(argv)
    try:
        if args.command == "relay":
            return cmd_relay(args)
        try:
            runner = runners.make(args.runner, args.pid)
        except ValueError as exc:
            print(f"ocfpy-ioc: {exc}", file=sys.stderr)
            return 2
        if args.via is None and args.runner == "nsenter":
            args.via = next(iter(runner.pids))
        commands = {"list": cmd_list, "attach": cmd_attach, "log": cmd_log}
        return commands[args.command](Cluster(runner, args.via), args)
    except IocError as exc:
        print(f"ocfpy-ioc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1



if __name__ == "__main__":
    sys.exit(main())
