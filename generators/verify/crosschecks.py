"""Checks across resources of a cluster description, run by its loader after the per-resource
checks (so `ocfgen check`, build and every other command see them).

Refused (located errors):
- a ducc-head whose `vip` differs from the address of the IPaddr2 it is colocated with: DUCC
  decides which head is master by whether ducc.head's address is on the host, so such a head is
  never master where Pacemaker promotes it;
- an address off every subnet of the hosts, or with two managers (generators/verify/network_checks);
- a service that another supervisor would also start: procServ run without --noautorestart
  (procServ restarts its child itself), or DUCC's own start-up (start_ducc, ducc.py,
  ducc_boot.py) run as a resource next to ducc-head/ducc-agent resources that own DUCC's daemons.
Warned (located):
- an operation whose timeout is shorter than the one the agent advises (crmsh warns the same);
- a monitor OCF_CHECK_LEVEL the agent does not offer (ocfpy agents declare `check_levels`; other
  agents the depths of their meta-data's monitor actions).
"""

import ipaddress
import os
import shlex

from ..load import agents
from ..load.positions import line_of
from ..load.values import seconds
from ..model.cluster import CLONE, GROUP

ADDRESS_AGENTS = ("ocf:heartbeat:IPaddr2", "ocf:heartbeat:IPaddr")
DUCC_AGENTS = ("ocf:ocfpy:ducc-head", "ocf:ocfpy:ducc-agent")
# DUCC's own start-up scripts: run as a resource, they start the daemons ducc-head/ducc-agent own.
DUCC_STARTERS = ("start_ducc", "ducc.py", "ducc_boot.py")
# Parameters that hold a command line run by the agent.
COMMAND_PARAMS = ("command", "ioc_command", "monitor_command")
# Pacemaker's default operation timeout.
PACEMAKER_TIMEOUT = "20s"


def check(reader, cluster):
    """Run every cross-resource check; reader.fail raises (ending that check: its error is
    recorded and the next check runs), reader.warn records."""
    primitives = {p.id: p for p in cluster.primitives}
    with reader.collect():
        ducc_head_vips(reader, cluster, primitives)
    with reader.collect():
        other_supervisors(reader, cluster)
    with reader.collect():
        operations(reader, cluster)
    from . import network_checks  # imports this module's ADDRESS_AGENTS

    with reader.collect():
        network_checks.check(reader, cluster)


def members(cluster, rid):
    """The primitive ids inside resource `rid` (itself when it is a primitive)."""
    kinds = cluster.resource_kinds()
    if kinds.get(rid) == CLONE:
        clone = next(c for c in cluster.clones if c.id == rid)
        return members(cluster, clone.child)
    if kinds.get(rid) == GROUP:
        return [m for g in cluster.groups if g.id == rid for m in g.members]
    return [rid]


def colocated_pairs(cluster):
    """(resource, other resource, colocation index) for every positive colocation."""
    for index, colocation in enumerate(cluster.colocations):
        if str(colocation.score).startswith("-"):
            continue
        if colocation.sets:
            together = [rid for rset in colocation.sets for rid in rset.resources]
        else:
            together = [colocation.resource, colocation.with_resource]
        for rid in together:
            for other in together:
                if rid != other:
                    yield rid, other, index


def _same_address(one, two):
    try:
        return ipaddress.ip_address(one) == ipaddress.ip_address(two)
    except ValueError:
        return one == two


def ducc_head_vips(reader, cluster, primitives):
    for rid, other, index in colocated_pairs(cluster):
        heads = [primitives[m] for m in members(cluster, rid)
                 if m in primitives and primitives[m].agent == "ocf:ocfpy:ducc-head"]
        addresses = [primitives[m] for m in members(cluster, other)
                     if m in primitives and primitives[m].agent in ADDRESS_AGENTS]
        for head in heads:
            for address in addresses:
                ip = address.params.get("ip", "")
                vip = head.params.get("vip", "")
                line = line_of(reader.positions, ("colocation", index))
                where = f"the colocation at line {line}" if line else f"colocation[{index}]"
                if not vip:
                    reader.warn(("resources", head.id, "params"),
                                f"vip is not set, while {head.id} is colocated with "
                                f"{address.id} ({address.agent}, ip {ip}) by {where}: set "
                                f"vip = {ip!r} so the monitor checks the master holds it")
                elif ip and not _same_address(vip, ip):
                    reader.fail(("resources", head.id, "params", "vip"),
                                f"vip {vip} is not {ip}, the ip of {address.id} "
                                f"({address.agent}) colocated with it by {where}: DUCC makes "
                                f"the head holding ducc.head's address master, so {head.id} "
                                f"would never be master where Pacemaker promotes it")


def _commands(primitive):
    """(parameter, words) of the command lines a primitive's agent runs."""
    for name in COMMAND_PARAMS:
        text = primitive.params.get(name, "")
        if text:
            try:
                yield name, shlex.split(text)
            except ValueError:  # the parameter's own check reports the quoting
                continue


def other_supervisors(reader, cluster):
    ducc_owners = [p.id for p in cluster.primitives if p.agent in DUCC_AGENTS]
    for primitive in cluster.primitives:
        for name, words in _commands(primitive):
            path = ("resources", primitive.id, "params", name)
            programs = [os.path.basename(word) for word in words]
            if "procServ" in programs and "--noautorestart" not in words:
                reader.fail(path, "runs procServ without --noautorestart: procServ would restart "
                                  "its child itself, behind Pacemaker's back (add "
                                  "--noautorestart, or use ocf:ocfpy:epics-ioc)")
            starter = next((p for p in programs if p in DUCC_STARTERS), None)
            if starter and ducc_owners:
                reader.fail(path, f"runs DUCC's own start-up ({starter}) while "
                                  f"{', '.join(ducc_owners)} run DUCC's daemons under Pacemaker: "
                                  f"two supervisors would start them (leave DUCC's start-up "
                                  f"and autostart to the ducc-head/ducc-agent resources)")
        unit = primitive.type.removesuffix(".service")
        if primitive.standard in ("systemd", "lsb", "service") and ducc_owners and (
                unit.lower().startswith("ducc")):
            reader.fail(("resources", primitive.id, "agent"),
                        f"{primitive.agent} starts DUCC too, while {', '.join(ducc_owners)} run "
                        f"DUCC's daemons under Pacemaker: two supervisors would start them")


def _offered_levels(primitive, info):
    """The OCF_CHECK_LEVEL values the agent offers, or None when unknown."""
    if primitive.standard == "ocf" and primitive.provider == "ocfpy":
        from ocfpy import catalogue

        levels = getattr(catalogue.load(primitive.type), "check_levels", None)
        return None if levels is None else tuple(levels)
    depths = {int(a.depth) for a in info.actions
              if a.name == "monitor" and a.depth and a.depth.isdigit()}
    return tuple(sorted(depths | {0})) if depths else None


def _advised_timeout(info, op):
    actions = [a for a in info.actions if a.name == op.name and a.timeout]
    if op.name == "monitor" and op.role:
        actions = [a for a in actions if a.role == op.role] or actions
    return actions[0].timeout if actions else None


def operations(reader, cluster):
    default = cluster.op_defaults.get("timeout")
    for primitive in cluster.primitives:
        try:
            info = agents.agent_info(primitive.standard, primitive.provider, primitive.type)
        except LookupError:  # an unknown ocfpy agent was refused already
            continue
        if info is None:
            continue
        for op in primitive.ops:
            if not op.origin:  # copied from the agent's own advice
                continue
            advised = _advised_timeout(info, op)
            given = op.timeout or default or PACEMAKER_TIMEOUT
            source = ("" if op.timeout else
                      " (from [op_defaults])" if default else " (Pacemaker's default)")
            shorter = advised is not None and isinstance(seconds(given), int) and isinstance(
                seconds(advised), int) and seconds(given) < seconds(advised)
            if shorter:
                reader.warnings.append(f"{op.origin}: timeout {given}{source} of {op.name} is "
                                       f"shorter than the {advised} {primitive.agent} advises")
            if op.check_level is not None:
                offered = _offered_levels(primitive, info)
                if offered is not None and op.check_level not in offered:
                    reader.warnings.append(
                        f"{op.origin}: OCF_CHECK_LEVEL {op.check_level} is not a depth "
                        f"{primitive.agent} offers ({', '.join(map(str, offered))})")
