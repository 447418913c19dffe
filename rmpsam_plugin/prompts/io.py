"""Reading and writing prompt files.

`load_prompts` reads only a regular file of at most `MAX_PROMPT_FILE_BYTES` (`input_files.py`),
reports a JSON syntax error with its line and column, and everything else through the full
check (`validation.py`). `save_prompts` checks before writing, so it never writes a file
that `load_prompts` would refuse, and writes atomically (temporary file, then rename), so an
editor or bridge that dies mid-save leaves the previous file intact rather than half of a new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .codec import document_from_prompt_set
from .errors import PromptFileError, PromptIssue
from .input_files import MAX_PROMPT_FILE_BYTES, UnusableFileError, read_input_file
from .json_text import DocumentLimitError, format_document, parse
from .model import PlateInfo, PromptSet
from .validation import checked_prompt_set


def load_prompts(path: str | os.PathLike, plate: PlateInfo | None = None) -> PromptSet:
    """Read and check the prompt file at `path`, against `plate` (what is known of the sequence:
    frame range, size) when given. Raises `PromptFileError` listing every problem."""
    path = Path(path)
    try:
        text = read_input_file(path, MAX_PROMPT_FILE_BYTES).decode("utf-8")
    except UnusableFileError as error:
        raise PromptFileError(str(path), [PromptIssue(None, None, "", f"file {error.reason}")]) from None
    except UnicodeDecodeError as error:
        raise PromptFileError(str(path), [PromptIssue(None, None, "", f"cannot read the file: {error}")]) from None
    try:
        document = parse(text)
    except json.JSONDecodeError as error:
        message = f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        raise PromptFileError(str(path), [PromptIssue(None, None, "", message)]) from None
    except DocumentLimitError as error:
        raise PromptFileError(str(path), [PromptIssue(None, None, "", str(error))]) from None
    return checked_prompt_set(document, base_dir=path.parent.absolute(), plate=plate, source=str(path))


def save_prompts(prompt_set: PromptSet, path: str | os.PathLike) -> None:
    """Write `prompt_set` to `path` in canonical form (fixed key order, mask paths relative to the
    file's folder). Raises `PromptFileError` instead of writing prompts that would not load."""
    path = Path(path)
    base_dir = path.parent.absolute()
    document = document_from_prompt_set(prompt_set, base_dir)
    checked_prompt_set(document, base_dir=base_dir, plate=None, source=str(path))
    text = format_document(document).encode("utf-8")
    if len(text) > MAX_PROMPT_FILE_BYTES:
        message = f"the prompts would take {len(text):,} bytes, over the {MAX_PROMPT_FILE_BYTES:,} a prompt file may hold"
        raise PromptFileError(str(path), [PromptIssue(None, None, "", message)])
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
