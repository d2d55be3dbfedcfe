"""The real tools run on what `ocfgen units|keepalived|firewall|remote` write, before writing.

Each checker takes the files as the command will write them, puts them in a private scratch
directory, runs the tool and returns [(relative path, what passed)] of the files it checked;
a file the tool refuses raises CommandFailed(FAILED) with the tool's first complaint (any line
the tool prints counts as one). Each `*_why_not()` is '' when its tool can run here, else why
not (cliopts.verifying decides what then happens).
"""

import os
import shlex
import shutil
import subprocess
import tempfile

from ..errors import FAILED, CommandFailed

SYSTEMD_ANALYZE = "systemd-analyze verify"
NFT = "nft -c -f"
KEEPALIVED_DIR = "/etc/keepalived"


def _must_pass(argv, label, scratch, timeout=120):
    """Run a checker; CommandFailed naming `label` with what it said (scratch paths cut) when
    it exits other than 0 or says anything at all."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    output = (done.stdout + done.stderr).strip()
    if done.returncode or output:
        raise CommandFailed(FAILED, f"{label}: "
                                    f"{output.replace(scratch + '/', '') or f'exit {done.returncode}'}")


def _missing(*tools):
    absent = [tool for tool in tools if shutil.which(tool) is None]
    return f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not installed" if absent \
        else ""


def _put(scratch, path, text, mode=0o644):
    full = os.path.join(scratch, path)
    os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
    with open(os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)
    os.chmod(full, mode)
    return full


def units_why_not():
    return _missing("systemd-analyze")


def units(files):
    """files: {relative path: text}. Every .service file with `systemd-analyze verify`, each
    drop-in applied to its unit (a stand-in unit when the unit is a vendor's)."""
    passed = []
    with tempfile.TemporaryDirectory(prefix="ocfgen-units-") as scratch:
        for path, text in files.items():
            _put(scratch, path, text)
        stand_ins = set()
        for path in files:
            unit = path.split("/", 1)[0][:-len(".d")] if "/" in path else ""
            if unit.endswith(".service") and unit not in files and unit not in stand_ins:
                _put(scratch, unit, "[Unit]\nDescription=stand-in\n\n[Service]\n"
                                    "ExecStart=/bin/true\n")
                stand_ins.add(unit)
        for path in sorted(set(files) | stand_ins):
            if not path.endswith(".service"):
                continue
            _must_pass(["systemd-analyze", "verify", "--man=no", os.path.join(scratch, path)],
                       f"{SYSTEMD_ANALYZE} {path}", scratch)
        for path in sorted(files):
            unit = path.split("/", 1)[0][:-len(".d")] if "/" in path else path
            if path == unit and path.endswith(".service"):
                passed.append((path, SYSTEMD_ANALYZE))
            elif unit.endswith(".service"):
                stand_in = " (a stand-in of the vendor's unit)" if unit in stand_ins else ""
                passed.append((path, f"{SYSTEMD_ANALYZE} of {unit}{stand_in} with it"))
    return passed


def nft_why_not():
    return _missing("nft") or ("nft -c needs root" if os.geteuid() else "")


def nft(files):
    """files: [(relative path, ruleset text, mode)], each checked with `nft -c -f`."""
    passed = []
    with tempfile.TemporaryDirectory(prefix="ocfgen-nft-") as scratch:
        for name, text, _ in files:
            _must_pass(["nft", "-c", "-f", _put(scratch, name, text)], f"{NFT} {name}", scratch,
                       timeout=60)
            passed.append((name, NFT))
    return passed


def keepalived_why_not():
    missing = _missing("keepalived", "unshare", "ip", "sh")
    if missing:
        return missing
    if os.geteuid():
        return "keepalived -t in a namespace needs root"
    if not os.path.isdir(KEEPALIVED_DIR):
        return f"{KEEPALIVED_DIR} does not exist here (keepalived -t reads the node's files there)"
    return ""


def keepalived(pairs, files):
    """files: [("NODE/etc/keepalived/...", text, mode)] of the VIP `pairs` (keepalived.VipPair).
    Per node, in fresh network and mount namespaces gone when the check ends: the node's VRRP
    interface with its address, its etc/keepalived over /etc/keepalived, then `keepalived -t`
    (which also finds the scripts the configuration names and checks their paths are root's
    only); every script also passes `sh -n`."""
    import ipaddress

    passed = []
    with tempfile.TemporaryDirectory(prefix="ocfgen-keepalived-") as scratch:
        for path, text, mode in files:
            _put(scratch, path, text, mode)
        for pair in pairs:
            prefix = ipaddress.ip_interface(pair.vip).network.prefixlen
            for peer in pair.peers:
                root = os.path.join(scratch, peer.node, KEEPALIVED_DIR.lstrip("/"))
                other = "ocfgen1" if peer.interface != "ocfgen1" else "ocfgen2"
                q = shlex.quote
                script = [f"mount --bind {q(root)} {KEEPALIVED_DIR}", "ip link set lo up",
                          f"ip link add {q(peer.interface)} type veth peer name {other}",
                          f"ip addr add {q(f'{peer.address}/{prefix}')} dev "
                          f"{q(peer.interface)}",
                          f"exec keepalived -t -f {KEEPALIVED_DIR}/keepalived.conf"]
                config = f"{peer.node}/{KEEPALIVED_DIR.lstrip('/')}/keepalived.conf"
                _must_pass(["unshare", "--net", "--mount", "--propagation", "private",
                            "sh", "-ec", "\n".join(script)],
                           f"keepalived -t {config} (as {peer.node})", scratch, timeout=60)
                passed.append((config, f"keepalived -t as {peer.node} (interface "
                                       f"{peer.interface})"))
        for path, _, _ in files:
            if not path.endswith("keepalived.conf"):
                _must_pass(["sh", "-n", os.path.join(scratch, path)], f"sh -n {path}", scratch,
                           timeout=30)
                passed.append((path, "sh -n and keepalived -t (found, root's only)"))
    return sorted(passed)
