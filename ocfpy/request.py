"""One reading of the OCF environment: what the caller asks of the agent this time."""

from .numbers import PACEMAKER_MAX_MS, int_or, parse_int
from .params import ParameterError, Values, convert_all

RESKEY = "OCF_RESKEY_"
META = "OCF_RESKEY_CRM_meta_"
# Set by Pacemaker on every operation, or by `crm resource trace` (resource-agents' tracing):
# not parameters of the agent.
PACEMAKER_RESKEYS = frozenset(("crm_feature_set", "trace_ra", "trace_file"))
# Default operation timeout when the caller gives none (ocf-tester gives 20 s).
DEFAULT_TIMEOUT_MS = 20000
# Ranges of the numbers Pacemaker sets besides the timeout and interval (ocfpy.numbers): a
# value that is not a number in its range (OCF_CHECK_LEVEL=², OCF_RESKEY_CRM_meta_timeout=--5)
# is noted in Request.ignored and its default used.
CHECK_LEVEL_MAX = 1000
VERSION_MAX = 1000
CLONE_MAX = 2**31 - 1


class NotifyInfo:
    """The notify variables of a clone notification (pre/post, which operation, which peers)."""

    __slots__ = ("type", "operation", "resources", "unames")

    def __init__(self, meta):
        self.type = meta.get("notify_type", "")
        self.operation = meta.get("notify_operation", "")
        self.resources = {}
        self.unames = {}
        for key, value in meta.items():
            if key.startswith("notify_") and key.endswith("_resource"):
                self.resources[key[len("notify_"):-len("_resource")]] = value.split()
            elif key.startswith("notify_") and key.endswith("_uname"):
                self.unames[key[len("notify_"):-len("_uname")]] = value.split()


class Request:
    """The action, typed parameters and CRM meta values of one agent invocation.

    Parameter problems are collected in `errors` rather than raised, because what an invalid
    configuration means depends on the action: a probe answers "not running", a stop succeeds,
    start and validate-all fail naming the parameter. Parameters the agent does not know are
    kept apart in `unknown`: they fail validate-all (which ocfgen check runs, so a typo is
    caught before it reaches a cluster) and only draw a warning from every other action, so
    that a parameter added for a newer agent during a rolling upgrade stops nothing.
    """

    def __init__(self, action, parameters, environ):
        self.action = action
        self.environ = environ
        self.instance = environ.get("OCF_RESOURCE_INSTANCE", "")
        self.meta = {k[len(META):]: v for k, v in environ.items() if k.startswith(META)}
        # Odd numbers in the environment, as (variable, why): logged, never fatal.
        self.ignored = []
        self.ocf_version = (
            self._number(environ, "OCF_RA_VERSION_MAJOR", None, 0, VERSION_MAX),
            self._number(environ, "OCF_RA_VERSION_MINOR", None, 0, VERSION_MAX),
        )
        self.timeout_ms = self._number(self.meta, "timeout", DEFAULT_TIMEOUT_MS, 1,
                                       PACEMAKER_MAX_MS, META)
        self.interval_ms = self._number(self.meta, "interval", 0, 0, PACEMAKER_MAX_MS, META)
        self.check_level = self._number(environ, "OCF_CHECK_LEVEL", 0, 0, CHECK_LEVEL_MAX)
        self.unknown = []
        values, self.errors = convert_all(
            parameters, {p.name: environ.get(RESKEY + p.name) for p in parameters})
        self._find_unknown(parameters, environ)
        self.params = Values(values)

    def _number(self, variables, name, default, minimum, maximum, prefix=""):
        """The number variables[name] spells (ocfpy.numbers' rule, in range), else default."""
        text = variables.get(name)
        if text is None or (text == "" and prefix):
            return default
        try:
            return parse_int(text, minimum, maximum)
        except ValueError as exc:
            self.ignored.append((prefix + name, str(exc)))
            return default

    def _find_unknown(self, parameters, environ):
        declared = {p.name for p in parameters}
        for key in environ:
            if key.startswith(RESKEY) and not key.startswith(META):
                name = key[len(RESKEY):]
                if name not in declared and name not in PACEMAKER_RESKEYS:
                    known = ", ".join(sorted(declared)) or "none"
                    self.unknown.append(ParameterError(name, f"is unknown (known: {known})"))

    @property
    def is_probe(self):
        """A monitor with no interval: Pacemaker asking "is it running here?" on any node."""
        return self.action == "monitor" and self.interval_ms == 0

    @property
    def speaks_ocf_1_1(self):
        major, minor = self.ocf_version
        return major is not None and (major, minor or 0) >= (1, 1)

    @property
    def clone_max(self):
        return int_or(self.meta.get("clone_max"), None, 0, CLONE_MAX)

    @property
    def promotable(self):
        return self.meta.get("promotable", "").lower() in ("true", "1", "yes")

    @property
    def notify(self):
        return NotifyInfo(self.meta)
