"""Two reliable-DUCC head 'hosts' as network namespaces on one veth link, for the DUCC tests.

Names carry the prefix ocfd<pid> so concurrent test runs never collide; private addresses
(10.0.0.0/24) exist only inside the namespaces.
"""

import os
import subprocess

from ocfrun import PYTHON

PREFIX = f"ocfd{os.getpid()}"
VENV_BIN = os.path.dirname(PYTHON)


def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def in_ns(ns, *argv, env=None):
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          timeout=30, env=env)


class Heads:
    """Two head 'hosts' (namespaces a and b) on one veth link: 10.0.0.10 and 10.0.0.11."""

    def __init__(self):
        self.a, self.b = f"{PREFIX}a", f"{PREFIX}b"
        self.if_a, self.if_b = f"{PREFIX}x", f"{PREFIX}y"

    def create(self):
        ip("netns", "add", self.a)
        ip("netns", "add", self.b)
        ip("link", "add", self.if_a, "type", "veth", "peer", "name", self.if_b)
        ip("link", "set", self.if_a, "netns", self.a)
        ip("link", "set", self.if_b, "netns", self.b)
        for ns, interface, address in ((self.a, self.if_a, "10.0.0.10/24"),
                                       (self.b, self.if_b, "10.0.0.11/24")):
            ip("-n", ns, "addr", "add", address, "dev", interface)
            ip("-n", ns, "link", "set", interface, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            # Learn neighbours from gratuitous ARP, so a test can see a VIP's announcement.
            in_ns(ns, "sysctl", "-qw", f"net.ipv4.conf.{interface}.arp_accept=1")

    def mac(self, ns):
        import json

        return json.loads(ip("-j", "-n", ns, "link", "show", self.interface(ns)).stdout)[0][
            "address"]

    def neighbour_mac(self, ns, address):
        """The link-layer address `ns` has learnt for `address`, or None."""
        import json

        rows = json.loads(ip("-j", "-n", ns, "neigh", "show", address).stdout or "[]")
        return rows[0].get("lladdr") if rows else None

    def destroy(self):
        ip("link", "del", self.if_a, check=False)  # only left in the root namespace on failure
        for ns in (self.a, self.b):
            ip("netns", "del", ns, check=False)

    def interface(self, ns):
        return self.if_a if ns == self.a else self.if_b

    def add_vip(self, ns, vip="10.0.0.1/32"):
        ip("-n", ns, "addr", "add", vip, "dev", self.interface(ns))

    def del_vip(self, ns, vip="10.0.0.1/32"):
        ip("-n", ns, "addr", "del", vip, "dev", self.interface(ns))

    def mode(self, ns, *args):
        done = in_ns(ns, f"{VENV_BIN}/ocfpy-ducc-head-mode", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()
