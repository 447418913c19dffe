"""Reading and writing prompt files.

`load_prompts` reports a JSON syntax error with its line and column, and everything else through
the full check (`validation.py`). `save_prompts` checks before writing, so it never writes a file
that `load_prompts` would refuse, and writes atomically (temporary file, then rename), so an
editor or bridge that dies mid-save leaves the previous file intact rather than half of a new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .codec import document_from_prompt_set
from .errors import PromptFileError, PromptIssue
from .json_text import format_document, parse
from .model import PlateInfo, PromptSet
from .validation import checked_prompt_set


def load_prompts(path: str | os.PathLike, plate: PlateInfo | None = None) -> PromptSet:
    """Read and check the prompt file at `path`, against `plate` (what is known of the sequence:
    frame range, size) when given. Raises `PromptFileError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptFileError(str(path), [PromptIssue(None, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PromptFileError(str(path), [PromptIssue(None, None, "", f"cannot read the file: {error}")]) from None
    try:
        document = parse(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        raise PromptFileError(str(path), [PromptIssue(None, None, "", message)]) from None
    return checked_prompt_set(document, base_dir=path.parent.absolute(), plate=plate, source=str(path))


def save_prompts(prompt_set: PromptSet, path: str | os.PathLike) -> None:
    """Write `prompt_set` to `path` in canonical form (fixed key order, mask paths relative to the
    file's folder). Raises `PromptFileError` instead of writing prompts that would not load."""
    path = Path(path)
    base_dir = path.parent.absolute()
    document = document_from_prompt_set(prompt_set, base_dir)
    checked_prompt_set(document, base_dir=base_dir, plate=None, source=str(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(format_document(document), encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
