"""What is wrong with a prompt file, said so that an artist can find and fix every problem at once.

Each problem is a `PromptIssue` located by instance name, keyframe (frame number) and field, the
way an artist thinks of the prompts, rather than by a JSON path. Loading collects all of them
before raising one `PromptFileError`, so a file with five mistakes takes one round trip, not five;
a single problem is said on one line.
Names and fields come from the file, so they are printed escaped (`printable`): a name holding a
newline or a terminal escape code cannot forge log lines. The message lists the first
`LISTED_ISSUES` problems (a file of 300,000 unknown keys would print 300,000 lines); `issues`
keeps them all, for `--json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rmpsam_plugin.printable import printable

LISTED_ISSUES = 100
_SHOWN_NAME = 80


@dataclass(frozen=True)
class PromptIssue:
    """One problem. `instance` and `frame` are None where the problem is not inside one;
    `field` is relative to the innermost of them (e.g. "positive_clicks[1]", "plate.width",
    "keyframes[2].frame" when the keyframe has no usable frame number), empty for the whole thing."""

    instance: str | None
    frame: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = []
        if self.instance is not None:
            where.append(f'instance "{printable(self.instance, _SHOWN_NAME)}"')
        if self.frame is not None:
            where.append(f"keyframe {self.frame}")
        if self.field:
            where.append(printable(self.field, _SHOWN_NAME))
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def to_json(self) -> dict:
        """Plain form for `--json` output and the Nuke bridge, with the formatted text beside it."""
        return {
            "instance": self.instance,
            "frame": self.frame,
            "field": self.field,
            "message": self.message,
            "text": str(self),
        }


class PromptFileError(ValueError):
    """A prompt file (or prompt dict) that cannot be used; `issues` lists every problem found."""

    def __init__(self, source: str, issues: Sequence[PromptIssue]):
        self.source = source
        self.issues = list(issues)
        count = len(self.issues)
        if count == 1:  # one line, as a render-farm log shows it best
            super().__init__(f"{printable(source)}: {self.issues[0]}")
            return
        lines = [f"{printable(source)}: {count} problems:"]
        lines += [f"  - {issue}" for issue in self.issues[:LISTED_ISSUES]]
        if count > LISTED_ISSUES:
            lines.append(f"  ... and {count - LISTED_ISSUES} more (all of them with `prompts validate --json`)")
        super().__init__("\n".join(lines))


class UnknownInstanceError(KeyError):
    """An instance name asked for that the prompts do not have."""

    def __init__(self, unknown: Sequence[str], available: Sequence[str]):
        self.unknown = list(unknown)
        self.available = list(available)
        super().__init__(
            f"no instance named {', '.join(repr(n) for n in self.unknown)} in the prompts; "
            f"they have {', '.join(repr(n) for n in self.available) or 'none'}"
        )

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])
