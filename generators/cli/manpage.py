"""ocfgen(8) and ocfgen's shell completion, made from the command line's own declarations.

Every command, argument and option comes from the click commands registered in cli.COMMANDS,
so the page cannot drift from `ocfgen COMMAND --help`. The RPM build writes the page and the
bash and zsh completions (`python3 -m ocfpy.generators.cli.manpage MANDIR BASHDIR ZSHDIR`: BASHDIR/
ocfgen for bash-completion, ZSHDIR/_ocfgen for zsh's fpath, as click generates them for
`_OCFGEN_COMPLETE=bash_source|zsh_source`).
"""

import os

import click

from ocfpy import manpage

from ..render import reference
from .main import cli


def _usage(context, command):
    arguments = [p.human_readable_name for p in command.get_params(context)
                 if isinstance(p, click.Argument)]
    return " ".join([f"ocfgen {command.name}", *arguments, "[OPTIONS]"])


def _options(context, command):
    lines = []
    for parameter in command.get_params(context):
        if not isinstance(parameter, click.Option) or parameter.hidden:
            continue
        record = parameter.get_help_record(context)
        if record:
            lines += manpage.item(record[0], record[1])
    return lines


def page():
    """The roff source of ocfgen(8)."""
    lines = manpage.header("ocfgen", 8, "one cluster description to checked cluster configuration")
    lines += manpage.section("SYNOPSIS") + [manpage.text("ocfgen COMMAND [ARGS] [OPTIONS]")]
    lines += manpage.section("DESCRIPTION") + [manpage.text(cli.help)]
    lines += manpage.section("COMMANDS")
    root = click.Context(cli, info_name="ocfgen")
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        context = click.Context(command, info_name=name, parent=root)
        lines += [".SS " + manpage.text(_usage(context, command))]
        lines += [manpage.text(command.help or command.short_help or "")]
        lines += _options(context, command)
    lines += reference.manual_lines()   # every key of a description and hosts file, SECRETS first
    lines += manpage.section("EXIT STATUS")
    lines += [manpage.text("0 done; 2 mistakes in the input (all of them, each on one line located "
                           "as file:line:column: key: reason) or a refusal; each command's --help "
                           "states its own codes.")]
    lines += manpage.section("SEE ALSO")
    lines += [manpage.text("ocf_ocfpy_daemon(7), ocf_ocfpy_epics-ioc(7), crm_verify(8), "
                           "crm_simulate(8), cibadmin(8), corosync.conf(5)")]
    return "\n".join(lines) + "\n"


def bash_completion():
    """The bash completion script of ocfgen, as click generates it for `_OCFGEN_COMPLETE`."""
    from click.shell_completion import BashComplete

    return BashComplete(cli, {}, "ocfgen", "_OCFGEN_COMPLETE").source()


def zsh_completion():
    """The zsh completion function of ocfgen (`#compdef ocfgen`: autoloaded from fpath as
    _ocfgen), as click generates it for `_OCFGEN_COMPLETE=zsh_source`."""
    from click.shell_completion import ZshComplete

    return ZshComplete(cli, {}, "ocfgen", "_OCFGEN_COMPLETE").source()


def main(argv=None):
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python3 -m ocfpy.generators.cli.manpage MANDIR BASHDIR ZSHDIR", file=sys.stderr)
        return 2
    mandir, bash, zsh = args
    os.makedirs(mandir, exist_ok=True)
    print(manpage.write(mandir, "ocfgen.8", page()))
    for directory, name, text in ((bash, "ocfgen", bash_completion()),
                                  (zsh, "_ocfgen", zsh_completion())):
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
