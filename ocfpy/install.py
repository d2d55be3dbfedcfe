"""Install the agents where Pacemaker looks: /usr/lib/ocf/resource.d/ocfpy/<agent>.

Each agent is a tiny script whose interpreter runs isolated (-I -S): no site-packages scan and
no .pth files, which halves interpreter start-up on the monitor path. The script therefore names
the directories itself: the one that holds the ocfpy package (site-packages for a regular
install, the checkout for an editable one) and, when it differs, the one that holds ocfpy's
dependencies (the installing interpreter's site-packages). The agent's process ends through
ocfpy.agent.exit_process, without the interpreter's teardown.
"""

import argparse
import os
import sys

from . import __version__, catalogue
from .safefile import replace

PROVIDER_DIR = "/usr/lib/ocf/resource.d/ocfpy"
MARKER = "# ocfpy agent entry point"

TEMPLATE = """#!{python} -IS
{marker}: ocf:ocfpy:{name}, ocfpy {version}. Rewritten by `ocfpy-agents install`.
import sys
sys.path[:0] = {paths!r}
from {module} import {attribute} as agent
from ocfpy.agent import exit_process
exit_process(agent.main())
"""


ALERT_TEMPLATE = """#!{python} -IS
{marker}: the ocfpy alert agent (ocfpy.alert), ocfpy {version}. Rewritten by `ocfpy-agents install`.
import sys
sys.path[:0] = {paths!r}
from ocfpy import alert
sys.exit(alert.main())
"""
LOG_DIR = "/var/log/ocfpy"


class InstallError(Exception):
    pass


def package_site():
    """The directory that holds the ocfpy package in use (and its agents subpackage)."""
    import ocfpy
    import ocfpy.agents

    site = os.path.dirname(os.path.dirname(os.path.abspath(ocfpy.__file__)))
    agents_dir = os.path.dirname(os.path.abspath(ocfpy.agents.__file__))
    if agents_dir != os.path.join(site, "ocfpy", "agents"):
        raise InstallError(f"ocfpy.agents lives in {agents_dir}, outside {site}/ocfpy; "
                           "the agents' isolated interpreter could not import it")
    return site


def dependency_site():
    """The site-packages of this interpreter: where ocfpy's dependencies were installed."""
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def entry_script(name, python, site, deps=None):
    module, attribute = catalogue.AGENTS[name]
    paths = [site] + ([deps] if deps and deps != site else [])
    return TEMPLATE.format(python=python, marker=MARKER, name=name, version=__version__,
                           paths=paths, module=module, attribute=attribute)


def _is_ours(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            f.readline()
            return f.readline().startswith(MARKER)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def install(root="/", python=None, site=None, directory=PROVIDER_DIR, names=None):
    """Write the entry scripts; return their paths. Never replaces a file it did not write.

    With `site` given (packaging: the target's site-packages) the scripts name only it;
    otherwise the running package's directory and this interpreter's site-packages.
    """
    python = python or sys.executable
    deps = None if site else dependency_site()
    site = site or package_site()
    target = os.path.join(root, directory.lstrip("/"))
    os.makedirs(target, mode=0o755, exist_ok=True)
    written = []
    for name in names or catalogue.names():
        path = os.path.join(target, name)
        if not _is_ours(path):
            raise InstallError(f"{path} exists and was not written by ocfpy; not replacing it")
        replace(path, entry_script(name, python, site, deps).encode(), mode=0o755)
        written.append(path)
    return written


def install_alert(root="/", python=None, site=None, path=None, log_dir=LOG_DIR):
    """Write the alert agent's entry script (ocfpy.alert) and make its log directory, which
    Pacemaker's alert runner (user hacluster) must be able to write; the script's path."""
    from .alert import ALERT_PATH

    python = python or sys.executable
    deps = None if site else dependency_site()
    site = site or package_site()
    target = os.path.join(root, (path or ALERT_PATH).lstrip("/"))
    if not _is_ours(target):
        raise InstallError(f"{target} exists and was not written by ocfpy; not replacing it")
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    paths = [site] + ([deps] if deps and deps != site else [])
    script = ALERT_TEMPLATE.format(python=python, marker=MARKER, version=__version__, paths=paths)
    replace(target, script.encode(), mode=0o755)
    logs = os.path.join(root, log_dir.lstrip("/"))
    os.makedirs(logs, mode=0o750, exist_ok=True)
    if root == "/" and os.geteuid() == 0:
        import grp
        import pwd

        try:
            os.chown(logs, pwd.getpwnam("hacluster").pw_uid, grp.getgrnam("haclient").gr_gid)
        except KeyError:  # no Pacemaker users on this host (an admin host): nothing runs alerts
            pass
    return target


def uninstall(root="/", directory=PROVIDER_DIR):
    target = os.path.join(root, directory.lstrip("/"))
    removed = []
    for name in catalogue.names():
        path = os.path.join(target, name)
        if os.path.exists(path) and _is_ours(path):
            os.unlink(path)
            removed.append(path)
    return removed


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ocfpy-agents",
                                     description="Install ocfpy's OCF agents for Pacemaker.")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("install", help="write /usr/lib/ocf/resource.d/ocfpy/<agent>")
    add.add_argument("--root", default="/", help="install below this root (packaging)")
    add.add_argument("--python", help="interpreter for the scripts (default: this one)")
    add.add_argument("--site", help="directory holding the ocfpy package (default: this one's)")
    add.add_argument("--dir", default=PROVIDER_DIR, help="provider directory")
    add.add_argument("--alert", default=None, help="path of the alert agent's script "
                                                   "(default /usr/libexec/ocfpy/ocfpy-alert)")
    remove = sub.add_parser("uninstall", help="remove the scripts ocfpy wrote")
    remove.add_argument("--root", default="/")
    remove.add_argument("--dir", default=PROVIDER_DIR)
    sub.add_parser("list", help="list the agents")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            for path in install(args.root, args.python, args.site, args.dir):
                print(path)
            print(install_alert(args.root, args.python, args.site, args.alert))
        elif args.command == "uninstall":
            for path in uninstall(args.root, args.dir):
                print(f"removed {path}")
        else:
            print("\n".join(f"ocf:ocfpy:{name}" for name in catalogue.names()))
    except (InstallError, OSError) as exc:
        print(f"ocfpy-agents: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
