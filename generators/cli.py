"""The ocfgen command line (the only part of ocfgen that prints)."""

import click

from ocfpy import __version__


@click.group()
@click.version_option(__version__, prog_name="ocfgen")
def cli():
    """Turn one cluster description into checked cluster configuration."""


def main():
    cli()
