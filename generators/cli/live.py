"""ocfgen history and rollback: the checkpoints every push keeps, and putting one back.

A rollback restores, from the configuration a push replaced, exactly what that push owned
(its recorded scope), by the same rules and the same atomic patch as a push: the operators'
settings made since stay. The rollback itself keeps a checkpoint, so it can be undone too.
Exit status: 0 done (or nothing to do), 2 refused or failed.
"""

import re

import click

from . import options as cliopts
from .run import BAD_INPUT, CommandFailed, guarded


def _where():
    from ..live.live import LiveError, query

    try:
        live = query()
    except LiveError as exc:
        raise CommandFailed(BAD_INPUT, f"live cluster: {exc}") from None
    from ..live import history

    return live, history.directory(history.cluster_name(live.configuration()))


@click.command()
@guarded
def history():
    """List the checkpoints of this cluster's pushes (newest last).

    Kept in $OCFGEN_STATE_DIR/checkpoints/CLUSTER (default /var/lib/ocfgen), mode 0600.
    Exit status: 0 listed, 2 none (yet) or no cluster reachable.
    """
    from ..live import history as store

    _, where = _where()
    try:
        found = store.entries(where)
    except store.HistoryError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    if not found:
        raise CommandFailed(BAD_INPUT, f"no checkpoints in {where}: nothing was pushed from "
                                       f"here yet")
    click.echo(f"{'N':>4}  {'time (UTC)':<20}  {'user':<12}  {'replaced CIB':<12}  "
               f"{'replaced description':<20}  by")
    for c in found:
        replaced = f"sha256:{c.replaced_digest[:12]}" if c.replaced_digest else "-"
        click.echo(f"{c.number:>4}  {c.time:<20}  {c.user:<12}  {c.version:<12}  "
                   f"{replaced:<20}  {c.action}" + (f" sha256:{c.digest[:12]}" if c.digest
                                                    else ""))


@click.command()
@click.argument("number", required=False, type=click.IntRange(1))
@click.option("-y", "--yes", is_flag=True, help="Do not ask before changing the cluster.")
@click.option("--keep", default=20, show_default=True, type=click.IntRange(1, 10000),
              help="Checkpoints kept.")
@guarded
def rollback(number, yes, keep):
    """Put back the configuration checkpoint NUMBER replaced (default: the newest).

    Only what that push owned changes back; operator state set since stays. Exit status: 0
    rolled back or nothing to do, 2 refused or failed (nothing applied).
    """
    from ..live import history as store
    from ..live.live import LiveError, plan_restore
    from ..live.ownership import Scope
    from .cib import apply, confirm, show

    live, where = _where()
    try:
        checkpoint = store.find(where, number)
        result = plan_restore(live, checkpoint.configuration, Scope.from_dict(checkpoint.scope))
    except (store.HistoryError, LiveError) as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    click.echo(f"checkpoint {checkpoint.number}: {checkpoint.time} by {checkpoint.user}, "
               f"before {checkpoint.action}")
    show(result)
    if not result.changes:
        click.echo("the live configuration already matches the checkpoint; nothing to do")
        return
    if not yes and not confirm(f"Apply these {len(result.changes)} changes?"):
        raise CommandFailed(BAD_INPUT, "not rolled back")
    done = apply(result, f"rollback {checkpoint.number}", "", keep)
    click.echo(f"rolled back to checkpoint {checkpoint.number}: {len(result.changes)} changes; "
               f"ocfgen rollback {done} undoes this")


@click.command(name="import")
@click.option("--cib", "cib_file", type=click.Path(dir_okay=False),
              help="Read this CIB XML file instead of the cluster's live CIB.")
@cliopts.output_file("The file to write the description to ('-': standard output); never "
                     "an existing file.")
@guarded
def import_(cib_file, output):
    """Write the description of a running cluster (or of a CIB file).

    Resources sharing an agent and operations become templates. What a description cannot
    express is listed on stderr by CIB path and id, never dropped silently; operator state
    (maintenance-mode, standby, target-role, cli-* constraints) is left out on purpose and
    listed too. Exit status: 0 everything expressed, 1 the description was written but some
    items are not in it (listed), 2 trouble (no cluster, not a CIB, an existing output file).
    """
    import os

    from ..live.importer import ImportError_, import_cib
    from ..live.live import LiveError, query

    try:
        if cib_file:
            from ..load.description import read_regular

            data = read_regular(cib_file)
            fallback = os.path.splitext(os.path.basename(cib_file))[0]
        else:
            data, fallback = query().xml, "imported"
        result = import_cib(data, re.sub(r"[^A-Za-z0-9_.-]", "_", fallback)[:32] or "imported")
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{cib_file}: cannot read: {exc.strerror}") from None
    except (LiveError, ImportError_) as exc:
        raise CommandFailed(BAD_INPUT, f"{cib_file or 'live cluster'}: {exc}") from None
    if output == "-":
        click.echo(result.text, nl=False)
    else:
        try:
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandFailed(BAD_INPUT, f"{output}: exists: import never replaces a file"
                                ) from None
        except OSError as exc:
            raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(result.text)
    for line in result.left_out:
        click.echo(f"left to operators: {line}", err=True)
    for line in result.problems:
        click.echo(f"not imported: {line}", err=True)
    if result.problems:
        raise CommandFailed(1, f"{len(result.problems)} items not expressed (listed above)")
