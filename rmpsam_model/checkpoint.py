"""Load RMP-SAM weights from the formats they come in, and convert them once to safetensors.

Three formats are read, told apart by their first bytes rather than their names:

- `mmengine-pickle`: the released `rapsam_r50_12e.pth`, a `torch.save` zip whose top-level dict
  holds `state_dict` beside MMEngine metadata (`meta`, `message_hub`);
- `state-dict-pickle`: a `torch.save` of a bare `{key: tensor}` dict;
- `safetensors`: what `convert_to_safetensors` writes; no pickle at all, so it is the format the
  tool prefers once it exists (`weights_location.resolve_weights_path`).

Pickles go through `safe_unpickle`, which never runs code from the file; anything that is not a
tensor where a tensor belongs is then refused here with the key that held it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import safe_open

from rmpsam_model.checkpoint_errors import (
    CheckpointError,
    ClassEmbeddingMismatchError,
    NonTensorEntryError,
    NotACheckpointError,
    UnsupportedCheckpointError,
    WeightsNotFoundError,
)
from rmpsam_model.safe_unpickle import InertObject, UnsupportedPickleContent, unpickle_plain, unpickle_torch_zip
from rmpsam_model.weights_location import WHERE_TO_GET_WEIGHTS

MMENGINE_PICKLE = "mmengine-pickle"
STATE_DICT_PICKLE = "state-dict-pickle"
SAFETENSORS = "safetensors"

_ZIP, _PICKLE = "zip", "pickle"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded weights file: its format, its tensors (CPU, file order) and safetensors metadata."""

    path: Path
    format: str
    state_dict: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read any supported weights file without running code from it (see the module docstring)."""
    path = Path(path)
    _require_file(path, f"weights file not found: {path}; {WHERE_TO_GET_WEIGHTS}")
    container = _container_kind(path)
    if container == SAFETENSORS:
        return _load_safetensors(path)
    loaded = _unpickle(path, container)
    if isinstance(loaded, dict) and "state_dict" in loaded:
        return Checkpoint(path, MMENGINE_PICKLE, _tensor_entries(loaded["state_dict"], path, "state_dict"))
    if isinstance(loaded, dict):
        return Checkpoint(path, STATE_DICT_PICKLE, _tensor_entries(loaded, path, "state dict"))
    raise NotACheckpointError(f"{path}: holds {_describe(loaded)}, not a dict of tensors")


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The `{key: tensor}` weights of any supported file, on the CPU, without running code from it."""
    return load_checkpoint(path).state_dict


def load_class_embedding(path: str | Path) -> torch.Tensor:
    """The (classes, prototypes, D) class-embedding table from a `torch.save`d tensor, loaded safely."""
    path = Path(path)
    _require_file(path, f"class-embedding file not found: {path} (the release's (classes, prototypes, D) table)")
    container = _container_kind(path)
    if container == SAFETENSORS:
        raise NotACheckpointError(f"{path}: a safetensors file; the class embedding is read from a torch.save'd tensor")
    table = _unpickle(path, container)
    if not isinstance(table, torch.Tensor):
        raise NonTensorEntryError(f"{path}: holds {_describe(table)}, not a class-embedding tensor")
    if table.ndim != 3 or not table.is_floating_point():
        raise ClassEmbeddingMismatchError(
            f"{path}: class-embedding table is a {tuple(table.shape)} {table.dtype} tensor, "
            "expected a float tensor (classes, prototypes, D)"
        )
    return table.detach()


def convert_to_safetensors(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Write `src`'s state dict to `dst` as safetensors, with the source's digest and format as metadata.

    The file appears atomically (written beside `dst`, then renamed), so an interrupted conversion
    never leaves a truncated file that `resolve_weights_path` would prefer. Raises
    `FileExistsError` if `dst` exists and `overwrite` is false, `OSError` if it cannot be written.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst}: already exists; overwrite it with --force (overwrite=True)")
    checkpoint = load_checkpoint(src)
    metadata = {
        "format": "pt",
        "source_name": src.name,
        "source_format": checkpoint.format,
        "source_sha256": checkpoint_digest(src),
    }
    serialized = safetensors.torch.save(_standalone_tensors(checkpoint.state_dict), metadata=metadata)
    partial = dst.with_name(f".{dst.name}.partial-{os.getpid()}")
    try:
        partial.write_bytes(serialized)
        os.replace(partial, dst)
    finally:
        partial.unlink(missing_ok=True)
    return dst


def checkpoint_digest(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes: the identity written into every matte's header."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror})") from error
    return digest.hexdigest()


def _require_file(path: Path, missing_message: str) -> None:
    if not path.is_file():
        raise WeightsNotFoundError(missing_message)


def _container_kind(path: Path) -> str:
    """Zip archive, pickle (protocol >= 2 starts with the PROTO opcode, as every torch.save does)
    or safetensors (an 8-byte little-endian header length, then a JSON object)."""
    try:
        with open(path, "rb") as file:
            head = file.read(9)
        size = path.stat().st_size
    except OSError as error:
        raise CheckpointError(f"{path}: cannot be read ({error.strerror})") from error
    if head.startswith(b"PK\x03\x04"):
        return _ZIP
    # Safetensors before pickle: a header length whose low byte is 0x80 (a 640-byte or a 61,824-byte
    # header, say) starts the file with the pickle PROTO opcode's byte too.
    if len(head) == 9 and head[8:] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return SAFETENSORS
    if head.startswith(b"\x80"):
        return _PICKLE
    raise NotACheckpointError(f"{path}: not a checkpoint (not a torch zip archive, a pickle or a safetensors file)")


def _unpickle(path: Path, container: str) -> Any:
    try:
        return unpickle_torch_zip(path) if container == _ZIP else unpickle_plain(path)
    except UnsupportedPickleContent as error:
        raise UnsupportedCheckpointError(f"{path}: {error}") from error
    except Exception as error:  # a malformed file fails in many ways: truncated, bad opcode, bad record
        raise NotACheckpointError(f"{path}: not a readable checkpoint ({_first_line(error)})") from error


def _load_safetensors(path: Path) -> Checkpoint:
    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {key: file.get_tensor(key) for key in file.keys()}
    except Exception as error:  # safetensors reports a corrupt header or payload with its own types
        raise NotACheckpointError(f"{path}: not a readable safetensors file ({_first_line(error)})") from error
    return Checkpoint(path, SAFETENSORS, tensors, dict(metadata))


def _tensor_entries(mapping: Any, path: Path, where: str) -> dict[str, torch.Tensor]:
    """The mapping's tensors, refusing anything else by key.

    `detach()` hands out fresh tensor objects, so nothing the pickle may have set on the rebuilt
    ones (attributes, autograd state) comes along.
    """
    if not isinstance(mapping, dict):
        raise NonTensorEntryError(f"{path}: '{where}' holds {_describe(mapping)}, not a dict of tensors")
    tensors: dict[str, torch.Tensor] = {}
    for key, value in mapping.items():
        if type(key) is not str:
            raise NonTensorEntryError(f"{path}: {where} key {key!r} is not a string")
        if not isinstance(value, torch.Tensor):
            raise NonTensorEntryError(f"{path}: {where} entry {key!r} should be a tensor but holds {_describe(value)}")
        tensors[key] = value.detach()
    return tensors


def _standalone_tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous tensors that share no memory, as safetensors requires (tied weights share it)."""
    seen_storages: set[int] = set()
    standalone = {}
    for key, tensor in state_dict.items():
        tensor = tensor.contiguous()
        storage = tensor.untyped_storage().data_ptr()
        standalone[key] = tensor.clone() if storage in seen_storages else tensor
        seen_storages.add(storage)
    return standalone


def _describe(value: Any) -> str:
    if isinstance(value, InertObject):
        return f"a pickled {type(value).pickled_global!r} object (refused, never imported or run)"
    return f"a {type(value).__name__}"


def _first_line(error: Exception) -> str:
    """The error's first sentence: torch's zip reader appends a paragraph of generic advice."""
    first_sentence = str(error).strip().split("\n")[0].split(". ")[0]
    return f"{type(error).__name__}: {first_sentence}"
