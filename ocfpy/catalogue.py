"""Every ocfpy agent by its OCF type name. Importing this module imports no agent."""

AGENTS = {
    "daemon": ("ocfpy.agents.daemon", "DaemonAgent"),
    "epics-ioc": ("ocfpy.agents.epics_ioc", "EpicsIocAgent"),
    "archiver": ("ocfpy.agents.archiver", "ArchiverAgent"),
    "acs-services": ("ocfpy.agents.acs_services", "AcsServicesAgent"),
    "acs-container": ("ocfpy.agents.acs_container", "AcsContainerAgent"),
    "ducc-head": ("ocfpy.agents.ducc_head", "DuccHeadAgent"),
    "ducc-agent": ("ocfpy.agents.ducc_agent", "DuccAgentAgent"),
}


def names():
    return sorted(AGENTS)


def load(name):
    """The Agent class of `name` (KeyError for an unknown agent)."""
    from importlib import import_module

    module, attribute = AGENTS[name]
    return getattr(import_module(module), attribute)
