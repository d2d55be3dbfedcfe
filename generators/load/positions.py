"""Positions of key paths in TOML text.

tomllib returns plain dicts without positions, so error messages find where a key was written
by scanning the source once: `key_positions(text)` maps every key path (a tuple of keys and
array indexes, as the parsed document would be indexed) to the (line, column) where it first
appears. The text has already been parsed by tomllib, so
this scanner can be lenient about anything invalid.

The rule for columns (1-based, in characters, as tomllib counts them): the column where the
key itself is written, also when its value is what is wrong: `c` of `c = 1`, of `b.c = 1`, of
`[a.c]` or of `{ c = 1 }`; for an array element (`[1, 2]`, or `[[a]]` tables), where the
element starts (for `[[a]]`, where its name is written in the header).

`syntax_position(exc, text)` places a tomllib syntax error the same way: the line and column
tomllib gives, and the key path around it (the table of the nearest header above, and the key
on the error's line if it has one).
"""

import re
from bisect import bisect_right

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_BLANK = re.compile(r"(?:[ \t\r]+|#[^\n]*)*")
_BLANK_LINES = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"((?:[^"\\\n]|\\.)*)"?')
_LITERAL = re.compile(r"'([^'\n]*)'?")
_SCALAR = re.compile(r"[^,\]}\n#]*")


class _Scanner:
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.lines = {}    # key path -> (line, column)
        self.arrays = {}   # array-of-tables path -> next index
        self.table = []    # the table the last header opened
        self.starts = []   # where each part of the last key() read is written

    def peek(self, n=1):
        return self.text[self.pos:self.pos + n]

    def advance(self, n=1):
        self.pos += n

    def position(self, pos):
        """(line, column) of offset `pos`, both 1-based."""
        line = bisect_right(self.newlines, pos - 1)
        start = self.newlines[line - 1] + 1 if line else 0
        return line + 1, pos - start + 1

    def record(self, path, pos=None):
        key = tuple(path)
        if key not in self.lines:
            self.lines[key] = self.position(self.pos if pos is None else pos)

    def record_key(self, table, keys):
        """Every prefix of the dotted key `keys` under `table`, each where its part starts."""
        for depth in range(1, len(keys) + 1):
            self.record(table + keys[:depth], self.starts[depth - 1])

    def skip_blank(self, newlines):
        self.pos = (_BLANK_LINES if newlines else _BLANK).match(self.text, self.pos).end()

    def string(self):
        for quote in ('"""', "'''"):
            if self.text.startswith(quote, self.pos):
                end = self.text.find(quote, self.pos + 3)
                end = len(self.text) if end < 0 else end + 3
                while self.text[end:end + 1] == quote[0]:   # """a"""" ends at the last quote
                    end += 1
                value = self.text[self.pos + 3:end - 3]
                self.pos = end
                return value
        found = (_BASIC if self.peek() == '"' else _LITERAL).match(self.text, self.pos)
        self.pos = found.end()
        return found.group(1)

    def key(self):
        parts, self.starts = [], []
        while True:
            self.skip_blank(False)
            self.starts.append(self.pos)
            if self.peek() in ('"', "'"):
                parts.append(self.string())
            else:
                found = _BARE_KEY.match(self.text, self.pos)
                if not found:
                    return parts
                parts.append(found.group())
                self.pos = found.end()
            self.skip_blank(False)
            if self.peek() != ".":
                return parts
            self.advance()

    def value(self, path):
        self.skip_blank(False)
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "{":
            self.advance()
            while True:
                self.skip_blank(True)
                if self.peek() in ("}", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                keys = self.key()
                if not keys:
                    self.advance()
                    continue
                self.record_key(path, keys)
                self.skip_blank(False)
                if self.peek() == "=":
                    self.advance()
                self.value(path + keys)
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_blank(True)
                if self.peek() in ("]", ""):
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.record(path + [index])
                before = self.pos
                self.value(path + [index])
                if self.pos == before:   # never loop on text tomllib would not have accepted
                    self.advance()
                index += 1
        else:
            self.pos = _SCALAR.match(self.text, self.pos).end()

    def document(self):
        while self.pos < len(self.text):
            self.skip_blank(True)
            if self.pos >= len(self.text):
                break
            if self.peek(2) == "[[":
                self.advance(2)
                keys = self.key()
                if keys:
                    self.header(keys, array=True)
                self._skip_line()
            elif self.peek() == "[":
                self.advance()
                keys = self.key()
                if keys:
                    self.header(keys, array=False)
                self._skip_line()
            else:
                keys = self.key()
                if not keys:
                    self._skip_line()
                    continue
                self.record_key(self.table, keys)
                self.skip_blank(False)
                if self.peek() == "=":
                    self.advance()
                self.value(self.table + keys)
        return self.lines

    def header(self, keys, array):
        """[a.b] or [[a.b]] (keys ["a", "b"]): record it and open its table."""
        resolved, starts = [], []
        for depth, key in enumerate(keys):
            resolved.append(key)
            starts.append(self.starts[depth])
            count = self.arrays.get(tuple(resolved))
            if count and (depth + 1 < len(keys) or not array):
                # [a.b] after [[a]]: b belongs to the last element of array a.
                resolved.append(count - 1)
                starts.append(self.starts[depth])
        if array:
            index = self.arrays.get(tuple(resolved), 0)
            self.arrays[tuple(resolved)] = index + 1
            resolved.append(index)
            starts.append(starts[-1])
        for depth in range(1, len(resolved) + 1):
            self.record(resolved[:depth], starts[depth - 1])
        self.table = resolved

    def _skip_line(self):
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end


def key_positions(text):
    """{key path tuple: (line, column), both 1-based, of its first appearance} for every key
    and array element."""
    return _Scanner(text).document()


def syntax_position(exc, text):
    """(line, column, key path, why) of a tomllib.TOMLDecodeError on `text`: the position
    tomllib gives (the end of the text when it says "end of document"), the key path around
    it (the table of the nearest header above the line, then the key written on the line, if
    any; a header on the line itself names its own table), and the message without position."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
    else:
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
    why = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return line, column, surrounding_key(text, line), why


def surrounding_key(text, line):
    """The key path at the start of line `line` of `text` (which need not be valid TOML)."""
    rows = text.split("\n")
    before = "\n".join(rows[:line - 1])
    scanner = _Scanner(before + "\n" if before else "")
    scanner.document()
    row = _Scanner(rows[line - 1] if line <= len(rows) else "")
    row.skip_blank(False)
    if row.peek() == "[":
        # Its own header, maybe unfinished: [a.b or [[a.b
        array = row.peek(2) == "[["
        row.advance(2 if array else 1)
        keys = row.key()
        if keys:
            scanner.starts = row.starts
            scanner.header(keys, array)
        return tuple(scanner.table)
    keys = row.key()
    row.skip_blank(False)
    return tuple(scanner.table + (keys if keys and row.peek() == "=" else []))


def position_of(positions, path):
    """The (line, column) of `path`, or of its longest prefix that was found; None if none
    was."""
    path = tuple(path)
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return None


def line_of(positions, path):
    """The line of `path`, or of its longest prefix that was found; None if none was."""
    found = position_of(positions, path)
    return found[0] if found else None


def dotted(path):
    """resources.web.ops[1].interval"""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            text = str(key)
            if not text or any(c not in _BARE for c in text):
                import json

                text = json.dumps(text)
            out += ("." if out else "") + text
    return out
