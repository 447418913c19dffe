"""Option parsers shared by several subcommands."""

from __future__ import annotations

import click


def frame_range(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """'1001-1100' (or a single frame '1001') -> (1001, 1100)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if "-" in text[1:]:
            split = text.index("-", 1)
            first, last = int(text[:split]), int(text[split + 1:])
        else:
            first = last = int(text)
    except ValueError:
        raise click.BadParameter(f"expected FIRST-LAST frame numbers, got {value!r}") from None
    if first > last:
        raise click.BadParameter(f"{value!r}: the first frame comes after the last")
    return first, last
