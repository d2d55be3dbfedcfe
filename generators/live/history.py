"""Checkpoints: the configuration each push or rollback replaced, for `ocfgen rollback`.

One JSON file per checkpoint, `NNNNNN.json` (mode 0600, directory 0700: a configuration holds
fencing credentials), in DIR/checkpoints/CLUSTER-NAME, DIR being $OCFGEN_STATE_DIR or
/var/lib/ocfgen. A checkpoint records when and by whom, the sha256 of the description pushed
(and of the one that ran before, from the live provenance), the CIB version replaced, the
configuration replaced and the ownership scope of the push, so that a rollback restores
exactly what that push changed. The newest KEEP checkpoints are kept.
"""

import json
import os
import re
from dataclasses import asdict, dataclass, field

STATE_ENV = "OCFGEN_STATE_DIR"
DEFAULT_STATE = "/var/lib/ocfgen"
KEEP = 20


class HistoryError(RuntimeError):
    pass


@dataclass
class Checkpoint:
    number: int
    time: str                   # UTC, ISO 8601
    user: str
    action: str                 # push DESCRIPTION / rollback N
    digest: str                 # sha256 of the description pushed ("" for a rollback)
    replaced_digest: str        # the description that ran before, from the live provenance
    version: str                # "admin_epoch.epoch.num_updates" replaced
    scope: dict = field(default_factory=dict)
    configuration: str = ""
    path: str = ""


def directory(cluster_name, base=None):
    base = base or os.environ.get(STATE_ENV) or DEFAULT_STATE
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", cluster_name or "unnamed") or "unnamed"
    return os.path.join(base, "checkpoints", name)


def cluster_name(configuration):
    """The cluster-name option of a <configuration> (None if it has none)."""
    return next((nv.get("value") for nv in configuration.iterfind(
        "crm_config/cluster_property_set/nvpair[@name='cluster-name']")), None)


def _user():
    import pwd

    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = str(os.getuid())
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {name})" if sudo and sudo != name else name


def entries(where):
    """Every checkpoint in `where`, oldest first."""
    try:
        names = sorted(n for n in os.listdir(where) if re.match(r"\d{6}\.json\Z", n))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise HistoryError(f"{where}: {exc.strerror}") from None
    return [read(os.path.join(where, n)) for n in names]


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        data.pop("path", None)
        return Checkpoint(**data, path=path)
    except (OSError, ValueError, TypeError) as exc:
        raise HistoryError(f"{path}: not a readable checkpoint: {exc}") from None


def find(where, number=None):
    """Checkpoint `number` (None: the newest)."""
    found = entries(where)
    if not found:
        raise HistoryError(f"no checkpoints in {where}: nothing was pushed from here yet")
    if number is None:
        return found[-1]
    for checkpoint in found:
        if checkpoint.number == number:
            return checkpoint
    raise HistoryError(f"no checkpoint {number} in {where} (have "
                       f"{', '.join(str(c.number) for c in found)})")


def _private_directory(where):
    from ..render.output_files import make_directories

    make_directories(os.path.dirname(where))
    try:
        os.mkdir(where, 0o700)
    except FileExistsError:
        pass
    os.chmod(where, 0o700)


def save(where, **fields):
    """Write a new checkpoint (the next number); `trim` once the change it records is made."""
    import datetime

    from ..render.output_files import write_file

    try:
        _private_directory(where)
        found = entries(where)
        number = found[-1].number + 1 if found else 1
        checkpoint = Checkpoint(number=number, user=_user(),
                                time=datetime.datetime.now(datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%SZ"), **fields)
        checkpoint.path = os.path.join(where, f"{number:06d}.json")
        data = asdict(checkpoint)
        data.pop("path")
        write_file(checkpoint.path, json.dumps(data, indent=1) + "\n", 0o600)
    except OSError as exc:
        raise HistoryError(f"{where}: cannot keep a checkpoint: {exc.strerror}") from None
    return checkpoint


def trim(where, keep=KEEP):
    """Drop the oldest checkpoints beyond the newest `keep`."""
    found = entries(where)
    for old in found[:max(0, len(found) - keep)]:
        os.unlink(old.path)


def discard(checkpoint):
    """Remove a checkpoint whose push did not happen."""
    try:
        os.unlink(checkpoint.path)
    except FileNotFoundError:
        pass
