"""`ocfgen remote`: write the pacemaker_remote key and the remote hosts' firewall rules
(rendered by render/remote.py)."""

import click

from ..errors import BAD_INPUT, FAILED, CommandFailed
from ..load.remote import AUTHKEY, NFT
from ..render.remote import nftables
from . import options as cliopts
from .run import description_argument, guarded, load_description


@click.command("remote")
@description_argument
@cliopts.output_dir(f"DIR{AUTHKEY} and the remote hosts' nftables rules DIR{NFT}",
                    old="--output")
@click.option("--new-key", is_flag=True, help="Replace an existing authkey (every node then "
                                              "needs the new one).")
@cliopts.verify("nft -c -f", "the nftables rules (root)")
@guarded
def cmd(description, output_dir, new_key, verify):
    """Write the pacemaker_remote key and the remote hosts' firewall rules."""
    import os

    from ..render.corosync import write_authkey
    from ..render.output_files import make_directories, under, write_file
    from ..verify import hostverify

    outdir = output_dir
    model = load_description(description)
    if getattr(model, "remote", None) is None:
        raise CommandFailed(BAD_INPUT, f"{description}: nothing to write: the description has no "
                                       f"[remote_nodes.NAME] tables")
    rules = nftables(model)
    passed = hostverify.nft([(NFT.lstrip("/"), rules, 0o644)]) \
        if cliopts.verifying(verify, hostverify.nft_why_not()) else []
    key = under(outdir, AUTHKEY)
    try:
        make_directories(os.path.dirname(key))
        if os.path.exists(key) and not new_key:
            click.echo(f"{key} kept (--new-key replaces it)")
        else:
            write_authkey(key, replace=os.path.exists(key))
            click.echo(f"{key} written (0400)")
        write_file(under(outdir, NFT), rules)
        click.echo(f"{under(outdir, NFT)} written")
    except OSError as exc:
        raise CommandFailed(FAILED, f"remote: {exc.filename or outdir}: {exc.strerror}") from None
    cliopts.verified((under(outdir, path), tool) for path, tool in passed)
