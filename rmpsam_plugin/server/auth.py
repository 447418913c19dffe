"""The preview server's bearer token: one random secret per server process.

Binding to 127.0.0.1 keeps other machines out but not other users (or other programs) of the
same machine, and the server can read any plate its user can and start processes as that user.
Every request therefore carries `Authorization: Bearer <token>`. The token is made fresh for each
server run, handed to the client that started it (stdout of the server, or a token file only the
user can read), and compared in constant time with the exact header value: `Bearer`, one space,
the token, nothing else (no whitespace around it, no second `Authorization` header). HTTP's parser
drops the blanks between the colon and the value; nothing else is forgiven.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

TOKEN_BYTES = 32
BEARER_PREFIX = "Bearer "


def new_token() -> str:
    """A URL-safe random token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def write_token_file(path: str | os.PathLike, token: str) -> Path:
    """Write `token` to `path`, readable and writable by the owner only (0600).

    The file is created with mode 0600 from the start (never world-readable for an instant) and an
    existing file is replaced rather than rewritten in place, so a file that someone else could
    read before keeps none of its old permissions.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def is_authorised(header_values: list[str] | None, token: str) -> bool:
    """True when the request has one `Authorization` header and it is exactly `Bearer <token>`.

    `header_values`: every `Authorization` header of the request (`headers.get_all`), or None."""
    if not header_values or len(header_values) != 1:
        return False
    expected = (BEARER_PREFIX + token).encode("utf-8")
    # http.client decodes header bytes as ISO-8859-1, so this gives back the bytes that were sent
    return hmac.compare_digest(header_values[0].encode("latin-1", errors="replace"), expected)
