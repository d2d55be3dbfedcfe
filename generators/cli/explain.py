"""`ocfgen explain`: the description reference (render/reference.py) for a key, the whole tree,
or as Markdown."""

import click

from ..errors import BAD_INPUT, CommandFailed
from ..render.reference import MARKDOWN_PAGE, key_text, markdown, suggestions, tree_text
from .run import guarded


@click.command()
@click.argument("key", required=False)
@click.option("--markdown", "as_markdown", is_flag=True,
              help=f"print the whole reference as Markdown ({MARKDOWN_PAGE})")
@guarded
def cmd(key, as_markdown):
    """Explain every key of a cluster description and hosts file (type, default, values), or
    KEY alone, such as resources.params, nodes.fencing.agent or firewall.extra.

    Exit codes: 0 printed; 2 no such key (with the closest ones).
    """
    if as_markdown:
        if key:
            raise CommandFailed(BAD_INPUT, "ocfgen explain: --markdown prints the whole "
                                           "reference; give no KEY")
        click.echo(markdown(), nl=False)
        return
    if not key:
        click.echo(tree_text())
        return
    try:
        click.echo(key_text(key))
    except LookupError:
        close = suggestions(key)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        raise CommandFailed(BAD_INPUT, f"ocfgen explain: no key {key!r} in a description or "
                                       f"hosts file{hint}; `ocfgen explain` lists every key") \
            from None
