"""Check that weights fit a network before loading them, and say exactly what does not fit.

`nn.Module.load_state_dict` reports a shape mismatch one key at a time, as a traceback, after
half the weights are copied. These checks compare the whole state dict first and raise one error
naming every missing key, unexpected key and differing shape (file shape and network shape), and
check the class-embedding table's width against the network's class projection.

The reference is either a network (`nn.Module`, whose persistent state-dict entries are compared)
or a table of shapes, such as the released architecture's manifest shipped in
`rmpsam_model/data/` (`released_manifest_shapes`), so a file can be checked without building a
network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from rmpsam_model.checkpoint_architecture import Shapes, class_embedding_width
from rmpsam_model.checkpoint_errors import ClassEmbeddingMismatchError, StateDictMismatchError

RELEASED_MANIFEST = "rapsam_r50_state_dict_manifest.json"
_LISTED_PER_PROBLEM = 5

Reference = nn.Module | Shapes


def shapes_of(state_dict: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(tensor.shape) for key, tensor in state_dict.items()}


def released_manifest_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of every state-dict entry of the released `rapsam_r50_12e.pth`."""
    manifest = json.loads((resources.files("rmpsam_model") / "data" / RELEASED_MANIFEST).read_text(encoding="utf-8"))
    return {key: tuple(shape) for key, (shape, _dtype) in manifest.items()}


def _reference_shapes(reference: Reference) -> Shapes:
    return shapes_of(reference.state_dict()) if isinstance(reference, nn.Module) else reference


def check_state_dict(state_dict: Mapping[str, torch.Tensor], reference: Reference, *, source: str | Path) -> None:
    """Raise `StateDictMismatchError` unless `state_dict` has exactly the reference's keys and shapes.

    `source` names the file in the message.
    """
    expected = {key: tuple(shape) for key, shape in _reference_shapes(reference).items()}
    found = shapes_of(state_dict)
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    differing = [(key, got, expected[key]) for key, got in found.items() if key in expected and got != expected[key]]
    if not (missing or unexpected or differing):
        return
    problems = []
    if missing:
        problems.append(f"{_count(missing, 'missing key')} ({_listing(missing)})")
    if unexpected:
        problems.append(f"{_count(unexpected, 'unexpected key')} ({_listing(unexpected)})")
    if differing:
        described = [f"{key}: file {_shape(got)} vs network {_shape(want)}" for key, got, want in differing]
        problems.append(f"{_count(differing, 'shape mismatch', 'es')} ({_listing(described)})")
    message = f"{source}: weights do not fit the network: " + "; ".join(problems)
    raise StateDictMismatchError(message, missing, unexpected, differing)


def check_class_embedding(table: torch.Tensor, reference: Reference, *, source: str | Path) -> None:
    """Raise `ClassEmbeddingMismatchError` unless `table` is (classes, prototypes, D) with the D the
    reference's class branch projects into."""
    if table.ndim != 3:
        raise ClassEmbeddingMismatchError(
            f"{source}: class-embedding table has shape {_shape(table.shape)}, expected (classes, prototypes, D)"
        )
    width = class_embedding_width(_reference_shapes(reference))
    if width is None:
        raise ClassEmbeddingMismatchError(f"{source}: the network has no class projection to check the table against")
    if table.shape[-1] != width:
        raise ClassEmbeddingMismatchError(
            f"{source}: class-embedding width D={table.shape[-1]} (table {_shape(table.shape)}) "
            f"does not match the network's class projection width {width}"
        )


def _shape(shape: tuple[int, ...] | torch.Size) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def _count(items: list, noun: str, plural: str = "s") -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else plural}"


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED_PER_PROBLEM])
    hidden = len(items) - _LISTED_PER_PROBLEM
    return f"{shown}, and {hidden} more" if hidden > 0 else shown
