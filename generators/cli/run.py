"""How every ocfgen command ends: one line on stderr and an exit code, never a traceback.

Exit codes: 0 success, 1 a validator, simulation or live-cluster step refused or failed,
2 a bad description (one located line per error) or command line (one line), 70 an internal
error (a bug).
"""

import functools
import os
import sys

import click

from ..errors import BAD_INPUT, FAILED, INTERNAL, CommandFailed  # noqa: F401 (the CLI's)

description_argument = click.argument("description", type=click.Path(dir_okay=False))


def guarded(function):
    """Wrap a command body: known failures become one line and an exit code."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CommandFailed as stop:
            for line in stop.message if isinstance(stop.message, list) else [stop.message]:
                if line:
                    click.echo(one_line(line), err=True)
            sys.exit(stop.code)
        except BrokenPipeError:  # the reader went away (| head): nothing left to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(FAILED)
        except KeyboardInterrupt:
            click.echo("ocfgen: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line
            click.echo(one_line(f"ocfgen: internal error: {type(exc).__name__}: {exc}"), err=True)
            sys.exit(INTERNAL)
    return wrapper


def one_line(message):
    """`message` with control characters (from file names, values) escaped: one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def load_description(path):
    """The validated model of the description at `path`; its warnings go to stderr."""
    from ..load.description import DescriptionError, load

    try:
        cluster = load(path)
    except DescriptionError as exc:
        raise CommandFailed(BAD_INPUT, str(exc).split("\n")) from None
    for warning in cluster.warnings:
        click.echo(f"warning: {warning}", err=True)
    return cluster
