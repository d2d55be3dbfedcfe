"""Simulated IPMI BMCs for the test nodes, and the power switch they drive.

Every node of a test cluster has a BMC: OpenIPMI's `ipmi_sim` (Debian package openipmi)
serving IPMI over LAN (RMCP+) on an address of the cluster network (10.254.0.10I, UDP 623),
run in the hub namespace, so every node reaches every BMC through its eth0, as a real node
reaches the management network. Fence devices are the real `fence_ipmilan` talking to it
through the real `ipmitool`.

A BMC's `chassis_control` command is ocfpy/testbed/power.py, which asks the cluster's power
switch (a Unix socket served by a thread of the harness process) for the node's power state
or to switch it:
- off: the node's pid 1 is SIGKILLed, so the kernel kills every process of the node at once
  and nothing is flushed or stopped cleanly, as when the power is pulled; the switch answers
  only when the node is gone, so "power off done" really means off;
- on: the node boots again (fresh /run, its files under /var/lib kept) and rejoins; the boot
  runs on the switch's own long-lived thread (the node's processes die with the thread that
  started them, see cluster.py).
Every switch is recorded as a PowerEvent (time.monotonic(), node, state, who asked), which is
how a test or the drill sees "the BMC recorded the power-off".

The BMC password is random per cluster, kept in a 0600 file; fence devices read it through
`password_script` (fence_ipmilan -S), never inline in the description or the CIB.
"""

import os
import secrets
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

USERNAME = "admin"
PORT = 623
POWER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "power.py")
SYSTEM_PYTHON = "/usr/bin/python3"

# One management controller with a SEL, enough for chassis power control (see CLUSTER-NOTES).
COMMANDS = """\
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


@dataclass
class BMC:
    """One node's simulated BMC: where it listens and how a fence device logs in."""

    node: str
    address: str
    port: int
    directory: str
    password_script: str
    process: Optional[subprocess.Popen] = None

    @property
    def password_file(self):
        """The 0600 file holding the password (write_credentials), for ipmitool -f."""
        return os.path.join(os.path.dirname(self.password_script), "password")

    def fence_params(self):
        """fence_ipmilan's parameters for this BMC (the description's fencing params)."""
        return {"ip": self.address, "ipport": self.port, "username": USERNAME,
                "password_script": self.password_script, "lanplus": True,
                # -C 3: without a cipher suite ipmitool first asks the BMC for its list, which
                # ipmi_sim does not answer: every call would wait 14-44 s.
                "cipher": 3}

    def lan_conf(self, password, switch_socket):
        control = f"{SYSTEM_PYTHON} -I -S {POWER_SCRIPT} {switch_socket} {self.node}"
        auths = "none md2 md5 straight"
        guid = secrets.token_hex(16)
        return "\n".join([
            f'name "{self.node}"',
            "set_working_mc 0x20",
            "  startlan 1",
            f"    addr {self.address} {self.port}",
            "    priv_limit admin",
            *(f"    allowed_auths_{level} {auths}"
              for level in ("callback", "user", "operator", "admin")),
            f"    guid {guid}",
            "  endlan",
            f'  chassis_control "{control}"',
            f'  user 2 true "{USERNAME}" "{password}" admin 10 {auths}',
            ""])


def write_credentials(directory):
    """A random BMC password in `directory`/password (0600) and the script that prints it."""
    password = secrets.token_hex(8)  # IPMI 2.0 passwords are at most 20 bytes
    path = os.path.join(directory, "password")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    script = os.path.join(directory, "password.sh")
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"#!/bin/sh\nexec cat {path}\n")
    return password, script


@dataclass
class PowerEvent:
    at: float          # time.monotonic()
    node: str
    on: bool
    by: str            # "bmc" (a fence device or ipmitool) or "harness" (kill_node, restart)


@dataclass
class PowerSwitch:
    """The power of a cluster's nodes: answers power.py's requests on a Unix socket.

    get(node) -> bool and off(node) run on the request's thread; on(node) runs on one
    long-lived boot thread. Requests: "get NODE", "set NODE 0|1"; answers "power:0|1" or
    "error: why".
    """

    path: str
    get: object
    off: object
    on: object
    events: list = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._boots = []
        self._wake = threading.Condition(self._lock)
        self._stopping = False
        switch = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.request.settimeout(30)
                try:
                    words = self.rfile.readline(200).decode().split()
                    answer = switch.request(words)
                except Exception as exc:  # the BMC reports an error; the switch stays up
                    answer = f"error: {type(exc).__name__}: {exc}"
                self.wfile.write((answer + "\n").encode())

        self._server = socketserver.ThreadingUnixStreamServer(self.path, Handler)
        self._server.daemon_threads = True
        self._threads = [threading.Thread(target=self._server.serve_forever, daemon=True,
                                          name="power-switch"),
                         threading.Thread(target=self._boot_loop, daemon=True, name="power-on")]
        for thread in self._threads:
            thread.start()

    def record(self, node, on, by):
        with self._lock:
            self.events.append(PowerEvent(time.monotonic(), node, on, by))

    def request(self, words):
        if len(words) == 2 and words[0] == "get":
            return f"power:{int(bool(self.get(words[1])))}"
        if len(words) == 3 and words[0] == "set" and words[2] in ("0", "1"):
            node, on = words[1], words[2] == "1"
            if on:
                self.record(node, True, "bmc")
                with self._wake:
                    self._boots.append(node)
                    self._wake.notify()
            else:
                self.off(node)
                self.record(node, False, "bmc")
            return f"power:{words[2]}"
        return f"error: not a request: {' '.join(words)!r}"

    def _boot_loop(self):
        while True:
            with self._wake:
                while not self._boots and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                node = self._boots.pop(0)
            try:
                self.on(node)
            except Exception as exc:  # seen in the node's log; the switch stays up
                self.record(node, False, f"boot failed: {exc}")

    def history(self, node=None, since=0.0):
        with self._lock:
            return [e for e in self.events if (node is None or e.node == node) and e.at >= since]

    def stop(self):
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(30)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

