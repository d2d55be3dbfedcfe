"""What ocfgen writes for the hosts besides the cluster's configuration, as data: the input of
a keepalived VIP pair (render/keepalived.py) and the vocabularies of units and firewall rules
(render/units.py, render/firewall.py). The hosts-file reader (load/hosts.py, load/keys.py)
checks against these; the renderers turn them into files. No I/O.
"""

from dataclasses import dataclass
from typing import Optional

SERVICE_TYPES = ("simple", "exec", "notify", "forking", "oneshot")
RESTART_POLICIES = ("no", "on-failure", "on-abnormal", "on-abort", "always")
PROTOCOLS = ("tcp", "udp", "vrrp")


@dataclass(frozen=True)
class VrrpPeer:
    """One node of the pair: its name, the interface carrying VRRP and the VIP, its own address
    there (the unicast source) and its priority (1-254; the higher one starts as MASTER)."""

    node: str
    interface: str
    address: str
    priority: int


@dataclass(frozen=True)
class TrackedAgent:
    """The ocfpy agent whose monitor decides whether a node may hold the VIP.

    agent: ocfpy agent type (a catalogue name); instance: OCF_RESOURCE_INSTANCE (the Pacemaker
    resource id, so pidfile defaults match); params: (name, value) pairs as in the CIB;
    interval/timeout in seconds; fall/rise as in keepalived; check_level: OCF_CHECK_LEVEL.
    """

    agent: str
    instance: str
    params: tuple[tuple[str, str], ...] = ()
    interval: int = 5
    timeout: int = 10
    fall: int = 2
    rise: int = 1
    check_level: int = 0


@dataclass(frozen=True)
class VipPair:
    """name: the vrrp_instance name; virtual_router_id: 1-255, unique on the segment; vip:
    "address/prefix"; advert_int: seconds between advertisements; unicast: advertise to the
    peer's address instead of multicast; secret: None for VRRPv3 without authentication, or the
    contents of the secret file (VRRPv2 PASS); secret_origin: where that came from, for errors;
    notify_command: argv run after each transition with TYPE NAME STATE PRIORITY appended."""

    name: str
    virtual_router_id: int
    vip: str
    peers: tuple[VrrpPeer, VrrpPeer]
    track: Optional[TrackedAgent] = None
    advert_int: int = 1
    unicast: bool = True
    secret: Optional[str] = None
    secret_origin: str = "the secret file"
    notify_command: tuple[str, ...] = ()
