"""Line numbers of key paths in TOML text.

tomllib returns plain dicts without positions, so error messages find where a key was written
by scanning the source once: `key_lines(text)` maps every key path (a tuple of keys and array
indexes, as the parsed document would be indexed) to the line where it first appears. The text
has already been parsed by tomllib, so this scanner can be lenient about anything invalid.
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
        self.lines = {}
        self.arrays = {}   # array-of-tables path -> next index

    def peek(self, n=1):
        return self.text[self.pos:self.pos + n]

    def advance(self, n=1):
        self.pos += n

    def record(self, path):
        key = tuple(path)
        if key not in self.lines:
            self.lines[key] = bisect_right(self.newlines, self.pos - 1) + 1

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
        parts = []
        while True:
            self.skip_blank(False)
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
                for depth in range(1, len(keys) + 1):
                    self.record(path + keys[:depth])
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
        table = []
        while self.pos < len(self.text):
            self.skip_blank(True)
            if self.pos >= len(self.text):
                break
            if self.peek(2) == "[[":
                self.advance(2)
                keys = self.key()
                base = self._resolve(keys[:-1]) + keys[-1:]
                index = self.arrays.get(tuple(base), 0)
                self.arrays[tuple(base)] = index + 1
                table = base + [index]
                for depth in range(1, len(base) + 1):
                    self.record(base[:depth])
                self.record(table)
                self._skip_line()
            elif self.peek() == "[":
                self.advance()
                keys = self._resolve(self.key())
                table = keys
                for depth in range(1, len(keys) + 1):
                    self.record(keys[:depth])
                self._skip_line()
            else:
                keys = self.key()
                if not keys:
                    self._skip_line()
                    continue
                for depth in range(1, len(keys) + 1):
                    self.record(table + keys[:depth])
                self.skip_blank(False)
                if self.peek() == "=":
                    self.advance()
                self.value(table + keys)
        return self.lines

    def _resolve(self, keys):
        """[a.b] after [[a]]: b belongs to the last element of array a."""
        resolved = []
        for key in keys:
            resolved.append(key)
            count = self.arrays.get(tuple(resolved))
            if count:
                resolved.append(count - 1)
        return resolved

    def _skip_line(self):
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end


def key_lines(text):
    """{key path tuple: first line number (1-based)} for every key and array element."""
    return _Scanner(text).document()


def syntax_error(exc, text):
    """(line, why) of a tomllib.TOMLDecodeError on `text`: its position taken out of the
    message, so that the caller can put it first (the end of the text when none is given)."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = int(found.group(1)) if found else text.count("\n") + 1
    return line, re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)


def line_of(lines, path):
    """The line of `path`, or of its longest prefix that was found; None if none was."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


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
