"""ocfgen units, ocfgen keepalived, ocfgen firewall: the host files of a described cluster.

Each reads the cluster description (description.load) and, with --outputs, the host outputs file
(host_outputs.load), maps them onto its renderer's input, renders, optionally runs the real
validator, and writes the files. Exit codes: 0 success, 1 a validator refused an output,
2 a bad description, outputs file or command line (one located line on stderr). Nothing is
written unless every output rendered; secrets are read here (the renderers read no files) and
every file that holds one is written mode 0600.
"""

import os
import subprocess
import tempfile

import click

from .clirun import (
    BAD_INPUT,
    FAILED,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)


def _inputs(description, outputs):
    from .host_outputs import HostOutputs, HostOutputsError
    from .host_outputs import load as load_outputs

    cluster = load_description(description)
    try:
        extra = load_outputs(outputs) if outputs else HostOutputs()
    except HostOutputsError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    return cluster, extra


def _write(directory, files):
    """files: [(relative path, text, mode)] written below `directory` (nothing on failure)."""
    from .output_files import under, write_files

    if not directory:
        raise CommandFailed(BAD_INPUT, "--output-dir: an empty directory name")
    placed = [(under(directory, path), text, mode) for path, text, mode in files]
    try:
        write_files(placed)
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{exc.filename}: cannot write: {exc.strerror}") from None
    for path, _, _ in placed:
        click.echo(path)


def _lines(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return done.returncode, (done.stdout + done.stderr).strip()


outputs_option = click.option("--outputs", type=click.Path(dir_okay=False),
                              help="host outputs file ([units], [keepalived], [firewall])")
directory_option = click.option("-o", "--output-dir", required=True,
                                type=click.Path(file_okay=False),
                                help="directory to write into (created)")


@click.command()
@description_argument
@outputs_option
@directory_option
@click.option("--verify/--no-verify", default=True,
              help="run systemd-analyze verify on every unit (any line it prints fails)")
@guarded
def units(description, outputs, output_dir, verify):
    """systemd units, drop-ins and preset for the described services."""

    from .units import UnitError, render_all, units_from_model

    cluster, extra = _inputs(description, outputs)
    try:
        described, vendor = units_from_model(cluster, extra)
        files = render_all(described, vendor)
    except UnitError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    if verify:
        _verify_units(files)
    _write(output_dir, [(path, text, 0o644) for path, text in sorted(files.items())])


def _verify_units(files):
    with tempfile.TemporaryDirectory(prefix="ocfgen-units-") as scratch:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(scratch, path)), exist_ok=True)
            with open(os.path.join(scratch, path), "w") as f:
                f.write(text)
        # A vendor unit's drop-in is checked applied to a stand-in of that unit.
        stand_ins = []
        for path in files:
            unit = path.split("/", 1)[0][:-len(".d")] if "/" in path else ""
            if unit.endswith(".service") and unit not in files:
                with open(os.path.join(scratch, unit), "w") as f:
                    f.write("[Unit]\nDescription=stand-in\n\n[Service]\nExecStart=/bin/true\n")
                stand_ins.append(unit)
        for path in list(files) + stand_ins:
            if path.endswith(".service"):
                rc, output = _lines(["systemd-analyze", "verify", "--man=no",
                                     os.path.join(scratch, path)])
                if rc or output:
                    raise CommandFailed(FAILED, f"systemd-analyze verify {path}: "
                                        f"{output.replace(scratch + '/', '') or f'exit {rc}'}")


@click.command()
@description_argument
@outputs_option
@directory_option
@guarded
def keepalived(description, outputs, output_dir):
    """keepalived configurations, track and notify scripts of the VIP pairs, one tree per node
    (DIR/NODE/etc/keepalived/...). Check them on the nodes with `keepalived -t`."""

    from .keepalived import KeepalivedError, pairs_from_model, render

    cluster, extra = _inputs(description, outputs)
    if not extra.pairs:
        raise CommandFailed(BAD_INPUT, "no VIP pair described: add a [keepalived.NAME] table to the "
                               "--outputs file")
    secrets = {}
    for pair in extra.pairs:
        if pair.secret_file:
            secrets[pair.secret_file] = _read_secret(pair.secret_file, pair.where.at("secret_file"))
    try:
        pairs = pairs_from_model(cluster, extra, secrets)
        files = []
        seen = set()
        for pair in pairs:
            for node, outputs_of_node in render(pair).items():
                for f in outputs_of_node:
                    path = os.path.join(node, f.path.lstrip("/"))
                    if path in seen:
                        raise KeepalivedError(f"node {node} is in two VIP pairs: one keepalived"
                                              ".conf per node holds one pair in this version")
                    seen.add(path)
                    files.append((path, f.text, f.mode))
    except KeepalivedError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    _write(output_dir, files)


# A VRRP secret is 8 characters: a secret file larger than this is not one (nor is /dev/zero).
SECRET_FILE_MAX = 4096


def _read_secret(path, where):
    """The text of the secret file at `path`: a regular file only its owner can read, checked
    on the open file before anything is read. Errors never quote its content."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{where}: cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        status = os.fstat(f.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise CommandFailed(BAD_INPUT, f"{where}: {path} is not a regular file")
        if stat.S_IMODE(status.st_mode) & 0o077:
            raise CommandFailed(BAD_INPUT, f"{where}: {path} is readable by others (mode "
                                           f"{stat.S_IMODE(status.st_mode):04o}); chmod 600 it")
        data = f.read(SECRET_FILE_MAX + 1)
    if len(data) > SECRET_FILE_MAX:
        raise CommandFailed(BAD_INPUT, f"{where}: {path} is larger than {SECRET_FILE_MAX} bytes: "
                                       f"not a secret file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandFailed(BAD_INPUT, f"{where}: {path} is not text (VRRP PASS needs 8 "
                                       f"printable characters)") from None


@click.command()
@description_argument
@outputs_option
@directory_option
@click.option("--node", "nodes", multiple=True, help="only this node (repeatable)")
@click.option("--check/--no-check", default=False, help="run `nft -c -f` on each ruleset (root)")
@guarded
def firewall(description, outputs, output_dir, nodes, check):
    """nftables rulesets opening what the described cluster uses, DIR/NODE.nft per node."""

    from .firewall import FirewallError, firewall_from_model, render

    cluster, extra = _inputs(description, outputs)
    try:
        files = [(f"{node}.nft", render(firewall_from_model(cluster, extra, node)), 0o644)
                 for node in (nodes or [n.name for n in cluster.nodes])]
    except FirewallError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    if check:
        with tempfile.TemporaryDirectory(prefix="ocfgen-nft-") as scratch:
            for name, text, _ in files:
                path = os.path.join(scratch, name)
                with open(path, "w") as f:
                    f.write(text)
                rc, output = _lines(["nft", "-c", "-f", path])
                if rc or output:
                    raise CommandFailed(FAILED, f"nft -c -f {name}: {output or f'exit {rc}'}")
    _write(output_dir, files)
