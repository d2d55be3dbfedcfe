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
    "history": "ocfpy.generators.livecli:history",
    "rollback": "ocfpy.generators.livecli:rollback",
    "import": "ocfpy.generators.livecli:import_",
    "graph": "ocfpy.generators.cibcli:graph",
    "drill": "ocfpy.generators.drill:cmd",
    "corosync": "ocfpy.generators.corosync_cli:corosync",
    "alerts": "ocfpy.generators.alerts:cmd",
    "report": "ocfpy.generators.report:cmd",
    "rollout": "ocfpy.generators.rollout:cmd",
    "appliances": "ocfpy.generators.appliances:cmd",
    "remote": "ocfpy.generators.remote:cmd",
    "explain": "ocfpy.generators.explain:cmd",
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

    def format_commands(self, ctx, formatter):
        """Each command with its whole first sentence (click cuts them at 45 characters)."""
        rows = [(name, self.get_command(ctx, name).get_short_help_str(limit=1000))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="ocfgen")
def cli():
    """Turn one cluster description into checked cluster configuration."""


def main():
    cli()
