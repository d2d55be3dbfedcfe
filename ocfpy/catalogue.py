"""Every ocfpy agent by its OCF type name. Importing this module imports no agent."""

AGENTS = {
    "daemon": ("ocfpy.agents.daemon", "DaemonAgent"),
}


def names():
    return sorted(AGENTS)


def load(name):
    """The Agent class of `name` (KeyError for an unknown agent)."""
    from importlib import import_module

    module, attribute = AGENTS[name]
    return getattr(import_module(module), attribute)
