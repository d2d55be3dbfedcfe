"""ocfgen's CIB commands: build, check, simulate, diff, push and graph.

Exit codes: 0 success, 1 the generated CIB failed a validator or a simulation failed (or,
for simulate and check --n-1, losing a node leaves a resource stopped that the description
does not accept), 2 a bad description or command line (one located line on stderr), 70 an
internal error (a bug: also one line). diff and push, on a live cluster, exit like diff(1): see their --help.
No command ever leaves a partial output file behind.
"""

import os
import sys
import tempfile

import click

from . import options as cliopts
from .run import (
    BAD_INPUT,
    FAILED,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)


def _render(cluster):
    from ..render.cib import RenderError, render

    try:
        return render(cluster)
    except RenderError as exc:
        raise CommandFailed(BAD_INPUT, f"{cluster.source}: {exc}") from None


def _validate(cib_bytes, path, crm_verify=True):
    """Problems found by the RNG schemas and crm_verify (the CIB is already at `path`)."""
    from ..verify import validate

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
@cliopts.output_file("The file to write the CIB to ('-': standard output).")
@cliopts.verify("crm_verify", "the CIB (the RNG schemas apply either way)")
@guarded
def build(description, output, verify):
    """Generate the CIB of DESCRIPTION, validated, written atomically."""
    import shutil

    cluster = load_description(description)
    verify = cliopts.verifying(verify, "" if shutil.which("crm_verify") else
                               "crm_verify is not installed")
    data = _render(cluster)
    directory = None
    if not output:
        raise CommandFailed(BAD_INPUT, "--output: an empty path (use '-' for standard output)")
    if output != "-":
        from ..render.output_files import foreign

        directory = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(directory):
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: no directory {directory}")
        why = foreign(output, inputs=[description])
        if why:
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {why}")
    # The CIB is validated in a private scratch file, then written (ocfpy.safefile, as every
    # output): a reader of the output sees the old file or the new one, never a part.
    with _Scratch(data, directory) as path:
        problems = _validate(data, path, crm_verify=verify)
    if problems:
        raise _fail_validation(description, problems)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        from ..render.output_files import write_files

        try:
            write_files([(output, data, 0o644)])
        except OSError as exc:
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {exc.strerror or exc}") from None
    if verify:
        cliopts.verified([(output if output != "-" else "standard output", "crm_verify")])
    if output != "-":
        click.echo(f"{output}: {len(cluster.primitives)} resources, "
                   f"{len(cluster.orders) + len(cluster.colocations) + len(cluster.locations)} "
                   f"constraints, validated", err=True)


@click.command()
@description_argument
@click.option("--n-1", "n_minus_1", is_flag=True,
              help="Also check that losing any one node leaves no resource stopped that the "
                   "description does not accept (exit 1 if one does).")
@cliopts.hosts_file
@guarded
def check(description, n_minus_1, hosts):
    """Check DESCRIPTION and validate its CIB without writing anything.

    With --hosts, also read the hosts file and check its keepalived instances against the
    description: each VIP on its peers' subnet, and managed by keepalived alone."""
    cluster = load_description(description)
    if hosts:
        from .hosts import load_hosts_file

        pairs = len(load_hosts_file(cluster, hosts).pairs)
        click.echo(f"{hosts}: ok ({pairs} keepalived instance(s) checked against "
                   f"{description})")
    corosync = _check_corosync(cluster)
    data = _render(cluster)
    with _Scratch(data) as path:
        problems = _validate(data, path)
        if problems:
            raise _fail_validation(description, problems)
        holds = _n_minus_1(cluster, path) if n_minus_1 else True
    click.echo(f"{description}: ok ({len(cluster.nodes)} nodes, {len(cluster.primitives)} "
               f"resources; relax-ng and crm_verify pass{corosync})" if holds else
               f"{description}: N-1 capacity does not hold")
    if not holds:
        sys.exit(FAILED)


def _n_minus_1(cluster, path):
    """Print the N-1 verdict of the CIB at `path`; whether it holds (generators.verify.capacity)."""
    from ..verify.capacity import verdict_lines
    from ..verify.simulate import SimulationError

    if not cluster.nodes:
        raise CommandFailed(BAD_INPUT, f"{cluster.source}: nodes: the description has no "
                                       f"nodes to lose")
    try:
        lines, holds = verdict_lines(cluster, path)
    except SimulationError as exc:
        raise CommandFailed(FAILED, f"{cluster.source}: simulation failed: {exc}") from None
    for line in lines:
        click.echo(line)
    return holds


def _check_corosync(cluster):
    """corosync's own checks of the description's cluster layer, when it describes one."""
    if not cluster.nodes or not all(node.addresses for node in cluster.nodes):
        return ""
    from ..model.corosync_map import corosync_cluster
    from ..render.corosync import CorosyncConfigError, validate

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
@click.option("--graph", "picture", metavar="FILE",
              help="Also draw where resources run before and after each node loss into FILE; "
                   "its extension picks the format: .svg, .png or .pdf (Graphviz), .dot or .gv "
                   "(DOT text).")
@click.option("--lose", metavar="NODE", help="With --graph: draw only the loss of NODE.")
@guarded
def simulate(description, as_json, picture, lose):
    """Where every resource runs, what happens when each node is lost, and the N-1 verdict."""
    from ..verify.simulate import SimulationError
    from ..verify.simulate import simulate as run

    _picture_file(description, picture, lose)
    cluster = load_description(description)
    if not cluster.nodes:
        raise CommandFailed(BAD_INPUT, f"{description}: nodes: the description has no nodes to "
                               f"simulate on")
    names = [n.name for n in cluster.nodes]
    if lose is not None and lose not in names:
        raise CommandFailed(BAD_INPUT, f"--lose: {lose!r} is not a node of {description} "
                                       f"({', '.join(names)})")
    data = _render(cluster)
    with _Scratch(data) as path:
        try:
            result = run(path, [n.name for n in cluster.nodes])
        except SimulationError as exc:
            raise CommandFailed(FAILED, f"{description}: simulation failed: {exc}") from None
        if as_json:
            from ..verify.capacity import verdict_lines

            try:
                n_1 = verdict_lines(cluster, path)
            except SimulationError as exc:
                raise CommandFailed(FAILED, f"{description}: simulation failed: {exc}") from None
        else:
            n_1 = None
    if picture:
        _draw_placement(cluster, result, picture, lose)
    resources = [p.id for p in cluster.primitives] + [d.id for d in cluster.fence_devices()]
    if as_json:
        import json

        click.echo(json.dumps({
            "placement": {r: result.placement.get(r, []) for r in resources},
            "losses": {node: [vars(c) for c in changes]
                       for node, changes in result.losses.items()},
            "n_minus_1": {"lines": n_1[0], "holds": n_1[1]},
        }, indent=2, sort_keys=True))
        sys.exit(0 if n_1[1] else FAILED)
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
    click.echo("")
    with _Scratch(data) as path:
        holds = _n_minus_1(cluster, path)
    if not holds:
        sys.exit(FAILED)


def _picture_file(description, picture, lose):
    """Refuse a --graph FILE that cannot be written, before anything is computed."""
    from ..render.graph import FORMATS
    from ..render.output_files import foreign

    if picture is None:
        if lose is not None:
            raise CommandFailed(BAD_INPUT, "--lose: chooses the loss --graph draws; give "
                                           "--graph FILE too")
        return
    extension = os.path.splitext(picture)[1].lower()
    if picture in ("", "-") or extension not in FORMATS:
        raise CommandFailed(BAD_INPUT, f"--graph: {picture!r} is not a picture file; name it "
                                       f".svg, .png, .pdf, .dot or .gv")
    why = foreign(picture, inputs=[description])
    if why:
        raise CommandFailed(BAD_INPUT, f"{picture}: cannot write: {why}")


def _draw_placement(cluster, result, picture, lose):
    """Write the placement picture (generators/render/placement_graph) of a Simulation."""
    from ..render.graph import FORMATS, GraphvizError, render
    from ..render.output_files import write_files
    from ..render.placement_graph import dot

    lost = [lose] if lose else list(result.after)
    fenced = {node: any(c.action.startswith("Fence") and c.resource == node
                        for c in result.losses.get(node, ())) for node in lost}
    text = dot(cluster.name, [n.name for n in cluster.nodes], result.placement,
               {node: result.after[node] for node in lost}, fenced,
               [p.id for p in cluster.primitives])
    fmt = FORMATS[os.path.splitext(picture)[1].lower()]
    try:
        write_files([(picture, text if fmt is None else render(text, fmt), 0o644)])
    except GraphvizError as exc:
        raise CommandFailed(FAILED, f"{picture}: {exc}") from None
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{picture}: cannot write: {exc.strerror}") from None
    click.echo(f"{picture}: placement before and after losing {', '.join(lost)}", err=True)


LIVE_HELP = """
Against the cluster of this host (cibadmin --query); with CIB_file=PATH in the environment,
against that CIB file instead (Pacemaker's own switch, honoured by every tool used here).
The description owns only what it names: cluster options it does not set (maintenance-mode),
node attributes (standby), run-time target-role/is-managed, cli-ban-*/cli-prefer-*
constraints, alerts and resources it does not mention stay as they are.
"""


def _trouble(function):
    """Failures before the comparison (a bad description, no cluster) exit 2, like diff(1)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CommandFailed as stop:
            if stop.code == FAILED:
                stop.code = BAD_INPUT
            raise
    return wrapper


def _plan(cluster, prune=False):
    """The generated CIB (validated) merged into the live one: a live.Plan."""
    from ..live.live import LiveError, plan, query, validate

    data = _render(cluster)
    with _Scratch(data) as path:
        problems = _validate(data, path)
    if problems:
        raise _fail_validation(cluster.source, problems)
    try:
        result = plan(query(), data, cluster.digest, prune=prune)
    except LiveError as exc:
        raise CommandFailed(BAD_INPUT, f"live cluster: {exc}") from None
    problems = validate(result)
    if problems:
        raise CommandFailed(BAD_INPUT, f"live cluster: the configuration after the push would "
                                       f"not validate: {problems[0]}")
    return result


def show(result):
    """Print a plan: provenance, each change, what is kept unmanaged."""
    click.echo(result.provenance)
    for change in result.changes:
        for line in change.lines():
            click.echo(line)
    if result.unmanaged:
        click.echo("not managed by this description (kept; push --prune removes all but cli-* "
                   "constraints): " + ", ".join(f"{kind} {name}" for kind, name in
                                                result.unmanaged))


@click.command(epilog=LIVE_HELP)
@description_argument
@guarded
@_trouble
def diff(description):
    """Show what a push of DESCRIPTION would add, change or remove in the running cluster.

    Exit status as diff(1): 0 no change, 1 changes, 2 trouble (a bad description, no cluster
    reachable). A line "provenance: ..." tells which description the cluster runs and whether
    its configuration drifted from it.
    """
    result = _plan(load_description(description))
    show(result)
    sys.exit(1 if result.changes else 0)


@click.command(epilog=LIVE_HELP)
@description_argument
@click.option("-y", "--yes", is_flag=True, help="Do not ask before changing the cluster.")
@click.option("--prune", is_flag=True,
              help="Also remove the resources and constraints the description does not name "
                   "(listed as removals before the question; cli-* constraints go only with "
                   "their resource).")
@click.option("--keep", default=20, show_default=True, type=click.IntRange(1, 10000),
              help="Checkpoints kept (ocfgen history).")
@guarded
@_trouble
def push(description, yes, prune, keep):
    """Change the running cluster to DESCRIPTION's configuration, in one atomic patch.

    The patch is made against the CIB version that was read and shown; Pacemaker refuses it
    if anyone changed the configuration since, and nothing is applied. The configuration
    replaced is kept as a checkpoint (ocfgen history, ocfgen rollback).

    Exit status: 0 pushed or nothing to do, 2 refused or failed (nothing applied).
    """
    cluster = load_description(description)
    result = _plan(cluster, prune=prune)
    show(result)
    if not result.changes:
        click.echo("the live configuration already matches; nothing to push")
        return
    removals = sum(c.action == "remove" for c in result.changes)
    question = f"Apply these {len(result.changes)} changes"
    if removals:
        question += f", {removals} of them removals"
    if not yes and not confirm(f"{question} (admin_epoch {result.live.admin_epoch}, "
                               f"epoch {result.live.epoch})?"):
        raise CommandFailed(BAD_INPUT, "not pushed")
    number = apply(result, f"push {os.path.basename(description)}", cluster.digest, keep)
    click.echo(f"pushed {description}: {len(result.changes)} changes; ocfgen rollback {number} "
               f"puts back what they replaced")


def confirm(question):
    """The user's yes; no answer (end of input, ^C at the prompt) is a no."""
    try:
        return click.confirm(question)
    except click.exceptions.Abort:
        click.echo("", err=True)
        return False


def apply(result, action, digest, keep, before_patch=None):
    """Checkpoint the replaced configuration, then patch; the checkpoint's number."""
    from ..live import history, ownership
    from ..live.live import LiveError, configuration_text
    from ..live.live import push as patch

    old = result.live.configuration()
    where = history.directory(history.cluster_name(result.configuration))
    live = result.live
    try:
        checkpoint = history.save(
            where, action=action, digest=digest,
            replaced_digest=ownership.provenance(old).get(ownership.PROVENANCE_DIGEST, ""),
            version=f"{live.admin_epoch}.{live.epoch}.{live.num_updates}",
            scope=result.scope.to_dict(), configuration=configuration_text(old))
    except history.HistoryError as exc:
        raise CommandFailed(BAD_INPUT, f"not pushed: {exc}") from None
    try:
        patch(result, before_patch=before_patch)
    except LiveError as exc:
        history.discard(checkpoint)
        raise CommandFailed(BAD_INPUT, f"push refused: {exc}") from None
    history.trim(where, keep)
    return checkpoint.number


@click.command()
@description_argument
@cliopts.output_file("The file to write; its extension picks the format: .svg, .png or .pdf "
                     "are drawn by Graphviz, .dot or .gv are DOT text; '-' writes DOT to "
                     "standard output.")
@click.option("--fencing", is_flag=True, help="Also draw the fence devices and what they fence.")
@click.option("--collapse-at", type=click.IntRange(min=1), default=60, show_default=True,
              help="With more primitives than this, one node per template stands for them.")
@guarded
def graph(description, output, fencing, collapse_at):
    """Draw DESCRIPTION's resources and constraints, with a legend (SVG, PNG, PDF or DOT)."""
    import os

    from ..render.graph import FORMATS, GraphvizError, dot, render
    from ..render.output_files import foreign, write_files

    extension = os.path.splitext(output)[1].lower()
    why = foreign(output, inputs=[description]) if output != "-" else None
    if why:
        raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {why}")
    if output != "-" and extension not in FORMATS:
        raise CommandFailed(BAD_INPUT, f"{output}: unknown picture format {extension or '(none)'!r};"
                                       f" name the file .svg, .png, .pdf, .dot or .gv")
    cluster = load_description(description)
    if not cluster.primitives and not (fencing and cluster.fence_devices()):
        more = " but fence devices: add --fencing" if cluster.fence_devices() else ""
        raise CommandFailed(BAD_INPUT, f"{description}: nothing to draw: the description has no "
                                       f"resources{more}")
    text = dot(cluster, fencing=fencing, collapse_at=collapse_at)
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        fmt = FORMATS[extension]
        write_files([(output, text if fmt is None else render(text, fmt), 0o644)])
    except GraphvizError as exc:
        raise CommandFailed(FAILED, f"{output}: {exc}") from None
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {exc.strerror}") from None
