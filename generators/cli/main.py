"""The ocfgen command line: the only part of ocfgen that prints.

Subcommands live in their own modules and are imported only when invoked, so `ocfgen --help`
and each command pay only for what they use. Register one with a line in COMMANDS.
"""

import click

from ocfpy import __version__

# name -> "module:attribute" of a click command.
COMMANDS = {
    "units": "ocfpy.generators.cli.hosts:units",
    "keepalived": "ocfpy.generators.cli.hosts:keepalived",
    "firewall": "ocfpy.generators.cli.hosts:firewall",
    "build": "ocfpy.generators.cli.cib:build",
    "check": "ocfpy.generators.cli.cib:check",
    "simulate": "ocfpy.generators.cli.cib:simulate",
    "diff": "ocfpy.generators.cli.cib:diff",
    "push": "ocfpy.generators.cli.cib:push",
    "history": "ocfpy.generators.cli.live:history",
    "rollback": "ocfpy.generators.cli.live:rollback",
    "import": "ocfpy.generators.cli.live:import_",
    "graph": "ocfpy.generators.cli.cib:graph",
    "drill": "ocfpy.generators.cli.drill:cmd",
    "corosync": "ocfpy.generators.cli.corosync:corosync",
    "alerts": "ocfpy.generators.cli.alerts:cmd",
    "report": "ocfpy.generators.cli.report:cmd",
    "rollout": "ocfpy.generators.cli.rollout:cmd",
    "appliances": "ocfpy.generators.cli.appliances:cmd",
    "remote": "ocfpy.generators.cli.remote:cmd",
    "explain": "ocfpy.generators.cli.explain:cmd",
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
