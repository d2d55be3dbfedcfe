"""Reliable DUCC head mode: master, backup or unspecified, as ducc_head_mode.py answers it.

A head node is the master when the configured virtual IP (ducc.head) is one of this host's
addresses, the backup when it is not, and unspecified when no reliable head is configured.
DUCC's own script looks for the address as a substring of `ip addr` output, so 10.0.0.1 also
"matches" 10.0.0.10 and 10.0.0.100; here addresses are compared as addresses, exactly.

pyroute2 (netlink) is imported only when the addresses are read.

CLI: `python -m ocfpy.headmode [--vip ADDRESS | --properties FILE ...]` prints the mode.
"""

import os
import sys

MASTER = "master"
BACKUP = "backup"
UNSPECIFIED = "unspecified"


class HeadModeError(ValueError):
    """A configuration that does not name a usable address; one line saying why."""


def local_addresses():
    """Every address on this host's interfaces (in this network namespace), as ip_address."""
    import ipaddress

    from pyroute2 import IPRoute

    found = set()
    with IPRoute() as ipr:
        for message in ipr.get_addr():
            # IFA_LOCAL is the interface's own IPv4 address (IFA_ADDRESS is the peer on a
            # point-to-point link); IPv6 only has IFA_ADDRESS.
            text = message.get_attr("IFA_LOCAL") or message.get_attr("IFA_ADDRESS")
            if text:
                found.add(ipaddress.ip_address(text.split("%")[0]))
    return found


def vip_addresses(vip):
    """The addresses `vip` (an address or a host name) stands for; HeadModeError if none."""
    import ipaddress

    text = vip.strip()
    try:
        return {ipaddress.ip_address(text.strip("[]"))}
    except ValueError:
        pass
    if not text or any(c.isspace() or c in "/,;" for c in text):
        raise HeadModeError(f"ducc.head {vip!r} is neither an IP address nor a host name")
    import socket

    try:
        infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise HeadModeError(f"ducc.head {text!r} does not resolve: {exc.strerror}") from None
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def head_mode(vip, addresses=None):
    """MASTER when `vip` is exactly one of `addresses` (default: this host's), else BACKUP;
    UNSPECIFIED when vip is empty or None (no reliable head configured)."""
    if vip is None or not str(vip).strip():
        return UNSPECIFIED
    wanted = vip_addresses(str(vip))
    here = local_addresses() if addresses is None else _as_addresses(addresses)
    return MASTER if wanted & here else BACKUP


def _as_addresses(addresses):
    import ipaddress

    return {ipaddress.ip_address(str(a)) for a in addresses}


def read_properties(path):
    """A Java .properties file as a dict (comments, `=`/`:` separators, continuation lines)."""
    values = {}
    try:
        with open(path, encoding="latin-1") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise HeadModeError(f"cannot read {path}: {exc.strerror}") from None
    pending = ""
    for line in lines:
        line = pending + line.lstrip()
        pending = ""
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut < 0:
            key, value = line.split(None, 1) if " " in line else (line, "")
        else:
            key, value = line[:cut], line[cut + 1:]
        values[key.strip()] = value.strip()
    return values


def mode_from_properties(paths, addresses=None):
    """The head mode from DUCC properties files (later files override earlier ones)."""
    values = {}
    for path in paths:
        values.update(read_properties(path))
    if not values.get("ducc.head.reliable.list", "").strip():
        return UNSPECIFIED
    vip = values.get("ducc.head", "")
    if not vip.strip():
        raise HeadModeError("ducc.head.reliable.list is set but ducc.head (the VIP) is not")
    return head_mode(vip, addresses)


def default_properties(ducc_home):
    resources = os.path.join(ducc_home, "resources")
    return [p for p in (os.path.join(resources, "default.ducc.properties"),
                        os.path.join(resources, "site.ducc.properties")) if os.path.exists(p)]


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        prog="ocfpy-ducc-head-mode",
        description="Print master, backup or unspecified: whether this host holds the reliable "
                    "DUCC head's virtual IP (exact address match).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--vip", help="the virtual IP (ducc.head) to look for")
    source.add_argument("--properties", action="append", metavar="FILE",
                        help="DUCC properties file(s); default: $DUCC_HOME/resources/"
                             "{default,site}.ducc.properties")
    args = parser.parse_args(argv)
    try:
        if args.vip is not None:
            mode = head_mode(args.vip)
        else:
            paths = args.properties
            if not paths:
                home = os.environ.get("DUCC_HOME", "")
                if not home:
                    raise HeadModeError("give --vip or --properties, or set DUCC_HOME")
                paths = default_properties(home)
                if not paths:
                    raise HeadModeError(f"no ducc.properties under {home}/resources")
            mode = mode_from_properties(paths)
    except HeadModeError as exc:
        print(f"ocfpy-ducc-head-mode: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ocfpy-ducc-head-mode: cannot read this host's addresses: {exc}", file=sys.stderr)
        return 1
    print(mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
