"""Checks of what one node must have for an agent to run there (validate's building blocks).

Each raises OCFError(ERR_INSTALLED): the node lacks it, so Pacemaker bans the resource from this
node and recovers it elsewhere, while a probe here still answers "not running".
"""

import os

from .codes import OCF, OCFError


def require_user(user):
    """An account that must exist here (empty: run as the agent's own user)."""
    if not user:
        return
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        raise OCFError(OCF.ERR_INSTALLED, f"user {user!r} does not exist on this node") from None


def require_directory(path, what):
    if not os.path.isdir(path):
        raise OCFError(OCF.ERR_INSTALLED, f"{what} {path} is not a directory on this node")
