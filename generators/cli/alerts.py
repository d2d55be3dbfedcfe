"""`ocfgen alerts`: print the description's <alerts> section or put it into the live CIB
(live/alerts.py)."""

import click

from ..errors import BAD_INPUT, FAILED, CommandFailed
from ..live.alerts import apply
from .run import description_argument, guarded, load_description


@click.command("alerts")
@description_argument
@click.option("--apply", "do_apply", is_flag=True,
              help="Put the alerts into the live CIB of this node's cluster (only those named).")
@guarded
def cmd(description, do_apply):
    """Print the description's <alerts> section, or put it into the live cluster (--apply)."""
    import subprocess

    from lxml import etree

    from ..render.cib import render

    model = load_description(description)
    if not do_apply:
        parser = etree.XMLParser(remove_blank_text=True)
        section = etree.fromstring(render(model), parser).find("configuration/alerts")
        if section is None:
            raise CommandFailed(BAD_INPUT, f"{description}: nothing to print: the description "
                                           f"has no [alerts.NAME] table")
        click.echo(etree.tostring(section, pretty_print=True, encoding="unicode"), nl=False)
        return

    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise CommandFailed(FAILED, f"alerts: cannot run {argv[0]}: {exc.strerror}") from None

    for aid in apply(model, run):
        click.echo(f"alert {aid} applied")
