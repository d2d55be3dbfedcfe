"""Stage 6, the command line: takes argv; gives output and an exit code. All click code and all
printing of ocfgen live here: the `ocfgen` group (`main`, with each subcommand imported only
when invoked) and one module per command family.
"""

from .main import cli, main  # noqa: F401 (the console script ocfpy.generators.cli:main)
