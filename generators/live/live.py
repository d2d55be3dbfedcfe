"""Compare a generated CIB with a running cluster's, and change the cluster in one patch.

`query()` reads the live CIB (`cibadmin --query`; Pacemaker's CIB_file switch makes every
tool here work on an offline CIB file instead) with its version counters. `plan(live, cib,
digest)` merges the generated configuration into the live one under the ownership rule of
ocfpy.generators.live.ownership (the description owns what it names; the operators' settings,
resources and constraints stay) and lists the changes. `push(plan)` applies the plan as one
`crm_diff` patch made against the CIB version that was read: Pacemaker refuses a patch whose
source version is not the current one, so a change someone made after the read is never
overwritten (ChangedSinceRead, nothing applied). Changes of the status section alone (which
never touch the configuration: admin_epoch and epoch stay) are absorbed by patching again
against the new version.

Nothing here prints; failures raise LiveError with a one-line reason.
"""

import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from . import ownership


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

    def root(self):
        return ownership.parse(self.xml)

    def configuration(self):
        found = self.root().find("configuration")
        if found is None:
            raise LiveError("the live CIB has no configuration section")
        return found


@dataclass
class Plan:
    """What a push would do: the configuration afterwards and the changes to get there."""

    live: LiveCib
    configuration: object                 # the <configuration> element after the push
    scope: ownership.Scope
    changes: list = field(default_factory=list)
    unmanaged: list = field(default_factory=list)   # [(kind, id)] kept, not named
    provenance: str = ""                  # one line: which description the cluster runs


def _run(tool, args, timeout=60, ok=(0,)):
    try:
        done = subprocess.run([tool, *args], capture_output=True, timeout=timeout)
    except FileNotFoundError:
        raise LiveError(f"{tool} is not installed (Pacemaker's command-line tools)") from None
    except subprocess.TimeoutExpired:
        raise LiveError(f"{tool} {' '.join(args)} did not finish within {timeout}s") from None
    if done.returncode not in ok:
        reason = done.stderr.decode(errors="replace").strip().replace("\n", " ")
        raise LiveError(f"{tool} {args[0]} failed (exit {done.returncode}): {reason}")
    return done


def _versions(root):
    try:
        return tuple(int(root.get(name, "0")) for name in ("admin_epoch", "epoch", "num_updates"))
    except ValueError:
        raise LiveError("the live CIB has non-numeric version counters") from None


def query():
    from lxml import etree

    xml = _run("cibadmin", ["--query"]).stdout
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        raise LiveError(f"cibadmin --query returned no CIB: {exc}") from None
    if root.tag != "cib":
        raise LiveError(f"cibadmin --query returned <{root.tag}>, not a CIB")
    return LiveCib(xml, *_versions(root))


def provenance_values(digest):
    from ocfpy import __version__

    return {ownership.PROVENANCE_DIGEST: digest, ownership.PROVENANCE_VERSION: __version__}


def _provenance_line(live_values, digest, changed):
    ran = live_values.get(ownership.PROVENANCE_DIGEST)
    by = live_values.get(ownership.PROVENANCE_VERSION, "?")
    if not ran:
        return "provenance: the live configuration was never pushed by ocfgen"
    if digest is None:
        return f"provenance: the cluster runs description sha256:{ran} (pushed by ocfgen {by})"
    if ran == digest and changed:
        return (f"provenance: drift: the cluster runs this description (sha256:{ran}, ocfgen "
                f"{by}) but its configuration was changed outside it since")
    if ran == digest:
        return f"provenance: the cluster runs this description (sha256:{ran}, ocfgen {by})"
    return (f"provenance: the cluster runs another description: sha256:{ran} (ocfgen {by}); "
            f"this one is sha256:{digest}")


def plan(live, cib_bytes, digest, prune=False):
    """The push of generated CIB `cib_bytes` (description sha256 `digest`) onto `live`."""
    desired = ownership.parse(cib_bytes).find("configuration")
    scope = ownership.scope_of(desired)
    old = live.configuration()
    try:
        new = ownership.merge(old, desired, scope, prune=prune)
    except ownership.OwnershipError as exc:
        raise LiveError(str(exc)) from None
    ownership.set_provenance(new, provenance_values(digest))
    found = ownership.changes(old, new)
    return Plan(live, new, scope, found, [] if prune else ownership.unmanaged(old, scope, desired),
                _provenance_line(ownership.provenance(old), digest, bool(found)))


def plan_restore(live, configuration_text, scope):
    """Put back the owned part (`scope`) of a checkpointed configuration."""
    desired = ownership.parse(configuration_text.encode("utf-8"))
    old = live.configuration()
    try:
        new = ownership.merge(old, desired, scope)
    except ownership.OwnershipError as exc:
        raise LiveError(str(exc)) from None
    ownership.set_provenance(new, ownership.provenance(desired))
    found = ownership.changes(old, new)
    return Plan(live, new, scope, found, [],
                _provenance_line(ownership.provenance(old), None, bool(found)))


def configuration_text(element):
    from lxml import etree

    return etree.tostring(element, pretty_print=True, encoding="unicode")


def target_cib(live, configuration):
    """The whole CIB after the change: `live` with `configuration` and the next epoch."""
    import copy

    root = live.root()
    root.replace(root.find("configuration"), copy.deepcopy(configuration))
    root.set("epoch", str(live.epoch + 1))
    root.set("num_updates", "0")
    return root


def validate(plan):
    """Problems the CIB schemas find in the configuration after the push ([] if none)."""
    from lxml import etree

    from ..verify.validate import relaxng

    data = etree.tostring(target_cib(plan.live, plan.configuration), encoding="UTF-8")
    return relaxng(data).problems


def _patch(live, configuration):
    """A crm_diff patch (bytes) from `live` to the CIB with `configuration`."""
    from lxml import etree

    original = etree.tostring(live.root(), encoding="UTF-8")
    new = etree.tostring(target_cib(live, configuration), encoding="UTF-8")
    with tempfile.TemporaryDirectory(prefix="ocfgen-patch-") as scratch:
        paths = [os.path.join(scratch, name) for name in ("original.xml", "new.xml")]
        for path, data in zip(paths, (original, new)):
            with open(path, "wb") as out:
                out.write(data)
        done = _run("crm_diff", ["--original", paths[0], "--new", paths[1]], ok=(0, 1))
    return done.stdout if done.returncode == 1 else None


def _apply(patch):
    handle, path = tempfile.mkstemp(prefix="ocfgen-patch-", suffix=".xml")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(patch)
        _run("cibadmin", ["--patch", "--xml-file", path])
    finally:
        os.unlink(path)


def push(plan, before_patch=None, attempts=5):
    """Apply `plan` as one patch against the version it was made from.

    `before_patch` (tests: a seam to change the CIB concurrently) runs after the patch is made
    and before it is applied. ChangedSinceRead when the configuration moved on since the read
    (nothing applied); the new LiveCib otherwise.
    """
    live = plan.live
    for attempt in range(attempts):
        patch = _patch(live, plan.configuration)
        if patch is None:
            return live
        if before_patch is not None and attempt == 0:
            before_patch()
        try:
            _apply(patch)
            return query()
        except LiveError as refused:
            now = query()
            if (now.admin_epoch, now.epoch) != (live.admin_epoch, live.epoch):
                raise ChangedSinceRead(
                    f"the live configuration changed since it was read (admin_epoch/epoch "
                    f"{live.admin_epoch}/{live.epoch} then, {now.admin_epoch}/{now.epoch} now); "
                    f"Pacemaker refused the patch and nothing was applied: run the command "
                    f"again to see the new differences") from None
            if now.num_updates == live.num_updates:
                raise refused
            live = now   # only the status moved: the same configuration, a patch against it
    raise LiveError(f"the cluster status kept changing: the patch was refused {attempts} times; "
                    f"nothing was applied")
