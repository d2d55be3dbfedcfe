"""OCF return codes and the one exception that carries a code and an exit reason.

`OCF` holds the codes as plain ints and `OCFCode` is the same table as an IntEnum. The enum
module costs about 5 ms to import, a third of a bare isolated interpreter start, so the monitor
path uses `OCF` and `OCFCode` is built on first use (logging a code's name, tests, ocfgen).
"""


class OCF:
    """Exit codes of the OCF resource-agent API 1.1."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


def code_table():
    """Name -> value of every OCF code, in numeric order."""
    return {name: value for name, value in vars(OCF).items() if name.isupper()}


def __getattr__(name):
    if name == "OCFCode":
        from enum import IntEnum

        enum_class = IntEnum("OCFCode", code_table(), module=__name__)
        globals()["OCFCode"] = enum_class
        return enum_class
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def code_name(code):
    """'NOT_RUNNING' for 7; the number itself for a code outside the API."""
    for name, value in code_table().items():
        if value == code:
            return name
    return str(code)


class OCFError(Exception):
    """An action's outcome other than success: the code to exit with and why.

    The reason becomes the exit reason Pacemaker shows under failed actions, so it is kept to
    one short line that names the parameter, path or process concerned.
    """

    def __init__(self, code, reason=""):
        if code not in code_table().values():
            raise ValueError(f"{code!r} is not an OCF return code")
        super().__init__(reason)
        self.code = int(code)
        self.reason = " ".join(str(reason).split())

    def __repr__(self):
        return f"OCFError({code_name(self.code)}, {self.reason!r})"
