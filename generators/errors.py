"""What a failed ocfgen step is: an exit code and a message (cli/run.py prints them).

Exit codes: 0 success, 1 a validator, simulation or live-cluster step refused or failed,
2 a bad description (one located line per error) or command line (one line), 70 an internal
error (a bug). Every stage raises CommandFailed; only the CLI turns it into output.
"""

FAILED = 1
BAD_INPUT = 2
INTERNAL = 70


class CommandFailed(Exception):
    """`message`: one line, or a list of lines (each printed as one line)."""

    def __init__(self, code, message=""):
        super().__init__(message)
        self.code = code
        self.message = message
