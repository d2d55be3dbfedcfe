"""Compare a generated CIB with a running cluster's, and replace the configuration safely.

`query()` reads the live CIB (`cibadmin --query`, honouring CIB_file for offline copies) with
its version counters. `configuration(live, cib)` takes the generated <configuration> and keeps
the cluster options Pacemaker maintains itself (dc-version, cluster-infrastructure, ...).
`diff(live, configuration)` is a unified diff of the two configurations. `push(live,
configuration)` replaces the configuration with one `cibadmin --replace --scope configuration`,
after checking that admin_epoch and epoch are still those `query()` saw: if anyone changed the
configuration since it was read (and shown to the user), the push is refused.

Nothing here prints; failures raise LiveError with a one-line reason.
"""

import os
import subprocess
import tempfile
from dataclasses import dataclass

# Cluster options the cluster writes itself: kept from the live CIB, never shown as a change.
MAINTAINED = ("dc-version", "cluster-infrastructure", "have-watchdog", "last-lrm-refresh")


class LiveError(RuntimeError):
    pass


class ChangedSinceRead(LiveError):
    pass


@dataclass
class LiveCib:
    xml: bytes
    admin_epoch: int
    epoch: int
    num_updates: int


def _cibadmin(args, timeout=60):
    try:
        done = subprocess.run(["cibadmin", *args], capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise LiveError("cibadmin is not installed") from None
    except subprocess.TimeoutExpired:
        raise LiveError(f"cibadmin {' '.join(args)} did not finish within {timeout}s") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().replace("\n", " ")
        raise LiveError(f"cibadmin {args[0]} failed (exit {done.returncode}): {reason}")
    return done.stdout


def _versions(root):
    try:
        return tuple(int(root.get(name, "0")) for name in ("admin_epoch", "epoch", "num_updates"))
    except ValueError:
        raise LiveError("the live CIB has non-numeric version counters") from None


def query():
    from lxml import etree

    xml = _cibadmin(["--query"])
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        raise LiveError(f"cibadmin --query returned no CIB: {exc}") from None
    return LiveCib(xml, *_versions(root))


def configuration(live, cib_bytes):
    """The generated <configuration> as bytes, with the cluster-maintained options kept."""
    from lxml import etree

    new = etree.fromstring(cib_bytes).find("configuration")
    old = etree.fromstring(live.xml).find("configuration")
    if old is not None:
        kept = [nv for nv in old.iterfind("crm_config/cluster_property_set/nvpair")
                if nv.get("name") in MAINTAINED]
        if kept:
            target = new.find("crm_config/cluster_property_set")
            if target is None:
                target = etree.SubElement(new.find("crm_config"), "cluster_property_set",
                                          id="cib-bootstrap-options")
            present = {nv.get("id") for nv in new.iter("nvpair")}
            for nv in kept:
                if nv.get("id") not in present:
                    target.append(etree.fromstring(etree.tostring(nv)))
    return etree.tostring(new, pretty_print=True, encoding="UTF-8")


def _normal(element_bytes):
    """Configuration text for comparison: no comments, attributes as written, stable indent."""
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    element = etree.fromstring(element_bytes, parser)
    return etree.tostring(element, pretty_print=True, encoding="unicode").splitlines()


def diff(live, configuration_bytes, context=3):
    """Unified diff lines from the live configuration to the generated one ([] if equal)."""
    import difflib

    from lxml import etree

    old = etree.fromstring(live.xml).find("configuration")
    old_lines = _normal(etree.tostring(old)) if old is not None else []
    new_lines = _normal(configuration_bytes)
    return list(difflib.unified_diff(old_lines, new_lines, "live configuration",
                                     "generated configuration", n=context, lineterm=""))


def push(live, configuration_bytes):
    """Replace the live configuration, refusing if it changed since `live` was read."""
    from lxml import etree

    now = etree.fromstring(_cibadmin(["--query", "--xpath", "/cib", "--no-children"]))
    admin_epoch, epoch, _ = _versions(now)
    if (admin_epoch, epoch) != (live.admin_epoch, live.epoch):
        raise ChangedSinceRead(
            f"the live configuration changed since it was read (admin_epoch/epoch "
            f"{live.admin_epoch}/{live.epoch} then, {admin_epoch}/{epoch} now): run diff again")
    handle, path = tempfile.mkstemp(prefix="ocfgen-push-", suffix=".xml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(configuration_bytes)
        _cibadmin(["--replace", "--scope", "configuration", "--xml-file", path])
    finally:
        os.unlink(path)
