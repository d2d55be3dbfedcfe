"""`ocfgen appliances`: write appliances.xml (rendered by render/appliances.py)."""

import click

from ..errors import BAD_INPUT, CommandFailed
from ..render.appliances import AppliancesError, appliances_xml
from . import options as cliopts
from .run import description_argument, guarded, load_description


@click.command("appliances")
@description_argument
@cliopts.output_file("The file to write appliances.xml to ('-': standard output).")
@guarded
def cmd(description, output):
    """Write the appliances.xml of DESCRIPTION's archiver appliances, each at its own address."""
    from ..render.output_files import write_files

    cluster = load_description(description)
    try:
        text = appliances_xml(cluster)
    except AppliancesError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        write_files([(output, text, 0o644)])
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{output}: cannot write: {exc.strerror}") from None
