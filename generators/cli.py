"""The ocfgen command line: the only part of ocfgen that prints.

Subcommands live in their own modules and are imported only when invoked, so `ocfgen --help`
and each command pay only for what they use. Register one with a line in COMMANDS.
"""

import click

from ocfpy import __version__

# name -> "module:attribute" of a click command.
COMMANDS = {
    "units": "ocfpy.generators.hostcmds:units",
    "keepalived": "ocfpy.generators.hostcmds:keepalived",
    "firewall": "ocfpy.generators.hostcmds:firewall",
    "build": "ocfpy.generators.cibcli:build",
    "check": "ocfpy.generators.cibcli:check",
    "simulate": "ocfpy.generators.cibcli:simulate",
    "diff": "ocfpy.generators.cibcli:diff",
    "push": "ocfpy.generators.cibcli:push",
    "graph": "ocfpy.generators.cibcli:graph",
    "drill": "ocfpy.generators.drill:cmd",
    "corosync": "ocfpy.generators.corosync_cli:corosync",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            from importlib import import_module

            module, attribute = COMMANDS[name].split(":")
            return getattr(import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="ocfgen")
def cli():
    """Turn one cluster description into checked cluster configuration."""


def main():
    cli()
