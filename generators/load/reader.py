"""The one TOML accessor of ocfgen: a `Reader` holds what reading a TOML file (a cluster
description, a hosts file) needs to remember, and reads typed values out of the TOML tree,
locating each error `file:line:column: key.path: why`.

The section readers are plain functions taking the reader and the TOML value they read
(resources.read_primitive(reader, ...), hosts.read(reader, tree), ...);
the reader is their only state:

- `source` (the file's name in messages), `positions`/`lines` (positions: key path -> place);
- `errors`, recorded by `collect()`, and `broken`, the items whose reading failed;
- `ids` claimed (id -> key path), `warnings`;
- for agents' parameters: `unchecked` (agents without meta-data here) and `elsewhere` (agents
  the description declares installed on the nodes only), `node_count`.

`fail()` raises and ends the current item; `collect()` around an item records its error and
reading goes on with the next one. Errors are DescriptionError (one located line each).
"""

import contextlib
import os

from .positions import dotted, key_positions, line_of, position_of, syntax_position
from .values import (
    DURATION,
    IDENTIFIER,
    NOT_XML,
    OLD_ROLES,
    ROLES,
    SCORE,
    Reported,
    kind,
    suggest,
)

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

# Errors shown of one file; the rest are counted.
MAX_ERRORS = 20


def place(source, line=None, column=None):
    """file, file:line or file:line:column"""
    if line is None:
        return source
    return f"{source}:{line}" if column is None else f"{source}:{line}:{column}"


class DescriptionError(ValueError):
    """A description (or hosts file) that cannot be read: str() is one located line,
    `file:line:column: key.path: why`."""

    def __init__(self, source, line, path, why, column=None):
        self.source, self.line, self.column = source, line, column
        self.path, self.why = tuple(path), why
        key = dotted(self.path)
        where = place(source, line, column)
        message = f"{where}: {key}: {why}" if key else f"{where}: {why}"
        # One line whatever the file holds: control characters (even in key names) are escaped.
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))

    def sort_key(self):
        return (self.line or 0, self.column or 0, str(self))


class DescriptionErrors(DescriptionError):
    """Every error of one file: str() is one located line each (joined by newlines),
    sorted by line and column, the first MAX_ERRORS of them and then how many more there are.
    Its own attributes (line, path, why...) are those of the first."""

    def __init__(self, errors):
        unique = {str(error): error for error in errors}
        self.errors = sorted(unique.values(), key=DescriptionError.sort_key)
        first = self.errors[0]
        super().__init__(first.source, first.line, first.path, first.why, first.column)
        shown = [str(error) for error in self.errors[:MAX_ERRORS]]
        rest = len(self.errors) - len(shown)
        if rest:
            shown.append(f"... and {rest} more error{'s' if rest > 1 else ''}")
        self.args = ("\n".join(shown),)


# Far more than any real description (1,000 resources take about 100 kB).
MAX_BYTES = 64 * 2**20


def read_regular(path, limit=MAX_BYTES):
    """The bytes of the regular file at `path`; OSError for anything else (a FIFO would block,
    /dev/zero never ends) or a file larger than `limit`."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
    return data


class Reader:
    """The state of reading one TOML file, and its typed accessors."""

    def __init__(self, source):
        self.source = source
        self.positions = {}       # key path -> (line, column)
        self.errors = []          # DescriptionErrors recorded, reported together at the end
        self.broken = set()       # key paths of items whose reading failed
        self.warnings = []
        self.ids = {}             # id -> key path that defined it
        self.unchecked = set()    # agent specs whose parameters could not be checked
        self.elsewhere = set()    # agent specs declared installed on the nodes only
        self.node_count = 0       # [nodes.NAME] tables, read or not

    def parse(self, data):
        """The TOML tree of `data` (bytes), its key positions noted; text that is no TOML is
        refused at once (nothing can be read)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DescriptionError(self.source, line, (), "is not UTF-8 text", column) from None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, column, path, why = syntax_position(exc, text)
            raise DescriptionError(self.source, line, path, f"invalid TOML: {why}",
                                   column) from None
        self.positions = key_positions(text)
        return doc

    def raise_errors(self):
        """Raise every error recorded, if any, as one DescriptionErrors."""
        if self.errors:
            raise DescriptionErrors(self.errors)

    # Errors and warnings.
    def where(self, path):
        key = dotted(path)
        at = place(self.source, *(position_of(self.positions, path) or ()))
        return f"{at}: {key}" if key else at

    def error(self, path, why):
        # A problem of the whole document (no key of it to point at) is reported at line 1.
        line, column = position_of(self.positions, path) or (1, 1)
        return DescriptionError(self.source, line, path, why, column)

    def fail(self, path, why):
        """Refuse the item being read: `why` is located at `path`."""
        raise self.error(path, why)

    @contextlib.contextmanager
    def collect(self, path=None):
        """Read one item: an error ends it and is recorded (reading goes on with the next);
        `path` then counts as broken, so that nothing depending on it is refused again."""
        try:
            yield
        except DescriptionError as exc:
            self.errors.extend(getattr(exc, "errors", [exc]))
            if path is not None:
                self.broken.add(tuple(path))
        except Reported:
            if path is not None:
                self.broken.add(tuple(path))

    def broken_at(self, path):
        """Whether reading failed for the item at `path`, one containing it or one inside it."""
        path = tuple(path)
        return any(b[:len(path)] == path or path[:len(b)] == b for b in self.broken)

    def no_such(self, path, name, known, what="resource",
                sections=("resources", "groups", "clones")):
        """Refuse a reference to an unknown `name`, unless an item of that name was written
        in one of `sections` and failed: then end the referring item quietly."""
        if any(self.broken_at((section, name)) for section in sections):
            raise Reported()
        failed = [b[1] for b in self.broken if len(b) == 2 and b[0] in sections]
        self.fail(path, f"unknown {what} {name!r}{suggest(name, list(known) + failed)}")

    def warn(self, path, why):
        self.warnings.append(f"{self.where(path)}: {why}")

    # Typed access.
    def table(self, path, value, allowed=None):
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, not {kind(value)}")
        if allowed is not None:
            unknown = [self.error(path + (key,), f"unknown key {key!r}{suggest(key, allowed)}; "
                                                 f"allowed here: {', '.join(allowed)}")
                       for key in value if key not in allowed]
            if unknown:  # each one reported, then the item ends
                self.errors.extend(unknown)
                raise Reported()
        return value

    def string(self, path, value, pattern=None, what="a string"):
        if not isinstance(value, str):
            self.fail(path, f"must be {what}, not {kind(value)}")
        if NOT_XML.search(value):
            self.fail(path, "contains a control character")
        if pattern is not None and not pattern.match(value):
            self.fail(path, f"{value!r} is not {what}")
        return value

    def integer(self, path, value, minimum=None, maximum=None):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"must be an integer, not {kind(value)}")
        if minimum is not None and value < minimum:
            self.fail(path, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            self.fail(path, f"must be at most {maximum}, not {value}")
        return value

    def boolean(self, path, value):
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {kind(value)}")
        return value

    def scalar(self, path, value):
        """A value bound for the CIB as text: strings, integers, floats and booleans."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, str)):
            text = str(value)
            if NOT_XML.search(text) or "\r" in text:
                self.fail(path, "contains a control character")
            return text
        self.fail(path, f"must be a string, number or boolean, not {kind(value)}")

    def identifier(self, path, value):
        return self.string(path, value, IDENTIFIER,
                           "an id (a letter or '_', then letters, digits, '.', '-' or '_')")

    def strings(self, path, value, pattern=None, what="a string", nonempty=True):
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {kind(value)}")
        if nonempty and not value:
            self.fail(path, "must not be empty")
        return [self.string(path + (i,), v, pattern, what) for i, v in enumerate(value)]

    def integers(self, path, value, minimum=None, maximum=None, nonempty=True):
        if not isinstance(value, list):
            self.fail(path, f"must be a list, not {kind(value)}")
        if nonempty and not value:
            self.fail(path, "must not be empty")
        return [self.integer(path + (i,), v, minimum, maximum) for i, v in enumerate(value)]

    def duration(self, path, value):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return f"{value}s"
        text = self.string(path, value, what="a duration")
        if not DURATION.match(text.strip()):
            self.fail(path, f"{text!r} is not a duration (such as 10s, 500ms, 2min)")
        return text.strip()

    def score(self, path, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        text = self.string(path, value, what="a score")
        if not SCORE.match(text):
            self.fail(path, f"{text!r} is not a score (an integer, INFINITY or -INFINITY)")
        return text

    def role(self, path, value):
        text = self.string(path, value, what="a role")
        if text in OLD_ROLES:
            self.fail(path, f"role {text!r} is Pacemaker 1 naming: use {OLD_ROLES[text]!r}")
        if text not in ROLES:
            self.fail(path, f"role {text!r} is not one of {', '.join(ROLES)}")
        return text

    def claim(self, path, identifier):
        if identifier in self.ids:
            other = self.ids[identifier]
            line = line_of(self.positions, other)
            at = f" (line {line})" if line else ""
            self.fail(path, f"duplicate id {identifier!r}: already used by {dotted(other)}{at}")
        self.ids[identifier] = path
        return identifier

    def unique(self, base, path):
        """A pcs-style generated id: base, or base-1, base-2 ... when taken."""
        candidate, n = base, 0
        while candidate in self.ids:
            n += 1
            candidate = f"{base}-{n}"
        return self.claim(path, candidate)

    def choice(self, path, value, choices):
        text = self.string(path, value)
        if text not in choices:
            self.fail(path, f"must be one of {', '.join(choices)}, not {text!r}")
        return text

    def array(self, name, doc):
        """The array of tables [[name]] of `doc` (empty when absent)."""
        value = doc.get(name, [])
        if not isinstance(value, list):
            self.fail((name,), f"must be an array of tables ([[{name}]]), not {kind(value)}")
        return value
