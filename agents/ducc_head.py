"""ocf:ocfpy:ducc-head: the daemons of a reliable DUCC head node, as a promotable resource.

Every head node runs the head daemons (broker, orchestrator, rm, pm, sm, ws); the promoted
instance is the master, which holds the head's virtual IP (ducc.head), the others are backups.
DUCC's daemons decide master or backup by whether the VIP is on one of their host's
interfaces; with vip_interface set this agent moves the VIP itself (added on promote, removed on
demote and stop), otherwise an address resource colocated with the promoted role does.

Monitor: 0 unpromoted and healthy, 8 promoted and healthy, 9 promoted with a daemon missing,
1 unpromoted with a daemon missing, 7 none running. Healthy instances advertise a promotion
score (crm_attribute --promotion): 100, and 110 for the master (or, before any promotion, a head
that already holds the VIP), so the master stays put. A level-0 monitor reads the recorded
daemons' /proc entries and nothing else; the VIP is only looked at when the score is set and by
monitors of depth 10. Depth 20 also asks DUCC's web server for its reliable status.
"""

from ocfpy.agent import Agent
from ocfpy.codes import OCF, OCFError
from ocfpy.numbers import is_digits
from ocfpy.params import Parameter, ParameterError

from . import ducc_env

STATE_MARKER = "ocfpy-ducc-head-state 1"
BASE_SCORE = 100
SEND_ARP = "/usr/libexec/heartbeat/send_arp"  # resource-agents' gratuitous ARP sender
VIP_BONUS = 10


def _address(value):
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"must be an IP address, not {value!r}") from None


def _http_url(value):
    scheme, sep, rest = value.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or rest.startswith("/") \
            or any(c.isspace() for c in value):
        raise ValueError(f"must be an http:// or https:// URL, not {value!r}")


def _interface(value):
    if len(value) > 15 or "/" in value or any(c.isspace() for c in value):
        raise ValueError(f"must be a network interface name, not {value!r}")


def _vip_for_interface(values):
    if values.vip_interface and not values.vip:
        raise ParameterError("vip", "must be set when vip_interface is (the address to add)")


def _prefix_fits_vip(values):
    if values.vip and ":" not in values.vip and values.vip_prefix > 32:
        raise ParameterError("vip_prefix", f"is {values.vip_prefix}, too long for IPv4 "
                                           f"vip {values.vip} (at most 32)")


class StateFile:
    """role and whether we added the VIP, in a file only this agent writes.

    Read, replaced and removed through ocfpy.safefile: a regular file of root's in a directory
    only root can write; the check that it is ours and the change happen on one open directory.
    """

    def __init__(self, path):
        self.path = path

    def _parse(self, data):
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines or lines[0] != STATE_MARKER:
            raise OCFError(OCF.ERR_GENERIC, f"{self.path} exists and was not written by ocfpy")
        return dict(line.partition("=")[::2] for line in lines[1:])

    def _refused(self, exc):
        return OCFError(OCF.ERR_GENERIC, f"state file {self.path}: {exc}")

    def read(self):
        from ocfpy import safefile

        try:
            data = safefile.read(self.path)
        except OSError as exc:
            raise self._refused(exc) from None
        return {} if data is None else self._parse(data)

    def write(self, values):
        from ocfpy import safefile

        text = STATE_MARKER + "\n" + "".join(f"{k}={v}\n" for k, v in values.items())
        directory, name = safefile.split(self.path)
        try:
            with safefile.Directory(directory, create=True) as handle:
                existing = handle.read(name)
                if existing is not None:
                    self._parse(existing)  # refuses a file that is not ours
                handle.replace(name, text.encode())
        except OSError as exc:
            raise self._refused(exc) from None

    def update(self, **changes):
        values = self.read()
        values.update({k: str(v) for k, v in changes.items()})
        self.write(values)

    def remove(self):
        from ocfpy import safefile

        try:
            safefile.remove(self.path, self._parse)  # _parse refuses a file that is not ours
        except OSError as exc:
            raise self._refused(exc) from None


def _fetch_status(url, timeout):
    """The first 4 KiB of the body at url, as text; OSError when there is none. Plain http://
    goes through ocfpy.httpget (one socket); https:// needs urllib and ssl."""
    scheme, _, rest = url.partition("://")
    hostport, _, path = rest.partition("/")
    host, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "80")
    if scheme != "http" or "[" in hostport or not is_digits(port) or not host:
        from urllib.request import urlopen

        with urlopen(url, timeout=timeout) as reply:
            return reply.read(4096).decode("utf-8", "replace")
    from ocfpy import httpget

    try:
        status, body = httpget.get(host, int(port), "/" + path, timeout, accept="*/*",
                                   limit=1 << 16)
    except httpget.HTTPFailure as exc:
        raise OSError(str(exc)) from None
    if status != 200:
        raise OSError(f"HTTP Error {status}")
    return body[:4096].decode("utf-8", "replace")


def _parse_daemons(text):
    """{component: Identity} from the state's `daemons` entry (component:pid:start,...)."""
    from ocfpy.identity import Identity

    recorded = {}
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) == 3 and is_digits(parts[1]) and is_digits(parts[2]):
            recorded[parts[0]] = Identity(parts[1], parts[2], "")  # /run does not outlive a boot
    return recorded


class DuccHeadAgent(Agent):
    name = "ducc-head"
    check_levels = (0, 10, 20)  # the OCF_CHECK_LEVEL depths its monitor tells apart
    shortdesc = "Reliable DUCC head node daemons (promoted = master)"
    longdesc = (
        "Runs the DUCC head daemons (broker, orchestrator, rm, pm, sm, ws by default) on a head "
        "node through DUCC_HOME/admin/ducc.py as a promotable clone: the promoted instance is "
        "the master head (it holds the VIP ducc.head), unpromoted instances are backups. The "
        "monitor finds each daemon by the -Dducc.deploy.components mark DUCC puts on its "
        "command line; with OCF_CHECK_LEVEL 10 a promoted instance also needs the VIP on this "
        "host (exact address match), and with 20 DUCC's web server (status_url) must answer "
        "master on the promoted head and backup on the others."
    )
    parameters = ducc_env.parameters() + (
        Parameter("components", default="broker or rm pm sm ws",
                  check=ducc_env.components_check(ducc_env.HEAD_COMPONENTS),
                  shortdesc="Head components to run (ducc.py -c names)",
                  longdesc="Space-separated ducc.py component names among broker, or, rm, pm, "
                           "sm, ws and db, started in this order and stopped in reverse."),
        Parameter("vip", default="", check=_address,
                  shortdesc="The head's virtual IP (ducc.head)",
                  longdesc="The reliable head's virtual address. Where it is on an interface "
                           "the promotion score is 10 higher; a promoted instance at monitor "
                           "depth 10 requires it here."),
        Parameter("vip_interface", default="", check=_interface,
                  shortdesc="Interface this agent adds the VIP to when promoted (optional)"),
        Parameter("vip_prefix", "integer", default="32", minimum=1, maximum=128,
                  shortdesc="Prefix length of the VIP when the agent adds it"),
        Parameter("status_url", default="", check=_http_url, reloadable=True,
                  shortdesc="The web server's reliable-status URL, checked at depth 20",
                  longdesc="e.g. http://127.0.0.1:42133/ducc-servlet/cluster-reliable-status. "
                           "Monitors of depth 20 fetch it and require the answer master on "
                           "the promoted head and backup on the others."),
        Parameter("status_timeout", "integer", default="3000", minimum=100, maximum=60000,
                  reloadable=True, shortdesc="Milliseconds the status_url may take"),
    )
    timeouts = dict(Agent.timeouts, start=120, stop=120, promote=30, demote=30)
    rules = (_vip_for_interface, _prefix_fits_vip)

    def __init__(self, request, log):
        super().__init__(request, log)
        self.ducc = ducc_env.DuccEnvironment(self)
        from ocfpy.service import run_path

        self.state = StateFile(run_path(self.name, request.instance, ".state"))

    def components(self):
        return tuple(self.params.components.split())

    def validate(self):
        self.ducc.validate()

    # Life cycle.
    def start(self):
        present = ducc_env.running(self.ducc.home, self.components())
        for component in self.components():
            if not present[component]:
                self.ducc.start(component, self.remaining() / 2)

    def stop(self):
        self._drop_vip()
        self.ducc.stop(tuple(reversed(self.components())))
        self.state.remove()
        self.clear_promotion_score()

    def promote(self):
        self._health()
        if self.params.vip_interface:
            self._add_vip()
        self.state.update(role="promoted")
        self._advertise()
        self.log.info("promoted: this head is the master")
        return OCF.SUCCESS

    def demote(self):
        # No health check: a failed master must still be demotable on the way to recovery.
        self._drop_vip()
        self.state.update(role="unpromoted")
        self.log.info("demoted: this head is a backup")
        return OCF.SUCCESS

    def notify(self):
        info = self.request.notify
        if info.type and info.operation:
            promoting = info.unames.get("promote", [])
            self.log.info(f"notify {info.type}-{info.operation}"
                          + (f": promoting {' '.join(promoting)}" if promoting else ""))
        return OCF.SUCCESS

    def reload_agent(self):
        # Every reloadable parameter is read afresh by each operation: nothing to apply.
        return OCF.SUCCESS

    # Monitor.
    def monitor(self):
        promoted = self.state.read().get("role") == "promoted"
        missing, present = self._missing()
        if not present:
            if promoted:
                raise OCFError(OCF.FAILED_PROMOTED, "promoted head has no DUCC daemon running")
            return OCF.NOT_RUNNING
        if missing:
            self.clear_promotion_score()
            code = OCF.FAILED_PROMOTED if promoted else OCF.ERR_GENERIC
            raise OCFError(code, f"DUCC head daemon(s) not running: {', '.join(missing)}")
        if promoted and self.request.check_level >= 10 and self.params.vip:
            mode = self._mode()
            if mode != "master":
                raise OCFError(OCF.FAILED_PROMOTED,
                               f"promoted but the VIP {self.params.vip} is not on this host")
        if self.request.check_level >= 20 and self.params.status_url:
            self._check_status(promoted)
        if not self.request.is_probe:
            self._advertise()
        return OCF.RUNNING_PROMOTED if promoted else OCF.SUCCESS

    def _check_status(self, promoted):
        """The web server must agree: master on the promoted head, backup elsewhere."""
        expected = "master" if promoted else "backup"
        failed = OCF.FAILED_PROMOTED if promoted else OCF.ERR_GENERIC
        timeout = min(self.params.status_timeout / 1000.0, max(0.1, self.remaining() / 2))
        try:
            answer = _fetch_status(self.params.status_url, timeout).strip().lower()
        except OSError as exc:
            raise OCFError(failed, f"status_url {self.params.status_url}: "
                                   f"{getattr(exc, 'reason', None) or exc}") from None
        words = set(answer.replace('"', " ").replace(",", " ").split())
        if expected not in words:
            raise OCFError(failed, f"DUCC says {answer[:40]!r}, expected {expected} "
                                   f"({'promoted' if promoted else 'unpromoted'} head)")

    def _missing(self):
        """(missing components, whether any runs). The daemons recorded by an earlier check are
        verified first (a few /proc reads); only when one of them is gone is /proc scanned."""
        components = self.components()
        state = self.state.read()
        recorded = _parse_daemons(state.get("daemons", ""))
        if set(recorded) == set(components) and all(i.alive() for i in recorded.values()):
            return [], True
        found = ducc_env.running(self.ducc.home, components)
        missing = [c for c in components if not found[c]]
        if not missing:
            state["daemons"] = ",".join(f"{c}:{found[c][0].pid}:{found[c][0].start_ticks}"
                                        for c in components)
            self.state.write(state)
        return missing, len(missing) < len(components)

    def _health(self):
        missing, present = self._missing()
        if missing:
            raise OCFError(OCF.ERR_GENERIC,
                           f"DUCC head daemon(s) not running: {', '.join(missing)}")

    # Promotion scores: only call crm_attribute when the score changes.
    def _advertise(self):
        """Set the promotion score when it may have changed: after start or a role change.

        The promoted head scores 10 more, so it stays put; so does a head that already holds
        the VIP when it first advertises (say keepalived put it there before Pacemaker ran).
        The VIP is looked up (pyroute2) only then, never on every monitor. An agent not run by
        Pacemaker (no OCF_RESKEY_crm_feature_set, which the cluster passes to every operation:
        ocf-tester, a shell) has no cluster to advertise to, and crm_attribute would fail on
        every monitor: it is not called.
        """
        if "OCF_RESKEY_crm_feature_set" not in self.request.environ:
            return
        state = self.state.read()
        role = state.get("role", "unpromoted")
        if state.get("score") and state.get("score_role") == role:
            return
        score = BASE_SCORE
        if role == "promoted" or (self.params.vip and self._mode() == "master"):
            score += VIP_BONUS
        if self.set_promotion_score(score):
            state.update(score=str(score), score_role=role)
            self.state.write(state)

    def clear_promotion_score(self):
        try:
            state = self.state.read()
        except OCFError:
            state = {}
        if state.pop("score", None) is not None:  # read from the file, so it exists
            state.pop("score_role", None)
            self.state.write(state)
        return super().clear_promotion_score()

    # The VIP.
    def _mode(self):
        from ocfpy.headmode import head_mode

        try:
            return head_mode(self.params.vip)
        except (OSError, ValueError) as exc:
            self.log.warning(f"cannot tell whether the VIP is here: {exc}")
            return "unknown"

    def _add_vip(self):
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        if self._mode() == "master":
            return
        with IPRoute() as ipr:
            links = ipr.link_lookup(ifname=self.params.vip_interface)
            if not links:
                raise OCFError(OCF.ERR_INSTALLED,
                               f"vip_interface {self.params.vip_interface} does not exist here")
            try:
                ipr.addr("add", index=links[0], address=self.params.vip,
                         prefixlen=self.params.vip_prefix)
            except NetlinkError as exc:
                raise OCFError(OCF.ERR_GENERIC, f"cannot add {self.params.vip} to "
                                                f"{self.params.vip_interface}: {exc}") from None
        self.state.update(vip_added=self.params.vip_interface)
        self.log.info(f"added VIP {self.params.vip}/{self.params.vip_prefix} to "
                      f"{self.params.vip_interface}")
        self._announce_vip()

    def _announce_vip(self):
        """Gratuitous ARP so that neighbours forget the old master's MAC (as IPaddr2 does)."""
        import os

        from ocfpy.command import SpawnError, run

        if ":" in self.params.vip or not os.access(SEND_ARP, os.X_OK):
            return
        argv = [SEND_ARP, "-i", "100", "-r", "3", self.params.vip_interface, self.params.vip,
                "auto", "not_used", "not_used"]
        try:
            finished = run(argv, timeout=max(0.5, min(5.0, self.remaining() / 2)),
                           env=dict(self.request.environ))
        except SpawnError as exc:
            self.log.warning(f"send_arp for {self.params.vip} failed: {exc}")
            return
        if finished.status != 0:
            said = f": {finished.gist}" if finished.gist else ""
            self.log.warning(f"send_arp for {self.params.vip} {finished.how}{said}")

    def _drop_vip(self):
        """Remove the VIP only if this agent added it."""
        try:
            state = self.state.read()
        except OCFError:
            return
        interface = state.get("vip_added")
        if not interface or not self.params.vip:
            return
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        with IPRoute() as ipr:
            links = ipr.link_lookup(ifname=interface)
            if links:
                try:
                    ipr.addr("del", index=links[0], address=self.params.vip,
                             prefixlen=self.params.vip_prefix)
                except NetlinkError as exc:
                    if exc.code != 99:  # EADDRNOTAVAIL: already gone
                        raise OCFError(OCF.ERR_GENERIC, f"cannot remove {self.params.vip} from "
                                                        f"{interface}: {exc}") from None
        state.pop("vip_added", None)
        self.state.write(state)
        self.log.info(f"removed VIP {self.params.vip} from {interface}")


def main():
    import sys

    sys.exit(DuccHeadAgent.main())


if __name__ == "__main__":
    main()
