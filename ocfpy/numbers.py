"""Whole numbers read from text: the OCF environment Pacemaker sets and integer parameters.

One rule for every number an agent reads:
- blanks (space, tab, newline) around the number are ignored;
- at most one sign, '+' or '-', then one or more ASCII digits 0-9 and nothing else (no '²' or
  other Unicode digits that str.isdigit accepts, no '_', no '0x');
- the value must lie in the caller's range, inclusive; a number with more digits than any
  range here allows is refused before it is converted, whatever its size.

Pacemaker keeps an operation's timeout and interval as C int milliseconds (the executor API's
`int timeout`), so no timeout an agent is given, or a parameter may declare, exceeds
PACEMAKER_MAX_MS.
"""

PACEMAKER_MAX_MS = 2**31 - 1
PACEMAKER_MAX_S = PACEMAKER_MAX_MS // 1000
# Longer than any bound above (2**63 has 19 digits): more digits are out of range unread.
_MAX_DIGITS = 20
_DIGITS = frozenset("0123456789")
_BLANKS = " \t\n"


def parse_int(text, minimum=None, maximum=None):
    """The integer `text` spells, inside [minimum, maximum]; ValueError saying why not."""
    word = text.strip(_BLANKS)
    digits = word[1:] if word[:1] in ("+", "-") else word
    if not digits or not _DIGITS.issuperset(digits):
        raise ValueError(f"is not an integer: {text!r}")
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        raise ValueError(f"is out of range ({range_text(minimum, maximum)}): "
                         f"a {len(digits)}-digit number")
    value = int(word)
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum}, not {value}{_whole(minimum, maximum)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum}, not {value}{_whole(minimum, maximum)}")
    return value


def is_digits(text):
    """Whether `text` is one or more ASCII digits and nothing else: the check for a number
    inside a larger syntax (a port in HOST:PORT, a length in a header), where no blanks or
    sign belong. str.isdigit() is not it: it also accepts '²', which int() refuses."""
    return bool(text) and _DIGITS.issuperset(text)


def is_dotted_quad(text):
    """Whether `text` is a numeric IPv4 address: four ASCII decimal parts, each 0-255."""
    parts = text.split(".")
    return len(parts) == 4 and all(is_digits(p) and int(p) < 256 for p in parts)


def _whole(minimum, maximum):
    both = minimum is not None and maximum is not None
    return f" (the range is {range_text(minimum, maximum)})" if both else ""


def int_or(text, default, minimum=None, maximum=None):
    """parse_int's value, or `default` when text is None or not a number in range."""
    if text is None:
        return default
    try:
        return parse_int(text, minimum, maximum)
    except ValueError:
        return default


def range_text(minimum, maximum):
    """How a range reads in a message or a parameter's description: 'from 0 to 99'."""
    if minimum is not None and maximum is not None:
        return f"from {minimum} to {maximum}"
    if minimum is not None:
        return f"at least {minimum}"
    if maximum is not None:
        return f"at most {maximum}"
    return "an integer"
