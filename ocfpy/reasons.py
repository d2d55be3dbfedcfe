"""Exit reasons that survive Pacemaker: one line of at most 128 bytes, cause first.

Pacemaker keeps only the first 128 characters of an exit reason, so every reason an agent emits
goes through fit(): whitespace collapsed, long paths shortened to their last two components
(".../dir/file"), then if need be to their file name (".../file"), and what is still too long
cut at a word boundary with "..." so the cause (which the agents write first) always survives
and only details are lost.
"""

LIMIT = 128
ELLIPSIS = "..."
# A path of more components than this keeps only its last two.
_PATH_KEEP = 2


def _shorten_path(word, keep=_PATH_KEEP):
    """'/run/ocfpy/acs-services/x.log' -> '.../acs-services/x.log' (keep=2), '.../x.log'
    (keep=1); other words unchanged.

    Punctuation around the path ("(log: /a/b/c/d)") stays where it was.
    """
    start = word.find("/")
    if start < 0 or (start and word[start - 1] not in "(=:'\"["):
        return word
    end = len(word)
    while end > start and word[end - 1] in ").,;:'\"]":
        end -= 1
    path = word[start:end]
    parts = [p for p in path.split("/") if p]
    if len(parts) <= keep + 1 or "//" in path:
        return word
    return word[:start] + ".../" + "/".join(parts[-keep:]) + word[end:]


def _size(text):
    return len(text.encode("utf-8"))


def fit(reason, limit=LIMIT):
    """`reason` as one line of at most `limit` bytes (UTF-8), keeping its beginning."""
    words = str(reason).split()
    text = " ".join(words)
    if _size(text) <= limit:
        return text
    for keep in (_PATH_KEEP, 1):
        text = " ".join(_shorten_path(word, keep) for word in words)
        if _size(text) <= limit:
            return text
    budget = limit - len(ELLIPSIS)
    cut = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    space = cut.rfind(" ")
    if space > budget // 2:  # cut at a word boundary unless that loses too much
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + ELLIPSIS
