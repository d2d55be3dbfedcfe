"""One reading of the OCF environment: what the caller asks of the agent this time."""

from .params import ParameterError, Values

RESKEY = "OCF_RESKEY_"
META = "OCF_RESKEY_CRM_meta_"
# Set by Pacemaker on every operation, or by `crm resource trace` (resource-agents' tracing):
# not parameters of the agent.
PACEMAKER_RESKEYS = frozenset(("crm_feature_set", "trace_ra", "trace_file"))
# Default operation timeout when the caller gives none (ocf-tester gives 20 s).
DEFAULT_TIMEOUT_MS = 20000


def _int_or_none(text):
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


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
    kept apart in `unknown`: they fail validate-all and start (a typo caught before the service
    runs) but never turn the monitor of a running service into a fatal error.
    """

    def __init__(self, action, parameters, environ):
        self.action = action
        self.environ = environ
        self.instance = environ.get("OCF_RESOURCE_INSTANCE", "")
        self.meta = {k[len(META):]: v for k, v in environ.items() if k.startswith(META)}
        self.ocf_version = (
            _int_or_none(environ.get("OCF_RA_VERSION_MAJOR")),
            _int_or_none(environ.get("OCF_RA_VERSION_MINOR")),
        )
        timeout_ms = _int_or_none(self.meta.get("timeout"))
        self.timeout_ms = timeout_ms if timeout_ms and timeout_ms > 0 else DEFAULT_TIMEOUT_MS
        self.interval_ms = max(_int_or_none(self.meta.get("interval")) or 0, 0)
        level = _int_or_none(environ.get("OCF_CHECK_LEVEL"))
        self.check_level = level if level is not None and level >= 0 else 0
        self.errors = []
        self.unknown = []
        self.params = Values(self._convert(parameters, environ))

    def _convert(self, parameters, environ):
        declared = {p.name: p for p in parameters}
        values = {}
        for name, declaration in declared.items():
            raw = environ.get(RESKEY + name)
            if raw is None or raw == "":
                if declaration.required:
                    self.errors.append(ParameterError(name, "is required but not set"))
                values[name] = declaration.default_value()
                continue
            try:
                values[name] = declaration.convert(raw)
            except ParameterError as exc:
                self.errors.append(exc)
                values[name] = declaration.default_value()
        for key in environ:
            if key.startswith(RESKEY) and not key.startswith(META):
                name = key[len(RESKEY):]
                if name not in declared and name not in PACEMAKER_RESKEYS:
                    known = ", ".join(sorted(declared)) or "none"
                    self.unknown.append(ParameterError(name, f"is unknown (known: {known})"))
        return values

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
        return _int_or_none(self.meta.get("clone_max"))

    @property
    def promotable(self):
        return self.meta.get("promotable", "").lower() in ("true", "1", "yes")

    @property
    def notify(self):
        return NotifyInfo(self.meta)
