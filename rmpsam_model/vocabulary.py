"""The class names of the released model's vocabulary, in the order of its class indices.

The released weights classify against a class-embedding table of 102 "thing" classes (countable
objects, which get instances) followed by 53 "stuff" classes (amorphous regions such as sky or
road). `classes_coco_yt19.json` lists each class as comma-separated synonyms, the first being the
name to show; a copy ships in `rmpsam_model/data/` so class names never depend on a download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

RELEASED_VOCABULARY = "classes_coco_yt19.json"


class VocabularyError(ValueError):
    """The vocabulary file is missing or not the expected `{thing_classes, stuff_classes}` JSON."""


@dataclass(frozen=True)
class VocabularyClass:
    index: int
    """Row of the class-embedding table (and column of the network's class scores)."""
    name: str
    """Display name: the first synonym."""
    synonyms: tuple[str, ...]
    """Every synonym, display name first."""
    is_thing: bool
    """True for countable objects (instances), False for stuff regions."""


def load_vocabulary(path: str | Path | None = None) -> list[VocabularyClass]:
    """Things first, then stuff, as the class-embedding table orders them; `path` defaults to the
    shipped copy of the released vocabulary."""
    source = resources.files("rmpsam_model") / "data" / RELEASED_VOCABULARY if path is None else Path(path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VocabularyError(f"{source}: cannot read the class vocabulary ({error})") from error
    groups = ((_names(document, "thing_classes", source), True), (_names(document, "stuff_classes", source), False))
    classes = []
    for entries, is_thing in groups:
        for entry in entries:
            synonyms = tuple(synonym.strip() for synonym in entry.split(",") if synonym.strip())
            classes.append(VocabularyClass(len(classes), synonyms[0], synonyms, is_thing))
    return classes


def _names(document: object, group: str, source: object) -> list[str]:
    """The group's entries, each a non-empty string of comma-separated synonyms."""
    entries = document.get(group) if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, str) and entry.strip(" ,") for entry in entries):
        raise VocabularyError(f"{source}: '{group}' must be a list of comma-separated class names")
    return entries
