"""Text taken from users' files (instance names, field names, paths), made safe to print.

A name holding a newline or a terminal escape code, printed raw, forges extra lines in a
render-farm log or recolours and rewrites the artist's terminal. `printable` escapes every
character that is not printable (controls, escapes, bidirectional overrides) as Python writes
it in a string literal, and can shorten long text, so a message always shows what is there, on
one line.
"""

from __future__ import annotations

import os


def printable(text: str | os.PathLike, limit: int | None = None) -> str:
    """`text` with non-printable characters escaped (`\\n`, `\\x1b`, `\\u202e`), cut to `limit`
    characters (followed by "...") when given and longer."""
    text = os.fspath(text)
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    if limit is not None and len(shown) > limit:
        return f"{shown[:limit]}... ({len(text)} characters)"
    return shown
