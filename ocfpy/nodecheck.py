"""Checks of what one node must have for an agent to run there (validate's building blocks).

Each raises OCFError(ERR_INSTALLED): the node lacks it, so Pacemaker bans the resource from this
node and recovers it elsewhere, while a probe here still answers "not running".
"""

import os

from .codes import OCF, OCFError


def require_user(user):
    """An account that must exist here (empty: run as the agent's own user)."""
    user_ids(user)


def user_ids(user):
    """(uid, gid) of the account `user`, None for an empty one (the agent's own user);
    OCFError(ERR_INSTALLED) when this node has no such account."""
    if not user:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise OCFError(OCF.ERR_INSTALLED, f"user {user!r} does not exist on this node") from None
    return entry.pw_uid, entry.pw_gid


def require_directory(path, what):
    if not os.path.isdir(path):
        raise OCFError(OCF.ERR_INSTALLED, f"{what} {path} is not a directory on this node")
