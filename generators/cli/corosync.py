"""ocfgen corosync: corosync.conf and the authkey from the cluster description.

One corosync.conf serves every node (corosync finds its own entry by the host's addresses),
so the command writes DIR/corosync.conf and DIR/authkey (-o/--output-dir DIR), to be
installed in /etc/corosync (or the description's keyfile path) on each node. The node ids and
names are the ones the CIB uses: both come from the same model. Exit codes as for the CIB
commands (2: a bad description, one located line, nothing written; 1: corosync -t refuses the
file, nothing written).
"""

import os
import shutil
import subprocess

import click

from ..model.corosync import DEFAULT_LOGFILE
from . import options as cliopts
from .run import (
    BAD_INPUT,
    FAILED,
    CommandFailed,
    description_argument,
    guarded,
    load_description,
)


def verify_on_node(conf_text, addresses, *, keyfile=None, logfile=DEFAULT_LOGFILE, timeout=30):
    """Run `corosync -t` on `conf_text` as the node with `addresses` sees it; (code, output).

    Inside fresh network and mount namespaces (gone when the command ends): a veth holds the
    node's ring addresses (corosync must find itself in the nodelist), tmpfs over the key's
    and the log's directories holds a throwaway key and corosync's log, so nothing of this
    host is read or written. The output includes what corosync logged.
    """
    import ipaddress
    import shlex
    import tempfile

    from ..render.corosync import write_authkey

    keyfile = keyfile or "/etc/corosync/authkey"
    with tempfile.TemporaryDirectory(prefix="ocfgen-corosync-") as scratch:
        conf = os.path.join(scratch, "corosync.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        write_authkey(os.path.join(scratch, "authkey"))
        q = shlex.quote
        # Opened before any mount, so no tmpfs below can hide them (read back via /proc).
        script = [f"exec 3<{q(conf)} 4<{q(os.path.join(scratch, 'authkey'))}",
                  f"mount -t tmpfs -o mode=0755 ocfgen {q(os.path.dirname(keyfile))}",
                  f"cat /proc/self/fd/4 > {q(keyfile)}", f"chmod 0400 {q(keyfile)}"]
        if os.path.isdir(os.path.dirname(logfile)):
            script.append(f"mount -t tmpfs -o mode=0755 ocfgen {q(os.path.dirname(logfile))}")
        script += ["ip link set lo up", "ip link add ocfgen0 type veth peer name ocfgen1"]
        for address in addresses:
            if ipaddress.ip_address(address).version == 6:
                script.append(f"ip addr add {address}/64 dev ocfgen0 nodad")
            else:
                script.append(f"ip addr add {address}/24 dev ocfgen0")
        script += ["ip link set ocfgen0 up", "code=0",
                   "corosync -t -c /proc/self/fd/3 || code=$?",
                   f"cat {q(logfile)} 2>/dev/null || true", 'exit "$code"']
        if not os.path.isdir(os.path.dirname(keyfile)):
            return 1, f"the key's directory {os.path.dirname(keyfile)} does not exist here"
        done = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private",
                               "sh", "-ec", "\n".join(script)], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return done.returncode, (done.stdout + done.stderr).strip()


@click.command()
@description_argument
@cliopts.output_dir("DIR/corosync.conf and DIR/authkey", old="--output")
@click.option("--new-authkey", is_flag=True,
              help="Replace an existing DIR/authkey (a running cluster needs the old one "
                   "until every node has the new one).")
@cliopts.verify("corosync -t", "corosync.conf as each node (root; a network namespace per "
                "node holding its ring addresses)")
@guarded
def corosync(description, output_dir, new_authkey, verify):
    """Generate corosync.conf and the authkey for the nodes of DESCRIPTION."""
    from ..model.corosync_map import corosync_cluster
    from ..render.corosync import CorosyncConfigError, render, write_authkey
    from ..render.output_files import foreign, write_files

    outdir = output_dir
    if not outdir:
        raise CommandFailed(BAD_INPUT, "--output-dir: an empty directory name")
    cluster = load_description(description)
    if not cluster.nodes:
        raise CommandFailed(BAD_INPUT, f"{description}: the description has no [nodes.*] tables")
    settings = corosync_cluster(cluster)
    try:
        result = render(settings)
    except CorosyncConfigError as exc:
        raise CommandFailed(BAD_INPUT, str(exc)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise CommandFailed(BAD_INPUT, f"{outdir}: exists and is not a directory")
    conf = os.path.join(outdir, "corosync.conf")
    key = os.path.join(outdir, "authkey")
    # Everything that could refuse is checked before the first file is written.
    if foreign(conf):
        raise CommandFailed(BAD_INPUT, f"{conf}: cannot write: {foreign(conf)}")
    keep_key = _existing_key(key, new_authkey)
    verify = cliopts.verifying(verify, _why_not())
    if verify:
        problems = _verify(result.text, settings)
        if problems:
            raise CommandFailed(FAILED, f"{description}: corosync -t refuses the file: {problems}")
    try:
        write_files([(conf, result.text, 0o644)])
        if not keep_key:
            write_authkey(key, replace=os.path.lexists(key))
    except OSError as exc:
        raise CommandFailed(BAD_INPUT, f"{exc.filename or outdir}: cannot write: "
                                       f"{exc.strerror}") from None
    if verify:
        cliopts.verified([(conf, "corosync -t as " + ", ".join(n.name for n in settings.nodes))])
    key_note = "kept" if keep_key else "new, 0400"
    names = ", ".join(node.name for node in settings.nodes)
    target = settings.keyfile or "/etc/corosync/authkey"
    click.echo(f"{conf}, {key} ({key_note}): install corosync.conf as "
               f"/etc/corosync/corosync.conf and the key as {target} on {names}"
               f"{' (corosync -t passed on every node)' if verify else ''}", err=True)


def _existing_key(key, new_authkey):
    """True to keep the authkey at `key`: a regular file only root can read. A directory, a
    symlink or a key others may read is refused (2); none, or --new-authkey: False."""
    import stat

    if not os.path.lexists(key):
        return False
    status = os.lstat(key)
    if not stat.S_ISREG(status.st_mode):
        raise CommandFailed(BAD_INPUT, f"{key}: is not a regular file; move it away")
    if new_authkey:
        return False
    if stat.S_IMODE(status.st_mode) & 0o077:
        raise CommandFailed(BAD_INPUT, f"{key}: the existing authkey is readable by others (mode "
                                       f"{stat.S_IMODE(status.st_mode):04o}): it may be known; "
                                       f"make a new one with --new-authkey")
    return True


def _why_not():
    """'' when corosync -t can run here as each node, else why not."""
    missing = [tool for tool in ("corosync", "unshare", "ip") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    return "corosync -t in a namespace needs root" if os.geteuid() else ""


def _verify(text, settings):
    """The first node whose corosync -t fails, with corosync's reason; '' when all pass."""
    for node in settings.nodes:
        code, output = verify_on_node(text, node.addresses, keyfile=settings.keyfile,
                                      logfile=settings.logfile)
        if code != 0:
            errors = [line for line in output.splitlines() if " error " in line] or \
                output.splitlines() or [f"exit code {code}"]
            return f"as node {node.name}: {errors[0].strip()}"
    return ""
