"""JSON text in and out, stricter and tidier than the `json` module's defaults.

Reading: Python's `json` quietly accepts `NaN`/`Infinity` (which `json.dumps` writes by default,
so a Nuke knob holding NaN would get through) and lets a repeated key win silently. Here a
non-finite number parses to a `NonFiniteNumber` marker that the schema then rejects at its exact
place, and objects remember repeated keys so they can be reported where they are.

Reading is bounded, because a prompt file may come from anywhere: repeated keys are found in
linear time (a quadratic search took minutes on a 2 MB file); an integer longer than
`MAX_INTEGER_DIGITS` is never converted (Python refuses over 4,300 digits with a bare ValueError,
and no frame or coordinate has that many) but parses to an `OversizedNumber` marker the schema
rejects at its place; and nesting deeper than `MAX_DEPTH` (a prompt file needs 7 levels; 100k
levels overflow the parser and every walk after it) is a `DocumentLimitError`.

Writing: keys in the order given (the caller fixes it), two-space indents, and arrays of numbers
(clicks, boxes) kept on one line so a keyframe reads like the artist placed it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator

MAX_INTEGER_DIGITS = 15
"""Longer integers are refused: 15 digits is where JSON's doubles stop holding every integer."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted; a prompt file uses 7 levels."""


class DocumentLimitError(ValueError):
    """The text is JSON, but beyond what a prompt file can be (too deeply nested)."""


class NonFiniteNumber:
    """Stands in for NaN/Infinity in a parsed document; not a number to the schema."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class OversizedNumber:
    """Stands in for an integer of more than `MAX_INTEGER_DIGITS` digits; not a number to the schema."""

    def __init__(self, text: str):
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<{self.digits}-digit integer>"


class JsonObject(dict):
    """A parsed JSON object that remembers keys written more than once (the last value is kept)."""

    repeated_keys: tuple[str, ...] = ()


def parse(text: str) -> object:
    """Parse `text`; raises `json.JSONDecodeError` (with line and column) on a syntax error and
    `DocumentLimitError` on nesting deeper than `MAX_DEPTH`."""
    try:
        document = json.loads(
            text,
            object_pairs_hook=_object_from_pairs,
            parse_constant=NonFiniteNumber,
            parse_float=_finite_float_or_marker,
            parse_int=_bounded_int_or_marker,
        )
    except RecursionError:
        raise DocumentLimitError(_too_deep_message()) from None
    if _depth_exceeds(document, MAX_DEPTH):
        raise DocumentLimitError(_too_deep_message())
    return document


def repeated_keys(document: object, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path of the object, key) for every key written twice in one object, in document order."""
    if isinstance(document, JsonObject):
        for key in document.repeated_keys:
            yield path, key
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, (dict, list)):
                yield from repeated_keys(value, path + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            if isinstance(value, (dict, list)):
                yield from repeated_keys(value, path + (index,))


def format_document(document: object) -> str:
    """`document` as indented JSON text ending in a newline; numeric arrays on one line."""
    return _format(document, "") + "\n"


def _object_from_pairs(pairs: list[tuple[str, object]]) -> JsonObject:
    obj = JsonObject(pairs)
    if len(obj) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        obj.repeated_keys = tuple(key for key in obj if counts[key] > 1)
    return obj


def _bounded_int_or_marker(text: str) -> int | OversizedNumber:
    return int(text) if len(text.lstrip("-")) <= MAX_INTEGER_DIGITS else OversizedNumber(text)


def _depth_exceeds(document: object, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep; iterative, so a deep
    document cannot overflow the check itself."""
    level = [document] if isinstance(document, (dict, list)) else []
    for _ in range(limit):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return bool(level)


def _too_deep_message() -> str:
    return f"arrays and objects nest more than {MAX_DEPTH} levels deep; a prompt file needs 7"


def _finite_float_or_marker(text: str) -> float | NonFiniteNumber:
    value = float(text)
    return value if math.isfinite(value) else NonFiniteNumber(text)


def _is_scalar(value: object) -> bool:
    return not isinstance(value, (dict, list))


def _fits_one_line(values: list) -> bool:
    """A list of scalars (a click, a box) or a list of those (a keyframe's clicks)."""
    return all(_is_scalar(item) or (isinstance(item, list) and all(map(_is_scalar, item))) for item in values)


def _scalar(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _format(value: object, indent: str) -> str:
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_scalar(key)}: {_format(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if _fits_one_line(value):
            return "[" + ", ".join(_format(item, inner) for item in value) + "]"
        return "[\n" + ",\n".join(inner + _format(item, inner) for item in value) + "\n" + indent + "]"
    return _scalar(value)
