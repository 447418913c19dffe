"""One pipeline that every way in goes through (file, dict, save): check it all, then build.

Order: what the file says it is (`schema`, `version`), then repeated JSON keys and the schema,
then the semantic checks. A schema error would make the semantic checks meaningless only for the
part it is in, so that part (a keyframe, an instance, the plate block) is set aside and the rest
is still checked: the artist gets the full list in one go. Only a broken top level stops early.
"""

from __future__ import annotations

from pathlib import Path

from jsonschema import ValidationError

from .codec import prompt_set_from_document
from .errors import PromptFileError, PromptIssue
from .json_text import repeated_keys
from .model import PlateInfo, PromptSet
from .schema import header_issues, issues_from_error, locate_issue, schema_errors
from .semantics import semantic_issues


def checked_prompt_set(document: object, *, base_dir: Path, plate: PlateInfo | None, source: str) -> PromptSet:
    """The `PromptSet` of `document` (parsed JSON), or `PromptFileError` listing every problem.

    `base_dir` resolves relative mask paths; `plate` is what the caller knows of the sequence.
    """
    issues = header_issues(document)
    if issues:
        raise PromptFileError(source, issues)
    issues = [
        locate_issue(document, path + (key,), "is written twice in the same object; only the last one would count")
        for path, key in repeated_keys(document)
    ]
    errors = schema_errors(document)
    for error in errors:
        issues += issues_from_error(document, error)
    usable = _usable_parts(document, errors)
    if usable is None:
        raise PromptFileError(source, issues)
    prompt_set, duplicate_keyframes = prompt_set_from_document(usable, base_dir)
    issues += duplicate_keyframes + semantic_issues(prompt_set, plate)
    if issues:
        raise PromptFileError(source, _in_document_order(issues, document))
    return prompt_set


def _usable_parts(document: dict, errors: list[ValidationError]) -> dict | None:
    """`document` without the parts that have schema errors, so the semantic checks can run on
    the rest: a broken keyframe, class or plate block is left out; an instance is kept as long
    as its name is usable, so name clashes are still found. Unknown fields do not count (they are
    simply not read). None when the top level itself is broken."""
    broken = [tuple(error.absolute_path) for error in errors if error.validator != "additionalProperties"]
    if any(len(path) < 2 and path[:1] != ("plate",) for path in broken):
        return None
    usable = dict(document)
    if any(path[0] == "plate" for path in broken):
        del usable["plate"]
    instances = []
    for index, instance in enumerate(document["instances"]):
        name = instance.get("name") if isinstance(instance, dict) else None
        if not isinstance(name, str) or not name:
            continue
        kept: dict = {"name": name, "keyframes": []}
        if "class" in instance and not _starts_with_any(("instances", index, "class"), broken):
            kept["class"] = instance["class"]
        if isinstance(instance.get("keyframes"), list):
            kept["keyframes"] = [
                keyframe
                for position, keyframe in enumerate(instance["keyframes"])
                if not _starts_with_any(("instances", index, "keyframes", position), broken)
            ]
        instances.append(kept)
    usable["instances"] = instances
    return usable


def _starts_with_any(prefix: tuple, paths: list[tuple]) -> bool:
    return any(path[: len(prefix)] == prefix for path in paths)


def _in_document_order(issues: list[PromptIssue], document: dict) -> list[PromptIssue]:
    """Issues grouped by instance (file order) and keyframe (frame order), so an artist works
    through one keyframe at a time; issues outside any instance come first."""
    rank: dict[str, int] = {}
    for index, instance in enumerate(document.get("instances") or []):
        if isinstance(instance, dict) and isinstance(instance.get("name"), str):
            rank.setdefault(instance["name"], index)
    return sorted(
        issues,
        key=lambda issue: (
            rank.get(issue.instance, -1) if issue.instance is not None else -1,
            issue.frame if issue.frame is not None else float("-inf"),
        ),
    )
