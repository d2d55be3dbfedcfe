"""ocfgen's CIB commands: build, check, simulate, diff, push and graph.

Exit codes: 0 success (diff: no difference), 1 the generated CIB failed a validator, a
simulation or live-cluster step failed, or diff found differences, 2 a bad description or
command line (one located line on stderr), 70 an internal error (a bug: also one line).
No command ever leaves a partial output file behind.
"""

import os
import sys
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


def _render(cluster):
    from .cib import RenderError, render

    try:
        return render(cluster)
    except RenderError as exc:
        raise CommandFailed(BAD_INPUT, f"{cluster.source}: {exc}") from None


def _validate(cib_bytes, path, crm_verify=True):
    """Problems found by the RNG schemas and crm_verify (the CIB is already at `path`)."""
    from . import validate

    checks = [validate.relaxng(cib_bytes)]
    if crm_verify and checks[0].ok:
        checks.append(validate.crm_verify(path))
    for check in checks:
        if check.skipped:
            click.echo(f"warning: {check.tool} skipped: {check.skipped}", err=True)
    return [f"{check.tool}: {problem}" for check in checks for problem in check.problems]


def _fail_validation(source, problems):
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CommandFailed(FAILED, f"{source}: the generated CIB does not validate: {first}{more}")


class _Scratch:
    """A private temporary file holding the CIB, removed afterwards."""

    def __init__(self, data, directory=None):
        self.data = data
        self.directory = directory

    def __enter__(self):
        try:
            handle, self.path = tempfile.mkstemp(prefix=".ocfgen-", suffix=".xml",
                                                 dir=self.directory)
            with os.fdopen(handle, "wb") as out:
                out.write(self.data)
        except OSError as exc:
            raise CommandFailed(BAD_INPUT, f"{self.directory or tempfile.gettempdir()}: cannot write: "
                                   f"{exc.strerror}") from None
        return self.path

    def __exit__(self, *exc):
        if os.path.exists(self.path):
            os.unlink(self.path)


@click.command()
@description_argument
@click.option("-o", "--output", default="-", show_default=True,
              help="Where to write the CIB ('-' for standard output).")
@click.option("--no-verify", is_flag=True, help="Skip crm_verify (the RNG schemas still apply).")
@guarded
def build(description, output, no_verify):
    """Generate the CIB of DESCRIPTION, validated, written atomically."""
    cluster = load_description(description)
    data = _render(cluster)
    directory = None
    if not output:
        raise CommandFailed(BAD_INPUT, "--output: an empty path (use '-' for standard output)")
    if output != "-":
        from .output_files import foreign

        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: no directory {directory}")
        if foreign(output):
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {foreign(output)}")
    # The CIB is validated in a private file next to the output, which then replaces the
    # output in one rename: a reader sees the old file or the new one, never a part.
    with _Scratch(data, directory) as path:
        problems = _validate(data, path, crm_verify=not no_verify)
        if problems:
            raise _fail_validation(description, problems)
        if output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            os.chmod(path, 0o644)
            os.replace(path, output)
    if output != "-":
        click.echo(f"{output}: {len(cluster.primitives)} resources, "
                   f"{len(cluster.orders) + len(cluster.colocations) + len(cluster.locations)} "
                   f"constraints, validated", err=True)


@click.command()
@description_argument
@guarded
def check(description):
    """Check DESCRIPTION and validate its CIB without writing anything."""
    cluster = load_description(description)
    corosync = _check_corosync(cluster)
    data = _render(cluster)
    with _Scratch(data) as path:
        problems = _validate(data, path)
    if problems:
        raise _fail_validation(description, problems)
    click.echo(f"{description}: ok ({len(cluster.nodes)} nodes, {len(cluster.primitives)} "
               f"resources; relax-ng and crm_verify pass{corosync})")


def _check_corosync(cluster):
    """corosync's own checks of the description's cluster layer, when it describes one."""
    if not cluster.nodes or not all(node.addresses for node in cluster.nodes):
        return ""
    from .corosync import CorosyncConfigError, validate
    from .corosync_map import corosync_cluster

    try:
        warnings = validate(corosync_cluster(cluster))
    except CorosyncConfigError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    return "; corosync settings valid"


@click.command()
@description_argument
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@guarded
def simulate(description, as_json):
    """Where every resource runs, and what happens when each node is lost."""
    from .simulate import SimulationError
    from .simulate import simulate as run

    cluster = load_description(description)
    if not cluster.nodes:
        raise CommandFailed(BAD_INPUT, f"{description}: nodes: the description has no nodes to "
                               f"simulate on")
    data = _render(cluster)
    with _Scratch(data) as path:
        try:
            result = run(path, [n.name for n in cluster.nodes])
        except SimulationError as exc:
            raise CommandFailed(FAILED, f"{description}: simulation failed: {exc}") from None
    resources = [p.id for p in cluster.primitives] + [d.id for d in cluster.fence_devices()]
    if as_json:
        import json

        click.echo(json.dumps({
            "placement": {r: result.placement.get(r, []) for r in resources},
            "losses": {node: [vars(c) for c in changes]
                       for node, changes in result.losses.items()},
        }, indent=2, sort_keys=True))
        return
    click.echo("Placement with every node up:")
    width = max((len(r) for r in resources), default=0)
    for rid in resources:
        nodes = result.placement.get(rid)
        click.echo(f"  {rid:<{width}}  {', '.join(nodes) if nodes else 'STOPPED (cannot run)'}")
    if any(c.promotable for c in cluster.clones):
        click.echo("\nNote: promotion follows the location scores in the description; the "
                   "promotion scores agents set at run time are not simulated.")
    for node, changes in result.losses.items():
        click.echo(f"\nIf {node} is lost:")
        if not changes:
            click.echo("  nothing changes")
        for change in changes:
            detail = f" ({change.detail})" if change.detail else ""
            why = f" {change.why}" if change.why else ""
            click.echo(f"  {change.action} {change.resource}{detail}{why}")


def _live(cluster):
    from .live import LiveError, configuration, query

    data = _render(cluster)
    with _Scratch(data) as path:
        problems = _validate(data, path)
    if problems:
        raise _fail_validation(cluster.source, problems)
    try:
        live = query()
        return live, configuration(live, data)
    except LiveError as exc:
        raise CommandFailed(FAILED, f"live cluster: {exc}") from None


@click.command()
@description_argument
@guarded
def diff(description):
    """Show how the running cluster's configuration differs from DESCRIPTION's."""
    from .live import diff as compare

    cluster = load_description(description)
    live, new = _live(cluster)
    lines = compare(live, new)
    for line in lines:
        click.echo(line)
    sys.exit(1 if lines else 0)


@click.command()
@description_argument
@click.option("-y", "--yes", is_flag=True, help="Do not ask before replacing.")
@guarded
def push(description, yes):
    """Replace the running cluster's configuration with DESCRIPTION's, in one step.

    Refused if the cluster's configuration changed (admin_epoch/epoch) since it was read.
    """
    from .live import LiveError
    from .live import diff as compare
    from .live import push as replace

    cluster = load_description(description)
    live, new = _live(cluster)
    lines = compare(live, new)
    if not lines:
        click.echo("the live configuration already matches; nothing to push")
        return
    for line in lines:
        click.echo(line)
    if not yes and not click.confirm(
            f"Replace the configuration (admin_epoch {live.admin_epoch}, epoch {live.epoch})?"):
        raise CommandFailed(FAILED, "not pushed")
    try:
        replace(live, new)
    except LiveError as exc:
        raise CommandFailed(FAILED, f"push refused: {exc}") from None
    click.echo(f"pushed {description} ({len(cluster.primitives)} resources)")


@click.command()
@description_argument
@click.option("-o", "--output", default="-", show_default=True,
              help="Output file: .svg renders with Graphviz, anything else is DOT text.")
@guarded
def graph(description, output):
    """Draw DESCRIPTION's resources and constraints (Graphviz DOT or SVG)."""
    from .graph import dot, svg
    from .output_files import write_files

    cluster = load_description(description)
    text = dot(cluster)
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        if output.endswith(".svg"):
            picture = svg(text)
            if picture is None:
                raise CommandFailed(FAILED, f"{output}: Graphviz's dot is not installed; write .dot "
                                    f"instead")
            write_files([(output, picture.decode("utf-8"), 0o644)])
        else:
            write_files([(output, text, 0o644)])
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {exc.strerror}") from None
