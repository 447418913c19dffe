"""The published JSON Schema (`prompts.schema.json`, draft 2020-12) and its errors in artists' words.

The schema file is the contract: the Nuke bridge, the Qt editor and any pipeline script can
validate against it with any JSON Schema library. This module runs it with `jsonschema` and turns
each error's JSON path into the instance name, keyframe and field an artist recognises.

The file's `schema` and `version` are checked on their own first: a file of another kind or a
newer version would otherwise drown the one useful message in a flood of shape errors. Until
`schema` says this is a prompt file, messages describe values by type only and never quote
them: a secrets file named as prompts by mistake must not end up in a render-farm log.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Sequence
from pathlib import Path

from jsonschema import Draft202012Validator, ValidationError

from .errors import PromptIssue
from .json_text import MAX_INTEGER_DIGITS, NonFiniteNumber, OversizedNumber

SCHEMA_PATH = Path(__file__).with_name("prompts.schema.json")
FILE_KIND = "rmpsam-prompts"
VERSION = 1

_GUESSED_UNKNOWN_FIELDS = 20
"""Unknown fields in one object up to which each gets a "did you mean" guess: a few are typos;
thousands are another kind of file, and guessing for each took seconds."""

_ARTICLE_TYPE = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "a list",
    "object": "an object",
}


@functools.cache
def published_schema() -> dict:
    """The schema as published, parsed."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def header_issues(document: object) -> list[PromptIssue]:
    """Problems with what the file says it is; when there are any, nothing else is checked."""
    if not isinstance(document, dict):
        return [PromptIssue(None, None, "", f"the file must hold a JSON object, not {_kind_of(document)}")]
    kind = document.get("schema")
    if kind != FILE_KIND:
        found = "no \"schema\" field" if "schema" not in document else f"another value ({_kind_of(kind)})"
        return [PromptIssue(None, None, "schema", f'expected "{FILE_KIND}", found {found}: is this a prompt file?')]
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, (int, float)):
        found = "missing" if "version" not in document else _describe(version)
        return [PromptIssue(None, None, "version", f"must be the integer {VERSION}, found {found}")]
    if version > VERSION:
        return [
            PromptIssue(
                None, None, "version",
                f"version {version} is newer than this rmpsam-matte reads ({VERSION}); upgrade rmpsam-matte",
            )
        ]
    if version != VERSION:
        message = f"version {version} is not supported; this rmpsam-matte reads {VERSION}"
        return [PromptIssue(None, None, "version", message)]
    return []


def schema_errors(document: object) -> list[ValidationError]:
    """Every schema error, in document order."""
    validator = Draft202012Validator(published_schema())
    return sorted(validator.iter_errors(document), key=lambda error: _sort_key(error.absolute_path))


def issues_from_error(document: object, error: ValidationError) -> list[PromptIssue]:
    """The artist-facing issues for one schema error (a `required` or `additionalProperties`
    error names one issue per missing or unknown field)."""
    return [locate_issue(document, path, message) for path, message in _messages(error)]


def _messages(error: ValidationError) -> list[tuple[tuple, str]]:
    path = tuple(error.absolute_path)
    keyword, limit, value, node = error.validator, error.validator_value, error.instance, error.schema
    title = node.get("title", "value") if isinstance(node, dict) else "value"
    if keyword == "required":
        return [(path + (name,), "is required but missing") for name in limit if name not in value]
    if keyword == "additionalProperties":
        allowed = list(node.get("properties", {}))
        unknown = [name for name in value if name not in allowed]
        guess = len(unknown) <= _GUESSED_UNKNOWN_FIELDS
        return [(path + (name,), _unknown_field(name, allowed, guess)) for name in unknown]
    if keyword == "type":
        return [(path, f"must be {_ARTICLE_TYPE.get(limit, limit)}, not {_describe(value)}")]
    if keyword == "minItems" and limit == 1:
        return [(path, "is empty; it needs at least one entry")]
    if keyword in ("minItems", "maxItems"):
        return [(path, f"a {title} has {limit} numbers, this one has {len(value)}")]
    if keyword in ("minimum", "exclusiveMinimum"):
        relation = ">=" if keyword == "minimum" else ">"
        return [(path, f"{title} must be {relation} {limit}, got {_describe(value)}")]
    if keyword == "minLength":
        return [(path, "must not be empty")]
    if keyword == "maxLength":
        return [(path, f"is {len(value)} characters long; at most {limit} are allowed")]
    if keyword == "pattern":
        return [(path, "holds a control character (newline, tab, escape...); only printable characters are allowed")]
    if keyword == "const":
        return [(path, f"must be {json.dumps(limit)}, not {_describe(value)}")]
    if keyword == "dependentRequired":
        return [(path + ("mask_channel",), "is set but there is no mask to take it from")]
    if keyword == "anyOf":
        return [(path, "needs at least one positive click, box or mask (a negative click alone selects nothing)")]
    return [(path, error.message)]


def _unknown_field(name: str, allowed: Sequence[str], guess: bool) -> str:
    matches = difflib.get_close_matches(name, allowed, n=1) if guess else []
    hint = f'did you mean "{matches[0]}"? ' if matches else ""
    return f"unknown field; {hint}allowed here: {', '.join(allowed)}"


def locate_issue(document: object, path: tuple, message: str) -> PromptIssue:
    """Name the instance and keyframe that `path` points into, and the rest of the path as field."""
    if len(path) < 2 or path[0] != "instances" or not isinstance(path[1], int):
        return PromptIssue(None, None, _field(path), message)
    instance = _item(_item(document, "instances"), path[1])
    name = _item(instance, "name")
    if not isinstance(name, str) or not name:
        return PromptIssue(None, None, _field(path), message)
    rest = path[2:]
    if len(rest) >= 2 and rest[0] == "keyframes" and isinstance(rest[1], int):
        frame = _item(_item(_item(instance, "keyframes"), rest[1]), "frame")
        if _is_integral(frame):
            return PromptIssue(name, int(frame), _field(rest[2:]), message)
    return PromptIssue(name, None, _field(rest), message)


def _is_integral(value: object) -> bool:
    """What JSON Schema calls an integer: 1012 or 1012.0, but not true."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _item(container: object, key: str | int) -> object:
    if isinstance(key, int):
        return container[key] if isinstance(container, list) and key < len(container) else None
    return container.get(key) if isinstance(container, dict) else None


def _field(path: Sequence[str | int]) -> str:
    """("keyframes", 2, "frame") -> "keyframes[2].frame"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _sort_key(path: Sequence[str | int]) -> tuple:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)


def _kind_of(value: object) -> str:
    """What sort of JSON value `value` is, without its content."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float, NonFiniteNumber, OversizedNumber)):
        return "a number"
    return _describe(value)  # an object or a list of N: no content either


def _describe(value: object) -> str:
    """A short, JSON-flavoured description of a value for an error message."""
    if isinstance(value, NonFiniteNumber):
        return f"{value.text} (not a finite number)"
    if isinstance(value, OversizedNumber):
        return f"a number of {value.digits} digits (at most {MAX_INTEGER_DIGITS} are read)"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:60])}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return json.dumps(value)
