"""The options ocfgen's commands share, spelt and explained the same in every command.

- `-o/--output FILE`: a command that writes one file (build, graph, import, appliances);
  '-' is standard output.
- `-o/--output-dir DIR`: a command that writes several files, one set per node or a key and a
  configuration (units, keepalived, firewall, corosync, remote); created if missing.
- `--hosts FILE`: the hosts file (load/hosts.py: [units], [keepalived], [firewall]).
- `--verify/--no-verify`: run the real tool on what the command writes before writing it; on
  success one line per file on stderr says what passed which tool. Default: verify when the
  tool can run here; when it cannot, a warning says so. An explicit --verify that cannot run
  exits 2; a file the tool refuses exits 1 with nothing written.

Old spellings stay as hidden options that still work and say on stderr what to write instead.
"""

import functools

import click

from .run import BAD_INPUT, CommandFailed

VERIFY_DEFAULT = "when the tool can run here, else a warning says it did not"


def output_file(text, default="-"):
    """-o/--output FILE for a command that writes one file; `text`: its help."""
    return click.option("-o", "--output", default=default, show_default=True, metavar="FILE",
                        help=text)


def output_dir(what, old=None):
    """-o/--output-dir DIR (required) for a command that writes several files; `old`: a
    former spelling kept as a hidden alias."""
    def decorate(function):
        wrapped = _required(function, "output_dir", "-o/--output-dir")
        if old:
            wrapped = alias(old, "output_dir", "--output-dir", type=click.Path())(wrapped)
        return click.option("-o", "--output-dir", "output_dir", metavar="DIR",
                            type=click.Path(file_okay=False),
                            help=f"The directory to write into, created if missing: {what}.")(
            wrapped)
    return decorate


def hosts_file(function):
    """--hosts FILE, formerly --outputs."""
    wrapped = alias("--outputs", "hosts", "--hosts", type=click.Path(dir_okay=False))(function)
    return click.option("--hosts", metavar="FILE", type=click.Path(dir_okay=False),
                        help="The hosts file (an input): the [units.NAME], [keepalived.NAME] "
                             "and [firewall] tables of what ocfgen writes for the hosts.")(wrapped)


def verify(tool, what, old=None):
    """--verify/--no-verify running `tool` on `what`; `old` ("--check/--no-check"): a former
    spelling kept as a hidden alias."""
    def decorate(function):
        wrapped = alias(old, "verify", "--verify/--no-verify")(function) if old else function
        return click.option(
            "--verify/--no-verify", default=None,
            help=f"Run {tool} on {what} before writing anything: a refusal exits 1 with "
                 f"nothing written, each file that passes is named on stderr. "
                 f"[default: verify {VERIFY_DEFAULT}]")(wrapped)
    return decorate


def alias(old, name, new, **attrs):
    """A hidden option `old` that sets parameter `name` as `new` does and says so on stderr.
    For a flag pair both are "--yes/--no" spellings; giving both old and new is an error."""
    hidden = "deprecated_" + name

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            value = kwargs.pop(hidden)
            if value is not None:
                context = click.get_current_context()
                if context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
                    raise click.UsageError(f"{old} is the old name of {new}: give only {new}",
                                           context)
                said, meant = _spelling(old, value), _spelling(new, value)
                click.echo(f"warning: {said} is deprecated; use {meant}", err=True)
                kwargs[name] = value
            return function(*args, **kwargs)

        return click.option(old, hidden, hidden=True, default=None, **attrs)(wrapper)
    return decorate


def _spelling(declaration, value):
    """The spelling of a flag pair "--a/--no-a" that gives `value` (or the option itself)."""
    if "/" in declaration and isinstance(value, bool):
        return declaration.split("/")[0 if value else 1]
    return declaration


def _required(function, name, spelling):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if kwargs.get(name) is None:
            raise click.UsageError(f"Missing option '{spelling}'.", click.get_current_context())
        return function(*args, **kwargs)
    return wrapper


def verifying(verify, why_not):
    """Whether to verify: `verify` as given (None: when it can), `why_not` the reason the tool
    cannot run here ('' when it can). An explicit --verify that cannot run exits 2."""
    if verify is False:
        return False
    if not why_not:
        return True
    if verify:
        raise CommandFailed(BAD_INPUT, f"--verify: {why_not}")
    click.echo(f"warning: not verified: {why_not} (--no-verify: do not try)", err=True)
    return False


def verified(lines):
    """Say on stderr what passed which tool: [(path, tool)]."""
    for path, tool in lines:
        click.echo(f"{path}: verified by {tool}", err=True)
