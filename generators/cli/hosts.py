"""ocfgen units, ocfgen keepalived, ocfgen firewall: the host files of a described cluster.

Each reads the cluster description (description.load) and, with --hosts, the hosts file
(load/hosts.load), maps them onto its renderer's input, renders, runs the real validator
(--verify: hostverify) and writes the files into -o/--output-dir DIR. Exit codes: 0 success,
1 a validator refused an output, 2 a bad description, hosts file or command line, or nothing
to write (one located line on stderr). Nothing is written unless every output rendered and
passed; secrets are read here (the renderers read no files) and every file that holds one is
written mode 0600.
"""

import os

import click

from ..load.values import SECRET_FILE_MAX
from ..verify import hostverify
from . import options as cliopts
from .run import (
    BAD_INPUT,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)


def _inputs(description, hosts):
    cluster = load_description(description)
    return cluster, load_hosts_file(cluster, hosts)


def load_hosts_file(cluster, hosts):
    """The HostOutputs of the hosts file (empty without one), its keepalived instances
    checked against the description (network_checks): each problem one line, exit 2."""
    from ..load.hosts import HostOutputs, HostOutputsError
    from ..load.hosts import load as load_hosts
    from ..verify.network_checks import hosts_problems

    try:
        extra = load_hosts(hosts) if hosts else HostOutputs()
    except HostOutputsError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    problems = hosts_problems(cluster, extra)
    for problem in problems[:-1]:
        click.echo(problem, err=True)
    if problems:
        raise CommandFailed(BAD_INPUT, problems[-1])
    return extra


def _write(directory, files, passed=()):
    """files: [(relative path, text, mode)] written below `directory` (nothing on failure);
    passed: [(relative path, tool)] said on stderr once written."""
    from ..render.output_files import under, write_files

    if not directory:
        raise CommandFailed(BAD_INPUT, "--output-dir: an empty directory name")
    placed = [(under(directory, path), text, mode) for path, text, mode in files]
    try:
        write_files(placed)
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{exc.filename}: cannot write: {exc.strerror}") from None
    for path, _, _ in placed:
        click.echo(path)
    cliopts.verified((under(directory, path), tool) for path, tool in passed)


def _none_in(hosts, table):
    """Why the hosts file gave nothing to write: none given, or no `table` in it."""
    return (f"no --hosts file given (its {table} tables describe them)" if not hosts else
            f"{hosts} has no {table} table")


@click.command()
@description_argument
@cliopts.hosts_file
@cliopts.output_dir("the units, drop-ins and preset")
@cliopts.verify("systemd-analyze verify", "every unit and, applied to its unit, each drop-in "
                "(any line it prints fails)")
@guarded
def units(description, hosts, output_dir, verify):
    """systemd units, drop-ins and preset for the described services.

    From the description's systemd: resources (a drop-in and a preset leave them to
    Pacemaker) and the hosts file's [units.NAME] tables; nothing to write exits 2.
    """

    from ..render.units import UnitError, render_all, units_from_model

    cluster, extra = _inputs(description, hosts)
    try:
        described, vendor = units_from_model(cluster, extra)
        files = render_all(described, vendor)
    except UnitError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    if not files:
        raise CommandFailed(BAD_INPUT, f"{description}: nothing to write: no systemd: resource "
                                       f"in the description, and "
                                       f"{_none_in(hosts, '[units.NAME]')}")
    passed = hostverify.units(files) if cliopts.verifying(verify, hostverify.units_why_not()) \
        else []
    _write(output_dir, [(path, text, 0o644) for path, text in sorted(files.items())], passed)


@click.command()
@description_argument
@cliopts.hosts_file
@cliopts.output_dir("one tree per node, DIR/NODE/etc/keepalived/")
@cliopts.verify("keepalived -t", "each node's configuration as that node (its interface and "
                "/etc/keepalived in private namespaces; root), and sh -n on each script")
@guarded
def keepalived(description, hosts, output_dir, verify):
    """keepalived configurations, track and notify scripts of the hosts file's VIP pairs, one
    tree per node (DIR/NODE/etc/keepalived/...)."""

    from ..render.keepalived import KeepalivedError, pairs_from_model, render

    cluster, extra = _inputs(description, hosts)
    if not extra.pairs:
        raise CommandFailed(BAD_INPUT, f"nothing to write: no VIP pair: "
                                       f"{_none_in(hosts, '[keepalived.NAME]')}")
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
    passed = hostverify.keepalived(pairs, files) \
        if cliopts.verifying(verify, hostverify.keepalived_why_not()) else []
    _write(output_dir, files, passed)




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
@cliopts.hosts_file
@cliopts.output_dir("one ruleset per node, DIR/NODE.nft")
@click.option("--node", "nodes", multiple=True, help="Only this node (repeatable).")
@cliopts.verify("nft -c -f", "each ruleset (root)", old="--check/--no-check")
@guarded
def firewall(description, hosts, output_dir, nodes, verify):
    """nftables rulesets opening what the described cluster uses, DIR/NODE.nft per node."""

    from ..render.firewall import FirewallError, firewall_from_model, render

    cluster, extra = _inputs(description, hosts)
    if not cluster.nodes:
        raise CommandFailed(BAD_INPUT, f"{description}: nothing to write: the description has "
                                       f"no [nodes.NAME] table to write a ruleset for")
    try:
        files = [(f"{node}.nft", render(firewall_from_model(cluster, extra, node)), 0o644)
                 for node in (nodes or [n.name for n in cluster.nodes])]
    except FirewallError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    passed = hostverify.nft(files) if cliopts.verifying(verify, hostverify.nft_why_not()) \
        else []
    _write(output_dir, files, passed)
