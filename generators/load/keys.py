"""Every key of a cluster description and of its hosts file, declared once.

The loaders take the keys each table allows from here (`DESCRIPTION.allowed("resources.ops")`,
`HOSTS.allowed("firewall.extra")`), and `ocfgen explain`, docs/description-reference.md and
ocfgen(8) print these same declarations (generators/render/reference.py): a key cannot be accepted
without being documented, nor documented without being accepted.

A path names tables by their keys only, leaving out the names a file chooses and the positions
in arrays: `[[nodes.alma-a.fencing]]` is `nodes.fencing`, `[resources.vip.params]` is
`resources.params`. Tables whose keys are someone else's names (cluster options, meta
attributes, an agent's parameters, node attributes) are one key of type table here, with the
names they take in `values`; the loader checks those names against their owner's list.
"""

from dataclasses import dataclass, replace
from typing import Optional

from ocfpy.alert import ALERT_PATH, DEFAULT_LOG

from ..model.cluster import Corosync
from ..model.corosync import DEFAULT_LOGFILE, QDEVICE_ALGORITHMS
from ..model.hosts import PROTOCOLS, RESTART_POLICIES, SERVICE_TYPES, TrackedAgent, VipPair
from . import alerts, remote
from .values import (
    CLONE_META,
    ON_FAIL,
    OP_ATTRIBUTES,
    OP_DEFAULTS,
    ORDER_ACTIONS,
    ORDER_KINDS,
    PLACEMENT,
    REQUIRES,
    RESOURCE_META,
    ROLES,
)


@dataclass(frozen=True)
class Key:
    """One key: its type (string, integer, boolean, duration, score, id, strings, integers,
    table, tables, ...), one line about it, its default (a TOML value) or `otherwise` (what
    leaving it out means, in words), the values it takes, whether it must be given, and the
    table it holds when that table's keys are declared here."""

    name: str
    type: str
    about: str
    default: object = None
    otherwise: str = ""
    values: tuple = ()
    required: bool = False
    table: Optional["Table"] = None


@dataclass(frozen=True)
class Table:
    """A table's keys. shape: "table" (one), "named" (one per NAME the file chooses),
    "array" ([[...]], in order)."""

    about: str
    keys: tuple
    shape: str = "table"

    def allowed(self):
        return tuple(key.name for key in self.keys)


class Document:
    """One kind of file: its top-level keys and, by path, every table below them."""

    def __init__(self, title, usage, top):
        self.title, self.usage, self.top = title, usage, top
        self.tables = {"": top}
        self._index("", top)

    def _index(self, prefix, table):
        for key in table.keys:
            if key.table is not None:
                path = f"{prefix}{key.name}"
                self.tables[path] = key.table
                self._index(path + ".", key.table)

    def allowed(self, path):
        """The key names the table at `path` (dotted, as in the module docstring) accepts."""
        return self.tables[path].allowed()

    def header(self, path):
        """How a file writes the table at `path`: [cluster], [nodes.NAME], [[order]], ..."""
        words, prefix = [], ""
        for word in path.split(".") if path else ():
            prefix = f"{prefix}.{word}" if prefix else word
            words.append(word)
            if self.tables[prefix].shape == "named":
                words.append("NAME")
        text = ".".join(words)
        return f"[[{text}]]" if self.tables[path].shape == "array" else f"[{text}]"

    def find(self, path):
        """(table path, Key) of a dotted key path; (path, None) for the top; None if unknown."""
        if path == "":
            return "", None
        parent, _, name = path.rpartition(".")
        table = self.tables.get(parent)
        key = next((k for k in table.keys if k.name == name), None) if table else None
        return (parent, key) if key else None

    def paths(self):
        """Every key's dotted path, in declaration order."""
        out = []
        for prefix, table in self.tables.items():
            out += [f"{prefix}.{key.name}" if prefix else key.name for key in table.keys]
        return list(dict.fromkeys(out))

    def declared(self, loader_path):
        """The dotted path of a loader's key path (names and array positions left out):
        ("nodes", "alma-a", "fencing", 0) -> "nodes.fencing"; None when it leaves the
        declarations (inside a table of someone else's names)."""
        path, table, skip = "", self.top, False
        for part in loader_path:
            if skip:
                skip = False
                continue
            key = next((k for k in table.keys if k.name == part), None) if table else None
            if key is None:
                return None
            path = f"{path}.{part}" if path else part
            table = key.table
            skip = table is not None and table.shape in ("named", "array")
        return path


K = Key


# Operations: [[resources.NAME.ops]] and [op_defaults] share their attributes.
_OPERATION = {
    "name": K("name", "string", "the action (start, stop, monitor, promote, demote, ...): one the "
              "agent has", required=True),
    "interval": K("interval", "duration", "how often a monitor repeats (every other action: 0)",
                  otherwise="0s; a monitor must give one"),
    "timeout": K("timeout", "duration", "how long the action may take",
                 otherwise="the agent's advertised timeout"),
    "role": K("role", "string", "run this monitor in this role only (Promoted and Unpromoted need "
              "a promotable clone)", values=ROLES),
    "OCF_CHECK_LEVEL": K("OCF_CHECK_LEVEL", "integer", "how deep a monitor checks (0-100, "
                         "monitors only; ocfpy agents: 0, 10, 20)", otherwise="0"),
    "on-fail": K("on-fail", "string", "what Pacemaker does when the action fails", values=ON_FAIL,
                 otherwise="restart (a failed stop: fence, or block without fencing)"),
    "start-delay": K("start-delay", "duration", "wait this long before the first run (not with "
                     "interval-origin)"),
    "interval-origin": K("interval-origin", "string", "the time recurring runs are counted from "
                         "(ISO 8601; not with start-delay)"),
    "record-pending": K("record-pending", "boolean", "show the action in the CIB while it runs",
                        otherwise="true"),
    "enabled": K("enabled", "boolean", "false disables the operation", otherwise="true"),
    "requires": K("requires", "string", "what must hold before resources start",
                  values=REQUIRES, otherwise="fencing when fencing is on, else quorum"),
}
OPERATIONS = Table("one operation of the resource; actions left out get the agent's advertised "
                   "defaults, as pcs copies them",
                   tuple(_OPERATION[n] for n in ("name", "interval", "timeout", "role",
                                                  "OCF_CHECK_LEVEL") + OP_ATTRIBUTES), "array")
_OP_DEFAULT = {
    "timeout": K("timeout", "duration", "the timeout of operations that give none",
                 otherwise="Pacemaker's (20s)"),
    "interval": K("interval", "duration", "the interval of operations that give none",
                  otherwise="0s"),
}
OP_DEFAULT_TABLE = Table("defaults of every operation (op_defaults), Pacemaker's names",
                         tuple(_OP_DEFAULT.get(n) or _OPERATION[n] for n in OP_DEFAULTS))

FENCING = Table(
    "one fencing device of the node, tried in level order; the device never runs on the node "
    "it fences", (
        K("agent", "string", "the fence agent, fence_... (a stonith: prefix is dropped)",
          required=True),
        K("id", "id", "the device's resource id", otherwise="fence-NODE-TYPE, as pcs names it"),
        K("level", "integer", "the fencing level, 1-9: lower levels are tried first",
          otherwise="the device's position, from 1"),
        K("params", "table", "the fence agent's parameters, checked against its meta-data; "
          "pcmk_host_list defaults to the node; ip/ipaddr an address or host name, ipport "
          "1-65535; never an inline password: password_script", default={},
          values=("the agent's parameters",)),
    ), "array")

_RESOURCE_KEYS = (
    K("agent", "string", "the resource agent: ocf:PROVIDER:TYPE, systemd:UNIT, lsb:NAME or "
      "service:NAME", required=True, otherwise="unless its template gives it"),
    K("template", "string", "a [templates.NAME] whose keys this resource takes; its params, meta "
      "and utilization are merged, the resource's own values winning"),
    K("params", "table", "the agent's parameters (instance attributes), checked against the "
      "agent's own declarations or its meta-data", default={},
      values=("the agent's parameters",)),
    K("meta", "table", "Pacemaker's meta attributes of the resource", default={},
      values=RESOURCE_META),
    K("utilization", "table", "what the resource uses (integers, for placement-strategy), "
      "such as { cpu = 1 }", default={}, values=("utilization names",)),
    K("ops", "tables", "the resource's operations", otherwise="the agent's advertised ones",
      table=OPERATIONS),
    K("description", "string", "a description, kept in the CIB"),
    K("address", "string", "the resource's own IPv4 address, optional /prefix (ocf:ocfpy:"
      "epics-ioc and ocf:ocfpy:archiver only): an IPaddr2 <id>-ip starts before it, in one "
      "group"),
    K("accept_node_loss", "string", "why the resource may stay stopped when a node is lost "
      "(simulate and check --n-1 then pass it)"),
)

RESOURCE_SET = Table(
    "a resource set: its resources together, the sets in order", (
        K("id", "id", "the set's id", otherwise="pcs_rsc_set_RESOURCES"),
        K("resources", "strings", "the resources (or groups, clones) of the set",
          required=True),
        K("sequential", "boolean", "the set's members are ordered (or colocated) among "
          "themselves", otherwise="true"),
        K("require_all", "boolean", "false: the next set needs only one member of this one",
          otherwise="true"),
        K("role", "string", "the role the set's members are in (Promoted needs promotable "
          "clones)", values=ROLES),
        K("action", "string", "the action ordered (ordering sets only)", values=ORDER_ACTIONS,
          otherwise="start"),
    ), "array")

_NODE_ATTRIBUTES = K("attributes", "table", "node attributes, for location rules (names "
                     "starting with '#' are Pacemaker's own)", default={},
                     values=("attribute names",))

DESCRIPTION = Document("Cluster description", "read by every ocfgen command that takes a DESCRIPTION",
                       Table("the top-level tables of a description", (
    K("cluster", "table", "the cluster's name", required=True, table=Table(
        "the cluster itself", (
            K("name", "string", "the cluster's name: up to 32 letters, digits, '.', '-', '_' "
              "(corosync's cluster_name, the CIB's cluster-name)", required=True),
            K("provided_elsewhere", "strings", "agents the cluster nodes have and this host has "
              "not: used with their parameters unchecked rather than refused", default=[]),
        ))),
    K("properties", "table", "cluster options (crm_config), Pacemaker's names, checked against "
      "Pacemaker's list; placement-strategy is one of " + ", ".join(PLACEMENT) + "; "
      "dc-version, cluster-infrastructure and cluster-name are not set here", default={},
      values=("Pacemaker's cluster options",)),
    K("defaults", "table", "resource defaults (rsc_defaults), Pacemaker's names", default={},
      values=RESOURCE_META),
    K("op_defaults", "table", "operation defaults", default={}, table=OP_DEFAULT_TABLE),
    K("corosync", "table", "corosync.conf settings (ocfgen corosync)", default={}, table=Table(
        "corosync's totem, quorum and logging settings, all optional", (
            K("transport", "string", "the transport: knet, corosync 3's", default="knet",
              values=("knet",)),
            K("crypto", "boolean", "encrypt and authenticate every packet with the authkey "
              "ocfgen corosync writes (0400)", default=Corosync.crypto),
            K("cipher", "string", "knet's crypto_cipher", default=Corosync.cipher),
            K("hash", "string", "knet's crypto_hash", default=Corosync.hash),
            K("token", "integer", "token timeout in ms (1 to 2^32-1)", default=Corosync.token),
            K("token_coefficient", "integer", "ms added to the token per node above two",
              otherwise="corosync's (650)"),
            K("consensus", "integer", "consensus timeout in ms", otherwise="corosync's (1.2 "
              "times the token)"),
            K("two_node", "boolean", "two-node quorum: either node alone is quorate (needs "
              "exactly two nodes)", otherwise="true with two nodes and no qdevice"),
            K("wait_for_all", "boolean", "the first quorum needs every node seen once",
              otherwise="corosync's (on with two_node)"),
            K("link_priorities", "integers", "knet link priority (0-255) per ring, ring0 first",
              default=[]),
            K("qdevice", "table", "a quorum device", table=Table(
                "a corosync-qnetd host that breaks ties", (
                    K("host", "string", "the qnetd host's name or address", required=True),
                    K("algorithm", "string", "the tie-break algorithm", default="ffsplit",
                      values=QDEVICE_ALGORITHMS),
                ))),
            K("keyfile", "string", "the authkey path written into corosync.conf",
              otherwise="corosync's /etc/corosync/authkey"),
            K("logfile", "string", "corosync's log file", default=DEFAULT_LOGFILE),
            K("debug", "boolean", "corosync debug logging", default=Corosync.debug),
        ))),
    K("nodes", "tables", "the cluster's full nodes, one table each named by the host name",
      table=Table("one cluster node, named by its host name", (
          K("id", "integer", "corosync node id (1 to 2^32-1)",
            otherwise="the node's position, from 1"),
          K("addresses", "strings", "one or two IP addresses: ring0, ring1 (one per knet link)"),
          _NODE_ATTRIBUTES,
          K("utilization", "table", "what the node offers (integers), such as { cpu = 8, "
            "memory = 16384 }, with placement-strategy", default={},
            values=("utilization names",)),
          K("fencing", "tables", "the node's fencing devices", table=FENCING),
      ), "named")),
    K("templates", "tables", "settings shared by resources (template = NAME)", table=Table(
        "shared resource settings: any resource key but template",
        tuple(replace(k, required=False, otherwise="the resource's own") if k.name == "agent"
              else k for k in _RESOURCE_KEYS if k.name != "template"), "named")),
    K("resources", "tables", "the primitives, one table each named by its id", table=Table(
        "one primitive resource, named by its id", _RESOURCE_KEYS, "named")),
    K("groups", "tables", "groups: members start in order, on one node", table=Table(
        "one group, named by its id", (
            K("resources", "strings", "the members, in start order", required=True),
            K("meta", "table", "Pacemaker's meta attributes of the group", default={},
              values=RESOURCE_META),
        ), "named")),
    K("clones", "tables", "clones of a resource or group", table=Table(
        "one clone, named by its id", (
            K("resource", "string", "the resource or group cloned", required=True),
            K("promotable", "boolean", "the clone has Promoted and Unpromoted instances",
              default=False),
            K("meta", "table", "Pacemaker's meta attributes of the clone, clone options too",
              default={}, values=RESOURCE_META + CLONE_META),
        ), "named")),
    K("order", "tables", "orderings", table=Table(
        "one ordering: first, then (or sets)", (
            K("id", "id", "the constraint's id", otherwise="order-FIRST-THEN-KIND"),
            K("first", "string", "the resource started first", required=True,
              otherwise="unless sets are given"),
            K("then", "string", "the resource started after it", required=True,
              otherwise="unless sets are given"),
            K("first_action", "string", "first's action", values=ORDER_ACTIONS,
              otherwise="start"),
            K("then_action", "string", "then's action", values=ORDER_ACTIONS,
              otherwise="first_action"),
            K("kind", "string", "how strict the ordering is", values=ORDER_KINDS,
              default="Mandatory"),
            K("symmetrical", "boolean", "stop in the reverse order",
              otherwise="true, false for Serialize"),
            K("sets", "tables", "resource sets, each before the next (instead of first/then)",
              table=RESOURCE_SET),
        ), "array")),
    K("colocation", "tables", "colocations", table=Table(
        "one colocation: resource runs where with runs (or sets)", (
            K("id", "id", "the constraint's id", otherwise="colocation-RESOURCE-WITH-SCORE"),
            K("resource", "string", "the resource placed", required=True,
              otherwise="unless sets are given"),
            K("with", "string", "the resource it follows", required=True,
              otherwise="unless sets are given"),
            K("score", "score", "INFINITY: must, -INFINITY: never, else a preference",
              default="INFINITY"),
            K("role", "string", "resource's role", values=ROLES),
            K("with_role", "string", "with's role", values=ROLES),
            K("sets", "tables", "resource sets colocated (instead of resource/with)",
              table=RESOURCE_SET),
        ), "array")),
    K("location", "tables", "node preferences", table=Table(
        "one node preference: prefers, avoids or rule", (
            K("id", "id", "the constraint's id (one resource only)",
              otherwise="location-RESOURCE-NODE-SCORE or location-RESOURCE"),
            K("resource", "string", "the resource", otherwise="resources instead"),
            K("resources", "strings", "several resources, the same preference each",
              otherwise="resource instead"),
            K("prefers", "string", "a node the resource prefers",
              otherwise="avoids or rule instead"),
            K("avoids", "string", "a node the resource avoids (the score made negative)",
              otherwise="prefers or rule instead"),
            K("rule", "string", "tests on node attributes joined by and/or: ATTRIBUTE OP VALUE "
              "(lt gt lte gte eq ne), defined ATTRIBUTE, not_defined ATTRIBUTE",
              otherwise="prefers or avoids instead"),
            K("score", "score", "how strong the preference is", default="INFINITY"),
            K("role", "string", "the role it applies to (a promotable clone's)", values=ROLES),
        ), "array")),
    K("alerts", "tables", "alert agents Pacemaker runs on events", table=Table(
        "one alert, named by its id", (
            K("path", "string", "the alert agent (an absolute path)", default=ALERT_PATH),
            K("recipients", "strings", "with ocfpy's agent: history log paths", default=[
                DEFAULT_LOG]),
            K("select", "strings", "the events sent", values=alerts.SELECT,
              default=list(alerts.SELECT[:3])),
            K("timeout", "duration", "the agent's time limit (meta attribute)"),
            K("params", "table", "the agent's instance attributes", default={},
              values=("the agent's parameters",)),
            K("description", "string", "a description, kept in the CIB"),
        ), "named")),
    K("remote", "table", "settings of all remote nodes", default={}, table=Table(
        "the settings of every remote node, all optional", (
            K("agents", "strings", "resources of these agents run only on remote nodes, every "
              "other only on full nodes", default=list(remote.DEFAULT_AGENTS)),
            K("port", "integer", "pacemaker_remoted's TCP port", default=remote.PORT),
            K("reconnect_interval", "duration", "how long a lost connection waits before "
              "retrying", default=remote.RemoteNode.reconnect_interval),
            K("monitor", "duration", "the connection resource's monitor interval",
              default=remote.Remote.monitor),
            K("connect_timeout", "duration", "the connection's start timeout",
              default=remote.Remote.connect_timeout),
        ))),
    K("remote_nodes", "tables", "hosts running resources through pacemaker_remote", table=Table(
        "one remote node, named by its host name", (
            K("address", "string", "the IP address pacemaker_remoted listens on",
              required=True),
            K("port", "integer", "its port", otherwise="[remote] port"),
            _NODE_ATTRIBUTES,
            K("fencing", "tables", "the remote node's fencing devices", table=FENCING),
            K("reconnect_interval", "duration", "its reconnect interval",
              otherwise="[remote] reconnect_interval"),
        ), "named")),
)))


_TRACK = TrackedAgent
HOSTS = Document("Hosts file", "the TOML file ocfgen units, keepalived and firewall read besides "
                 "the description",
                 Table("the top-level tables of a hosts file", (
    K("units", "tables", "systemd units ocfgen writes", table=Table(
        "one service unit, named by the unit (Pacemaker-managed when the description has a "
        "systemd:NAME resource)", (
            K("exec_start", "strings", "the command as words, the first an absolute path",
              required=True),
            K("description", "string", "Description=", default="", otherwise="the name"),
            K("user", "string", "who runs it (non-root units lose every capability)",
              default="", otherwise="root"),
            K("group", "string", "its group", default=""),
            K("working_directory", "string", "WorkingDirectory=", default=""),
            K("environment", "table", "environment variables (strings)", default={}),
            K("service_type", "string", "Type=", default="exec", values=SERVICE_TYPES),
            K("pid_file", "string", "PIDFile= (forking services)", default=""),
            K("restart", "string", "Restart= (a Pacemaker-managed unit always gets no)",
              default="on-failure", values=RESTART_POLICIES),
            K("restart_sec", "integer", "RestartSec=, seconds", default=5),
            K("timeout_start", "integer", "TimeoutStartSec=, seconds (keep it inside the "
              "resource's start timeout)", default=90),
            K("timeout_stop", "integer", "TimeoutStopSec=, seconds", default=30),
            K("read_write_paths", "strings", "the only paths it may write", default=[]),
            K("network", "boolean", "false cuts the network off", default=True),
            K("jit", "boolean", "lift MemoryDenyWriteExecute (Java)", default=False),
            K("realtime", "boolean", "lift RestrictRealtime (IOCs with real-time priorities)",
              default=False),
            K("devices", "strings", "devices it may use (replaces PrivateDevices)", default=[]),
            K("bind_privileged_port", "boolean", "keep CAP_NET_BIND_SERVICE", default=False),
            K("after", "strings", "units ordered before it (and wanted)",
              default=["network-online.target"]),
            K("enabled", "boolean", "started by systemd at boot (refused for a "
              "Pacemaker-managed unit)", default=False),
        ), "named")),
    K("keepalived", "tables", "keepalived VIP pairs", table=Table(
        "one VIP pair (a vrrp_instance), named by it: two nodes of the description", (
            K("virtual_router_id", "integer", "1-255, unique on the segment", required=True),
            K("vip", "string", "the address with its prefix, 192.0.2.30/24", required=True),
            K("interface", "string or table", "the interface, or { NODE = INTERFACE } per node",
              required=True),
            K("priorities", "table", "{ NODE = PRIORITY } for exactly two nodes, 1-254, "
              "different; the higher starts as MASTER", required=True),
            K("track", "string", "a resource of the description with an ocf:ocfpy agent whose "
              "monitor decides who may hold the VIP"),
            K("secret_file", "string", "a file holding a VRRPv2 PASS secret (see the secret "
              "rules)", otherwise="VRRPv3 without authentication"),
            K("unicast", "boolean", "advertise to the peer's address, not multicast",
              default=VipPair.unicast),
            K("advert_int", "integer", "seconds between advertisements, 1-255",
              default=VipPair.advert_int),
            K("notify_command", "strings", "run after each transition with TYPE NAME STATE "
              "PRIORITY appended; the first word an absolute path", default=[]),
            K("track_interval", "integer", "seconds between track checks",
              default=_TRACK.interval),
            K("track_timeout", "integer", "seconds a track check may take",
              default=_TRACK.timeout),
            K("track_fall", "integer", "failed checks before the node gives up the VIP",
              default=_TRACK.fall),
            K("track_rise", "integer", "passed checks before it may hold it again",
              default=_TRACK.rise),
            K("check_level", "integer", "the tracked monitor's OCF_CHECK_LEVEL",
              default=_TRACK.check_level),
        ), "named")),
    K("firewall", "table", "who may reach the services (ocfgen firewall)", table=Table(
        "the nftables rulesets' sources; the ports come from the description", (
            K("clients", "strings", "addresses or networks that may use the services (CA, ACS, "
              "archiver, DUCC)", default=[], otherwise="anyone"),
            K("admin", "strings", "addresses or networks that may reach the administration "
              "ports (ssh; IOC consoles are reached through it)", default=[], otherwise="anyone"),
            K("admin_ports", "integers", "administration ports (1-65535)", default=[22]),
            K("acs_daemons", "boolean", "also open the ACS container/services daemons (2970, "
              "2980)", default=False),
            K("extra", "tables", "ports of what the description does not model", table=Table(
                "one more opening", (
                    K("service", "string", "what it is for (the rule's comment)",
                      required=True),
                    K("protocol", "string", "the protocol", values=PROTOCOLS, required=True),
                    K("ports", "ports", "ports and [first, last] ranges, such as [8080, [9000, "
                      "9010]]", required=True),
                    K("sources", "strings", "addresses or networks that may connect",
                      default=[], otherwise="anyone"),
                ), "array")),
        ))),
)))

DOCUMENTS = (DESCRIPTION, HOSTS)
