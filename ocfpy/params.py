"""Parameter declarations: the one description of an agent's OCF_RESKEY_* inputs.

A declaration is used for the meta-data XML, for validating and converting the environment on
every action, for validate-all, and by ocfgen to check cluster descriptions, so nothing lists an
agent's parameters twice. The rules that span several parameters are declared the same way: an
agent's `rules` are pure functions of the converted values, which its validate-all and `ocfgen
check` both run through `problems()`.
"""

from .numbers import parse_int, range_text

KINDS = ("string", "integer", "boolean", "select")

_TRUE = frozenset(("1", "yes", "true", "on", "y"))
_FALSE = frozenset(("0", "no", "false", "off", "n"))


class ParameterError(ValueError):
    """A parameter value that is missing, malformed or out of range."""

    def __init__(self, name, why):
        super().__init__(f"parameter '{name}' {why}")
        self.parameter = name
        self.why = why


def parse_boolean(text):
    """ocf_is_true's spellings: yes/no, true/false, on/off, 1/0, y/n (any case)."""
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"is not a boolean (use true or false): {text!r}")


def _is_identifier(name):
    return bool(name) and (name[0].isalpha() or name[0] == "_") and all(
        c.isalnum() or c == "_" for c in name
    ) and name.isascii()


class Parameter:
    """One OCF parameter.

    kind is string, integer, boolean or select (with choices). An integer declares its range
    (minimum and maximum, inclusive; ocfpy.numbers states the syntax), shown in the meta-data.
    `check` is an optional deeper syntax check, called with the converted value, that raises
    ValueError with a reason; it runs when a configuration is validated (validate-all, start,
    stop, a probe, ocfgen), not on every recurring monitor.
    """

    __slots__ = (
        "name", "kind", "shortdesc", "longdesc", "default", "required", "unique_group",
        "reloadable", "choices", "minimum", "maximum", "check",
    )

    def __init__(
        self, name, kind="string", *, shortdesc, longdesc="", default=None, required=False,
        unique_group=None, reloadable=False, choices=(), minimum=None, maximum=None, check=None,
    ):
        if not _is_identifier(name):
            raise ValueError(f"parameter name {name!r} is not a valid OCF_RESKEY_ suffix")
        if kind not in KINDS:
            raise ValueError(f"parameter {name!r}: kind must be one of {KINDS}, not {kind!r}")
        if kind == "select" and not choices:
            raise ValueError(f"parameter {name!r}: a select needs choices")
        if kind == "integer" and (minimum is None or maximum is None):
            raise ValueError(f"parameter {name!r}: an integer declares its minimum and maximum")
        if required and default is not None:
            raise ValueError(f"parameter {name!r}: a required parameter has no default")
        self.name = name
        self.kind = kind
        self.shortdesc = shortdesc
        self.longdesc = longdesc or shortdesc
        self.required = required
        self.unique_group = unique_group
        self.reloadable = reloadable
        self.choices = tuple(choices)
        self.minimum = minimum
        self.maximum = maximum
        self.check = check
        self.default = None if default is None else str(default)
        if self.default is not None:
            self.convert(self.default)

    def convert(self, raw):
        """The typed value of `raw` (a string from the environment), or ParameterError."""
        try:
            if self.kind == "boolean":
                return parse_boolean(raw)
            if self.kind == "integer":
                return self._integer(raw)
            if self.kind == "select" and raw not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, not {raw!r}")
            return raw
        except ValueError as exc:
            raise ParameterError(self.name, str(exc)) from None

    def _integer(self, raw):
        return parse_int(raw, self.minimum, self.maximum)

    def range_text(self):
        """'from 0 to 99' for an integer, '' for the other kinds."""
        return range_text(self.minimum, self.maximum) if self.kind == "integer" else ""

    def default_value(self):
        return None if self.default is None else self.convert(self.default)

    def run_check(self, value):
        """Apply the deeper syntax check, if any, to a converted value."""
        if self.check is None or value is None or value == "":
            return
        try:
            self.check(value)
        except ValueError as exc:
            raise ParameterError(self.name, str(exc)) from None


def convert_all(parameters, raw):
    """({name: typed value}, [ParameterError]) of `raw` ({name: text}, as the environment or a
    description gives them): a missing or empty value takes the default, and a value that does
    not convert is reported and takes the default too."""
    values, errors = {}, []
    for declaration in parameters:
        text = raw.get(declaration.name)
        if text is None or text == "":
            if declaration.required:
                errors.append(ParameterError(declaration.name, "is required but not set"))
            values[declaration.name] = declaration.default_value()
            continue
        try:
            values[declaration.name] = declaration.convert(text)
        except ParameterError as exc:
            errors.append(exc)
            values[declaration.name] = declaration.default_value()
    return values, errors


def problems(parameters, rules, values):
    """[ParameterError] of converted `values` (a Values): each parameter's own check, then,
    when those pass, the agent's rules across parameters.

    A rule is a pure function of the Values that raises ParameterError naming the parameter
    to change; it runs in the agent (validate-all, start, stop, a probe) and in `ocfgen check`
    alike, so the two accept the same configurations.
    """
    found = []
    for declaration in parameters:
        try:
            declaration.run_check(getattr(values, declaration.name))
        except ParameterError as exc:
            found.append(exc)
    if found:
        return found
    for rule in rules:
        try:
            rule(values)
        except ParameterError as exc:
            found.append(exc)
    return found


class Values:
    """The converted parameters of one action, as attributes (params.command)."""

    def __init__(self, values):
        self.__dict__.update(values)

    def as_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return f"Values({self.__dict__!r})"


# Reusable checks for `Parameter(check=...)`.

def absolute_path(value):
    if value and not value.startswith("/"):
        raise ValueError(f"must be an absolute path, not {value!r}")
    if "\0" in value:
        raise ValueError("must not contain a NUL byte")


def octal_mode(value):
    if not value or len(value) > 4 or any(c not in "01234567" for c in value):
        raise ValueError(f"must be an octal mode such as 022, not {value!r}")


def split_words(value):
    """The words of `value` split like a shell would (shlex.split), never expanded; ValueError
    with shlex's reason for an unclosed quote or a trailing backslash."""
    if not value.isascii() or any(c in value for c in "'\"\\\x0b\x0c\x1c\x1d\x1e\x1f"):
        import shlex  # (with re behind it) only for words that quote, escape or use odd spaces

        return shlex.split(value)
    return value.split()  # what shlex.split gives for such plain ASCII text


def command_line(value):
    """A command split like a shell would, without any shell ever running it."""
    try:
        words = split_words(value)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words ({exc}): {value!r}") from None
    if not words:
        raise ValueError("must name a command")


def environment_assignments(value):
    """NAME=VALUE words, quoted like a shell would, that are never expanded."""
    parse_environment(value)


def parse_environment(value):
    try:
        words = split_words(value)
    except ValueError as exc:
        raise ValueError(f"cannot be split into NAME=VALUE words ({exc})") from None
    pairs = {}
    for word in words:
        name, sep, setting = word.partition("=")
        if not sep or not _is_identifier(name):
            raise ValueError(f"has {word!r} where NAME=VALUE is expected")
        pairs[name] = setting
    return pairs
