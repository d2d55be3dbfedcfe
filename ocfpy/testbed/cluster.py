"""Real Corosync + Pacemaker test clusters on one machine, each node in its own namespaces.

Every node, also the only node of a single-node cluster, is pid 1 of its own pid, network,
mount, UTS and IPC namespaces (ocfpy/testbed/holder.py). It has private /etc/corosync,
/var/lib/corosync, /var/lib/pacemaker (a copy of the packaged tree with cib/ and pengine/
emptied, ownership kept), /var/log/corosync and /var/log/pacemaker, tmpfs on /run and /dev/shm,
and the hostname nodeI. The rest of the file system is shared, so /usr/lib/ocf/resource.d/ocfpy
and /opt/ocfpy are the installed agents. Several clusters (concurrent test sessions) never
meet: every address, port, IPC socket and shared-memory file lives in namespaces of their own.

- One node: its ring address is 127.0.0.1 on the namespace's own loopback.
- Three nodes: a hub namespace holds a bridge; each node has a veth pair, eth0 inside the node
  with 10.254.0.I/24 (a subnet that exists only inside these namespaces), the other end on the
  bridge. `isolate(node)` sets that end down; `kill_node(node)` ends the node's namespaces.

corosync.conf and the authkey are made by `ocfgen corosync` from a small description of the
test cluster (description(), kept as cluster.toml in the scratch directory).

Fencing is off (stonith-enabled=false): a namespace node can only be "fenced" by killing its
pid namespace, and nothing in Debian's fence-agents does that. Considered (ls /usr/sbin/fence_*):
fence_dummy (a test agent that only records a power state in a file: it would pretend to
fence), fence_docker/fence_virsh/fence_vbox/fence_pve/fence_kubevirt (need a container or VM
manager these nodes are not run by),
fence_sbd/fence_watchdog (need shared storage or a hardware watchdog per node, which namespaces
do not have), fence_kdump/fence_scsi/fence_mpath (kdump, shared SCSI or multipath devices),
fence_ack_manual (a human), fence_heuristics_ping (a precondition, it fences nothing), and the
IPMI/PDU/cloud agents (real hardware or accounts). A lost node in these tests is really gone
(its processes are killed with its pid namespace), which is what fencing would guarantee.

Teardown is total, also after failures: killing a node's pid 1 makes the kernel kill every
process of the node (corosync, pacemaker, resource agents, their daemons), and its mounts go
with its mount namespace; nothing is named on the host (no /run/netns entries). The `unshare`
parent of each node dies with the process that started it (PR_SET_PDEATHSIG), and so, through
--kill-child, does the node: even a SIGKILLed pytest leaves nothing running. Start clusters
from a thread that outlives them (the death signal follows the starting thread).
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import Callable, Optional

from . import status as crm_status

HOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
SYSTEM_PYTHON = "/usr/bin/python3"
SUBNET = "10.254.0"  # exists only inside a cluster's own namespaces
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "LANG": "C.UTF-8", "HOME": "/root"}
PRIVATE_DIRS = ("/etc/corosync", "/var/lib/corosync", "/var/lib/pacemaker", "/var/log/corosync",
                "/var/log/pacemaker")
# Cluster options a test cluster starts with (see the module docstring for stonith).
CLUSTER_OPTIONS = {
    "stonith-enabled": "false",
    "dc-deadtime": "5s",
    "cluster-recheck-interval": "1min",
    "no-quorum-policy": "stop",
}
RESOURCE_DEFAULTS = {"resource-stickiness": "1"}
SCRATCH_PREFIX = "ocfpy-testbed-"

NAMESPACE_KINDS = ("pid", "net", "mnt")

_live = set()  # clusters to tear down if the interpreter exits with them still up
# (kind, inode) of every namespace this process created -> when it was killed (seconds since
# boot; None while alive). Namespace inodes are reused: a process that started after ours died
# belongs to somebody else.
_created = {}
_spawned = set()  # host pids of the unshare/nsenter processes this process started


class TestbedError(Exception):
    """The test cluster could not do what was asked; the message says what and on which node."""


class CommandError(TestbedError):
    def __init__(self, node, argv, done):
        self.returncode, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        super().__init__(f"{node}: {' '.join(argv)} exited with {done.returncode}: "
                         f"{' | '.join(tail)}")


def _die_with_parent():
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _host(argv, timeout=30):
    done = subprocess.run(argv, env=ENV, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    if done.returncode != 0:
        raise CommandError("host", argv, done)
    return done.stdout


class _Namespace:
    """A holder process (pid 1 of fresh namespaces) and the `unshare` that started it."""

    def __init__(self, name, flags, spec, log_path, timeout=20):
        self.name = name
        argv = ["unshare", *flags, "--pid", "--fork", "--kill-child", SYSTEM_PYTHON, "-I", "-S",
                HOLDER, json.dumps(spec)]
        with open(log_path, "ab") as log:
            self.unshare = subprocess.Popen(argv, env=ENV, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=log,
                                            preexec_fn=_die_with_parent, start_new_session=True)
        self.pid = None
        self.inodes = []
        line = self._read_line(timeout)
        if line != "ready":
            self.kill()
            raise TestbedError(f"{name}: namespace setup failed: {line or 'no answer'} "
                               f"(see {log_path})")
        children = f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children"
        with open(children) as f:
            self.pid = int(f.read().split()[0])
        # Only the namespaces created for it (the hub shares the host's mount namespace).
        self.inodes = [(kind, os.stat(f"/proc/{self.pid}/ns/{kind}").st_ino)
                       for kind in NAMESPACE_KINDS
                       if os.stat(f"/proc/{self.pid}/ns/{kind}").st_ino !=
                       os.stat(f"/proc/self/ns/{kind}").st_ino]
        _created.update(dict.fromkeys(self.inodes))
        _spawned.add(self.unshare.pid)

    def _read_line(self, timeout):
        import select

        ready, _, _ = select.select([self.unshare.stdout], [], [], timeout)
        return self.unshare.stdout.readline().decode().strip() if ready else ""

    def alive(self):
        return self.unshare.poll() is None

    def kill(self, timeout=15):
        """SIGKILL pid 1 of the namespaces: the kernel kills the rest; wait until all is gone."""
        if self.pid is not None and self.alive():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.unshare.wait(timeout)
        except subprocess.TimeoutExpired:
            self.unshare.kill()
            self.unshare.wait(timeout)
        if self.unshare.stdout:
            self.unshare.stdout.close()
        _spawned.discard(self.unshare.pid)
        died = time.clock_gettime(time.CLOCK_BOOTTIME)
        for key in self.inodes:
            _created[key] = died


class Node:
    """One cluster node: its name, id, ring address and namespaces."""

    def __init__(self, index, address, directory):
        self.index = index
        self.nodeid = index
        self.name = f"node{index}"
        self.address = address
        self.dir = directory
        self.ns: Optional[_Namespace] = None
        self.daemons: dict[str, subprocess.Popen] = {}
        self.up = False  # corosync and pacemaker were started and the node was not killed

    def __repr__(self):
        return f"Node({self.name}, {self.address})"


class Cluster:
    """A real Corosync + Pacemaker cluster of 1 or 3 namespace nodes.

        with Cluster(nodes=3) as cluster:
            cluster.create_resource(id="web", agent="ocf:ocfpy:daemon",
                                    params={"command": "sleep 100000"}, monitor="2s")
            before = cluster.where("web")          # ["node1"]
            cluster.kill_node(before[0])
            cluster.wait_until(lambda: cluster.where("web") not in ([], before), 60, "failover")

    Node names are node1..nodeN; methods take a node name. Every command on a node goes
    through `run`, which enters that node's namespaces with nsenter.
    """

    def __init__(self, nodes=1, *, name=None, token=3000, token_coefficient=None, crypto=True,
                 scratch=None):
        if nodes not in (1, 3):
            raise TestbedError(f"a test cluster has 1 or 3 nodes, not {nodes}")
        self.size = nodes
        self.name = name or f"ocfpy{os.getpid()}"[:32]
        self.token = token
        self.token_coefficient = token_coefficient
        self.crypto = crypto
        self._scratch_parent = scratch
        self.dir = None
        self.hub: Optional[_Namespace] = None
        self._nodes: list[Node] = []
        self.started = False
        self.startup_seconds = None
        self._inodes = set()  # every namespace and host process this cluster made, for
        self._pids = set()  # leftovers(cluster)

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def nodes(self):
        """Node names, node1 first."""
        return [node.name for node in self._nodes]

    def description(self):
        """The cluster description (ocfgen's TOML) this cluster's corosync layer comes from."""
        lines = ["# Written by ocfpy.testbed; `ocfgen corosync` makes corosync.conf and the",
                 "# authkey of the test cluster from it.",
                 "[cluster]", f'name = "{self.name}"', "",
                 "[properties]", "stonith-enabled = false", "",
                 "[corosync]", f"token = {self.token}", f"crypto = {str(self.crypto).lower()}"]
        if self.token_coefficient is not None:
            lines.append(f"token_coefficient = {self.token_coefficient}")
        for node in self._nodes:
            lines += ["", f"[nodes.{node.name}]", f"id = {node.nodeid}",
                      f'addresses = ["{node.address}"]']
        return "\n".join(lines) + "\n"

    def _corosync_files(self, outdir):
        """corosync.conf and authkey in `outdir`, made by `ocfgen corosync` from description()."""
        import sys

        path = os.path.join(self.dir, "cluster.toml")
        with open(path, "w") as f:
            f.write(self.description())
        ocfgen = [sys.executable, "-I", "-c", "from ocfpy.generators.cli import main; main()"]
        done = subprocess.run(ocfgen + ["corosync", path, "-o", outdir], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise TestbedError(f"ocfgen corosync failed: {done.stderr.strip()}")

    def start(self, timeout=120):
        """Bring every node up and wait for quorum, a DC and all nodes online."""
        if self.started:
            return self
        began = time.monotonic()
        _live.add(self)
        self.started = True
        self._nodes, self.hub = [], None  # a stopped cluster can start afresh
        try:
            _remove_stale_scratch(self._scratch_parent or tempfile.gettempdir())
            self.dir = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-",
                                        dir=self._scratch_parent)
            os.chmod(self.dir, 0o755)  # pacemaker's daemons run as hacluster
            for index in range(1, self.size + 1):
                address = "127.0.0.1" if self.size == 1 else f"{SUBNET}.{index}"
                self._nodes.append(Node(index, address, os.path.join(self.dir, f"node{index}")))
            self._prepare_files()
            if self.size > 1:
                self.hub = _Namespace("hub", ["--net"], {
                    "private_mounts": False,
                    "commands": [["ip", "link", "add", "br0", "type", "bridge"],
                                 ["ip", "link", "set", "br0", "up"]],
                }, os.path.join(self.dir, "hub.log"))
                self._inodes.update(self.hub.inodes)
                self._pids.add(self.hub.unshare.pid)
            for node in self._nodes:
                self._boot(node)
            for node in self._nodes:
                self._start_stack(node)
            self.wait_until(self._ready, timeout - (time.monotonic() - began),
                            f"{self.size}-node cluster with quorum and a DC")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _prepare_files(self):
        generated = os.path.join(self.dir, "corosync")
        self._corosync_files(generated)
        with open(os.path.join(generated, "corosync.conf")) as f:
            conf = f.read()
        key = os.path.join(generated, "authkey")
        cib = self._seed_cib()
        for node in self._nodes:
            os.makedirs(node.dir)
            for path in PRIVATE_DIRS:
                target = self._private(node, path)
                _host(["cp", "-a", path, target])  # ownership and modes kept
            pacemaker = self._private(node, "/var/lib/pacemaker")
            for sub in ("cib", "pengine"):
                for entry in os.listdir(os.path.join(pacemaker, sub)):
                    os.unlink(os.path.join(pacemaker, sub, entry))
            corosync = self._private(node, "/etc/corosync")
            with open(os.path.join(corosync, "corosync.conf"), "w") as f:
                f.write(conf)
            shutil.copy2(key, os.path.join(corosync, "authkey"))
            cib_dir = os.path.join(pacemaker, "cib")
            with open(os.path.join(cib_dir, "cib.xml"), "w") as f:
                f.write(cib)
            os.chmod(os.path.join(cib_dir, "cib.xml"), 0o600)
            stat = os.stat(cib_dir)
            os.chown(os.path.join(cib_dir, "cib.xml"), stat.st_uid, stat.st_gid)
        shutil.rmtree(generated)

    @staticmethod
    def _private(node, path):
        return os.path.join(node.dir, path.strip("/").replace("/", "-"))

    def _seed_cib(self):
        """A blank CIB (Pacemaker's own, for this version) with the test cluster's options."""
        cib = ET.fromstring(_host(["cibadmin", "--empty"]))
        config = cib.find("configuration")

        def nvset(parent, tag, set_id, values):
            element = ET.SubElement(parent, tag, id=set_id)
            for key, value in values.items():
                ET.SubElement(element, "nvpair", id=f"{set_id}-{key}", name=key, value=value)

        crm_config = config.find("crm_config")
        nvset(crm_config, "cluster_property_set", "cib-bootstrap-options", CLUSTER_OPTIONS)
        defaults = config.find("rsc_defaults")
        if defaults is None:
            defaults = ET.SubElement(config, "rsc_defaults")
        nvset(defaults, "meta_attributes", "rsc-options", RESOURCE_DEFAULTS)
        return ET.tostring(cib, encoding="unicode")

    def _boot(self, node):
        binds = [[self._private(node, path), path] for path in PRIVATE_DIRS]
        node.ns = _Namespace(node.name, ["--net", "--mount", "--uts", "--ipc", "--mount-proc",
                                         "--propagation", "private"],
                             {"binds": binds, "hostname": node.name},
                             os.path.join(node.dir, "namespace.log"))
        self._inodes.update(node.ns.inodes)
        self._pids.add(node.ns.unshare.pid)
        if self.hub is not None:
            veth = f"v{node.name}"
            hub = ["nsenter", "-t", str(self.hub.pid), "-n"]
            _host(hub + ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                         "netns", str(node.ns.pid)])
            _host(hub + ["ip", "link", "set", veth, "master", "br0", "up"])
            self.run(node.name, ["ip", "addr", "add", f"{node.address}/24", "dev", "eth0"])
            self.run(node.name, ["ip", "link", "set", "eth0", "up"])

    def _spawn(self, node, name, argv):
        with open(os.path.join(node.dir, f"{name}.out"), "ab") as log:
            node.daemons[name] = subprocess.Popen(
                self._enter(node) + argv, env=ENV, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, preexec_fn=_die_with_parent, start_new_session=True)
        _spawned.add(node.daemons[name].pid)
        self._pids.add(node.daemons[name].pid)

    def _start_stack(self, node):
        self._spawn(node, "corosync", ["corosync", "-f"])
        self.wait_until(lambda: self.run(node.name, ["corosync-cfgtool", "-s"],
                                         check=False).returncode == 0,
                        20, f"corosync on {node.name}", interval=0.2)
        self._spawn(node, "pacemakerd", ["pacemakerd", "-f"])
        node.up = True

    def _ready(self):
        status = self.status(check=False)
        return (status is not None and status.dc is not None and status.quorum
                and status.online == sorted(n.name for n in self._nodes if n.up))

    def stop(self):
        """Kill everything this cluster started and remove its files; safe to call twice."""
        errors = []
        for node in self._nodes:
            if node.ns is not None:
                try:
                    node.ns.kill()
                except Exception as exc:  # keep tearing down the others
                    errors.append(f"{node.name}: {exc}")
            for daemon in node.daemons.values():
                try:
                    daemon.wait(15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait(5)
                _spawned.discard(daemon.pid)
            node.up = False
        if self.hub is not None:
            self.hub.kill()
        if self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        _live.discard(self)
        self.started = False
        if errors:
            raise TestbedError("teardown: " + "; ".join(errors))

    # ---- commands on nodes ------------------------------------------------------------------

    def node(self, name):
        for node in self._nodes:
            if node.name == name:
                return node
        raise TestbedError(f"no node {name!r} in this cluster (nodes: {', '.join(self.nodes)})")

    def _enter(self, node):
        if node.ns is None or not node.ns.alive():
            raise TestbedError(f"{node.name} is not running")
        return ["nsenter", "-t", str(node.ns.pid), "-m", "-u", "-i", "-n", "-p", "--wd=/"]

    def run(self, node, argv, check=True, timeout=30, input=None):
        """Run argv (a list, no shell) inside `node`'s namespaces; a CompletedProcess (text).

        It sees the node's hostname, network, /run, /etc/corosync, ... and its processes
        (its own pid namespace: pids in the node's pidfiles are valid here). check=True raises
        CommandError on a non-zero exit; a command running past `timeout` seconds is killed
        and raises TestbedError.
        """
        target = self.node(node)
        full = self._enter(target) + list(argv)
        try:
            done = subprocess.run(full, env=ENV, input=input, capture_output=True, text=True,
                                  timeout=timeout, stdin=None if input is not None else
                                  subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TestbedError(f"{node}: {' '.join(argv)} did not finish in {timeout}s") from None
        if check and done.returncode != 0:
            raise CommandError(node, argv, done)
        return done

    def read_file(self, node, path):
        """The text of `path` as the node sees it (its private /run, /etc/corosync, ...)."""
        return self.run(node, ["cat", path]).stdout

    def pidfile_pid(self, node, path):
        """The pid recorded in an ocfpy pidfile on `node` (pid of the node's namespace)."""
        for line in self.read_file(node, path).splitlines():
            if line.startswith("pid="):
                return int(line[4:])
        raise TestbedError(f"{node}: {path} records no pid")

    def wait_restarted(self, resource, node, pidfile, old_pid, timeout=60):
        """Wait until Pacemaker has recorded a failed monitor of `resource` and runs it on
        `node` again under a pid (read from `pidfile`) other than `old_pid`; the new pid."""

        def restarted():
            status = self.status()
            failed = [op for op in status.failures
                      if op.resource == resource and op.task == "monitor"]
            if not failed or status.where(resource) != [node]:
                return None
            pid = self.pidfile_pid(node, pidfile)
            return pid if pid != old_pid else None

        return self.wait_until(restarted, timeout,
                               f"Pacemaker to notice the failure and restart {resource}")

    def signal(self, node, pid, signame):
        """Send a signal ("KILL", "STOP", "TERM", ...) to a process of `node` by its pid."""
        self.run(node, ["kill", f"-{signame}", str(pid)])

    def _query_node(self, on=None):
        if on is not None:
            return on
        for node in self._nodes:
            if node.up and node.ns is not None and node.ns.alive():
                return node.name
        raise TestbedError("no node of this cluster is running")

    def crm_mon(self, on=None):
        """`crm_mon -1` (text) as seen from node `on` (default: the first running node)."""
        return self.run(self._query_node(on), ["crm_mon", "-1", "-r"]).stdout

    def status(self, on=None, check=True):
        """crm_mon's XML parsed (ocfpy.testbed.status.Status); None if unreadable and not check."""
        done = self.run(self._query_node(on), ["crm_mon", "-1", "--output-as=xml"],
                        check=False, timeout=20)
        try:
            if done.returncode != 0:
                raise crm_status.StatusError(done.stderr.strip() or done.stdout.strip())
            return crm_status.parse(done.stdout)
        except crm_status.StatusError:
            if check:
                raise
            return None

    def where(self, resource, on=None):
        """Sorted names of the nodes where `resource` runs (started/promoted, not failed).

        `resource` may be a primitive, or a group or clone id (then: every node running a
        member). [] while it is stopped, failed or unknown. Asked from node `on` (default: the
        first running node; after isolate() pass a node of the quorate side).
        """
        return self.status(on).where(resource)

    def wait_until(self, predicate: Callable[[], object], timeout, what, interval=0.5):
        """Poll predicate() until it is true; its value, or TestbedError naming `what`."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
            except TestbedError as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                hint = f" (last error: {last_error})" if last_error else ""
                raise TestbedError(f"timed out after {timeout:.0f}s waiting for {what}{hint}")
            time.sleep(interval)

    # ---- resources -------------------------------------------------------------------------

    @staticmethod
    def primitive_xml(id, agent, params=None, monitor=None, ops=(), meta=None):
        """<primitive> XML for agent "class:provider:type" (or "class:type").

        monitor: a monitor interval ("2s", "10") added as a recurring monitor op.
        ops: more ops as dicts {"name": "monitor", "interval": "5s", "timeout": "10s",
             "OCF_CHECK_LEVEL": "10"}; keys other than name/interval/timeout/role become the
             op's instance attributes (OCF_CHECK_LEVEL for a deeper monitor).
        """
        parts = agent.split(":")
        if len(parts) == 3:
            attrs = {"id": id, "class": parts[0], "provider": parts[1], "type": parts[2]}
        elif len(parts) == 2:
            attrs = {"id": id, "class": parts[0], "type": parts[1]}
        else:
            raise TestbedError(f"agent {agent!r} is not class:provider:type")
        primitive = ET.Element("primitive", attrs)
        if params:
            attributes = ET.SubElement(primitive, "instance_attributes", id=f"{id}-instance")
            for key, value in params.items():
                ET.SubElement(attributes, "nvpair", id=f"{id}-instance-{key}", name=key,
                              value=str(value))
        if meta:
            attributes = ET.SubElement(primitive, "meta_attributes", id=f"{id}-meta")
            for key, value in meta.items():
                ET.SubElement(attributes, "nvpair", id=f"{id}-meta-{key}", name=key,
                              value=str(value))
        all_ops = ([{"name": "monitor", "interval": str(monitor), "timeout": "20s"}]
                   if monitor else []) + [dict(op) for op in ops]
        if all_ops:
            operations = ET.SubElement(primitive, "operations")
            for op in all_ops:
                name, interval = op.pop("name"), str(op.pop("interval", "0s"))
                op_id = f"{id}-{name}-interval-{interval}"
                element = ET.SubElement(operations, "op", id=op_id, name=name, interval=interval)
                for key in ("timeout", "role", "on-fail"):
                    if key in op:
                        element.set(key, str(op.pop(key)))
                if op:
                    attributes = ET.SubElement(element, "instance_attributes", id=f"{op_id}-ia")
                    for key, value in op.items():
                        ET.SubElement(attributes, "nvpair", id=f"{op_id}-ia-{key}", name=key,
                                      value=str(value))
        return ET.tostring(primitive, encoding="unicode")

    def create_resource(self, xml=None, *, id=None, agent=None, params=None, monitor=None,
                        ops=(), meta=None, wait=True, timeout=60, on=None):
        """Add a resource to the live CIB and (wait=True) wait until it runs somewhere.

        Either `xml` (any element the <resources> section takes: primitive, group, clone)
        or id + agent ("ocf:ocfpy:daemon") + params (dict) + monitor ("2s") + ops + meta, see
        primitive_xml. Returns the sorted nodes where it runs (what where() returns). A
        resource that fails to start raises TestbedError with crm_mon's output.
        """
        if xml is None:
            if not (id and agent):
                raise TestbedError("create_resource needs xml, or id and agent")
            xml = self.primitive_xml(id, agent, params, monitor, ops, meta)
        rid = id or ET.fromstring(xml).get("id")
        node = self._query_node(on)
        self.run(node, ["cibadmin", "--create", "--scope", "resources", "--xml-text", xml])
        if not wait:
            return []

        def started():
            status = self.status(node)
            failed = [op for op in status.failures if op.resource == rid]
            if failed and not status.where(rid):
                raise TestbedError(f"resource {rid} failed: {failed}\n{self.crm_mon(node)}")
            return status.where(rid)

        try:
            return self.wait_until(started, timeout, f"resource {rid} to start", interval=0.3)
        except TestbedError as exc:
            raise TestbedError(f"{exc}\n{self.crm_mon(node)}") from None

    def delete_resource(self, id, timeout=60, on=None):
        """Stop resource `id`, wait until it runs nowhere, remove it and its history."""
        node = self._query_node(on)
        self.run(node, ["crm_resource", "--resource", id, "--meta", "--set-parameter",
                        "target-role", "--parameter-value", "Stopped"])
        self.wait_until(lambda: not self.status(node).matching(id) or not any(
            i.active for i in self.status(node).matching(id)), timeout, f"{id} to stop",
            interval=0.3)
        self.run(node, ["crm_resource", "--cleanup", "--resource", id], check=False)
        kind = ET.fromstring(self.run(node, ["cibadmin", "--query", "--scope", "resources",
                                             "--xpath", f"//*[@id='{id}']"]).stdout).tag
        self.run(node, ["cibadmin", "--delete", "--scope", "resources",
                        "--xml-text", f'<{kind} id="{id}"/>'])

    # ---- faults ----------------------------------------------------------------------------

    def isolate(self, node):
        """Cut `node` off the cluster network (its veth end on the bridge goes down)."""
        if self.hub is None:
            raise TestbedError("isolate() needs the three-node cluster")
        self.node(node)
        _host(["nsenter", "-t", str(self.hub.pid), "-n", "ip", "link", "set", f"v{node}",
               "down"])

    def rejoin(self, node):
        """Undo isolate(node)."""
        _host(["nsenter", "-t", str(self.hub.pid), "-n", "ip", "link", "set", f"v{node}", "up"])

    def kill_node(self, node):
        """The node dies at once: every process in its namespaces is SIGKILLed, like a power cut."""
        target = self.node(node)
        target.up = False
        target.ns.kill()
        for daemon in target.daemons.values():
            daemon.wait(15)
            _spawned.discard(daemon.pid)
        target.daemons.clear()

    def restart_node(self, node, timeout=90):
        """Boot a node again after kill_node (its files kept, like a reboot); wait until online."""
        target = self.node(node)
        if target.ns is not None and target.ns.alive():
            raise TestbedError(f"{node} is running; kill_node() it first")
        self._boot(target)
        self._start_stack(target)
        self.wait_until(self._ready, timeout, f"{node} back online with quorum and a DC")


def _remove_stale_scratch(base):
    """Scratch directories of harness processes that died without teardown (SIGKILL): their
    namespaces and processes died with them (PR_SET_PDEATHSIG), only the files stayed."""
    for entry in os.listdir(base):
        if not entry.startswith(SCRATCH_PREFIX):
            continue
        owner = entry[len(SCRATCH_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)


@atexit.register
def _stop_all():
    for cluster in list(_live):
        try:
            cluster.stop()
        except Exception:
            pass


def leftovers(cluster=None):
    """What this process's test clusters (or only `cluster`) left behind: [] when all is gone.

    Looks for any process still in a namespace a cluster of this process created (corosync,
    pacemaker, agents' daemons such as procServ, the holders), for the unshare/nsenter
    processes it started, and for its scratch directories. Other sessions' clusters on the same
    machine are not ours and are not reported.
    """
    found = []
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            started = int(fields[19]) / ticks
            ours = pid in (_spawned if cluster is None else cluster._pids & _spawned)
            for kind in NAMESPACE_KINDS:
                key = (kind, os.stat(f"/proc/{pid}/ns/{kind}").st_ino)
                if key in _created and (_created[key] is None or started < _created[key]) and (
                        cluster is None or key in cluster._inodes):
                    ours = True
            if ours and fields[0] not in ("Z", "X"):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                    found.append(f"process {pid} still running: {command[:120]}")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
    base = tempfile.gettempdir()
    for entry in os.listdir(base):
        path = os.path.join(base, entry)
        if entry.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-") and (
                cluster is None or path == cluster.dir):
            found.append(f"scratch directory {path} still exists")
    return found
