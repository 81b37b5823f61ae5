"""Token-level pre-pass: ``async``/``await`` used as plain names.

libcst (and ``ast`` on 3.7+) cannot parse ``asyncio.async(x)`` or
``def f(async=False)``, so before any tree is built these tokens are
renamed: ``asyncio.async`` (and ``from asyncio import async``) become
``ensure_future``, any other ``async``/``await`` used as a name becomes
``async_``/``await_``. The line structure is kept, so line numbers of later
findings still match the original file.
"""
import io
import re
import tokenize
from typing import List, Set, Tuple

# Cheap screen: the pre-pass tokenizes only files that may need it.
_MAYBE = re.compile(r"\b(?:async|await)\b")
_ASYNCIO_ALIAS = re.compile(r"\bimport\s+asyncio\s+as\s+(\w+)")
_STAR_IMPORT = re.compile(r"^\s*from\s+asyncio\s+import\s+\*", re.MULTILINE)
_KEYWORD_FOLLOWERS = {"def", "with", "for"}
_NAME_FOLLOWERS = {"=", ",", ")", "]", "}", ".", ":", "(", ""}
_NAME_PRECEDERS = {".", "def", "class", "import", "as"}

Change = Tuple[int, int, str]  # line, col (1-based), description


def _asyncio_names(source: str) -> Set[str]:
    names = {"asyncio"}
    names.update(_ASYNCIO_ALIAS.findall(source))
    return names


def _is_name_use(toks: List[tokenize.TokenInfo], i: int) -> bool:
    """Whether the ``async``/``await`` token at ``i`` is used as a name."""
    tok = toks[i]
    prev = toks[i - 1].string if i > 0 else ""
    nxt_tok = toks[i + 1] if i + 1 < len(toks) else None
    nxt = nxt_tok.string if nxt_tok is not None else ""
    if prev in _NAME_PRECEDERS:
        return True
    if tok.string == "async":
        return nxt not in _KEYWORD_FOLLOWERS
    # ``await (x)`` is the keyword; ``f(await=1)``/``x = await`` are names.
    if nxt == "(":
        return prev == "def"
    if nxt_tok is not None and nxt_tok.type in (tokenize.NEWLINE, tokenize.COMMENT):
        return True
    return nxt in _NAME_FOLLOWERS


def prepass(source: str) -> Tuple[str, List[Change]]:
    """Rename ``async``/``await`` used as names; return new source and changes."""
    if not _MAYBE.search(source):
        return source, []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source, []
    aliases = _asyncio_names(source)
    # after ``from asyncio import *`` a bare ``async(...)`` is asyncio's
    from_asyncio_async = bool(_STAR_IMPORT.search(source))
    edits: List[Tuple[int, int, int, str]] = []  # row, col, length, text
    changes: List[Change] = []
    significant = [t for t in toks if t.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT)]
    for i, tok in enumerate(significant):
        if tok.type != tokenize.NAME or tok.string not in ("async", "await"):
            continue
        if not _is_name_use(significant, i):
            continue
        prev = significant[i - 1].string if i > 0 else ""
        before = significant[i - 2].string if i > 1 else ""
        if tok.string == "async" and (
            (prev == "." and before in aliases)
            or (prev in ("import", ",", "(") and _imports_from_asyncio(significant, i))
            or (from_asyncio_async and prev != ".")
        ):
            if prev in ("import", ",", "("):
                from_asyncio_async = True
            new, why = "ensure_future", "asyncio.async() is ensure_future()"
        else:
            new, why = tok.string + "_", f"'{tok.string}' used as a name renamed to '{tok.string}_'"
        row, col = tok.start
        edits.append((row, col, len(tok.string), new))
        changes.append((row, col + 1, why))
    if not edits:
        return source, []
    lines = source.splitlines(keepends=True)
    for row, col, length, new in reversed(edits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + length:]
    return "".join(lines), changes


def _imports_from_asyncio(toks: List[tokenize.TokenInfo], i: int) -> bool:
    """Whether token ``i`` sits in ``from asyncio import ...``."""
    j = i
    while j > 0 and toks[j].string != "from" and toks[j].type != tokenize.NEWLINE:
        j -= 1
    return toks[j].string == "from" and j + 1 < len(toks) and toks[j + 1].string == "asyncio"
