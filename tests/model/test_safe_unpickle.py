"""The restricted unpickler: hostile files never run code, real ones load exactly as torch.load reads them.

Each hostile payload is first shown to really run under plain `pickle.loads` (it creates a marker
file), so a refusal below is a refusal of a working exploit, not of a broken test file.
"""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import shlex
import struct
from pathlib import Path

import pytest
import torch

from rmpsam_model.checkpoint import load_class_embedding, load_state_dict
from rmpsam_model.checkpoint_errors import (
    NonTensorEntryError,
    NotACheckpointError,
    UnsupportedCheckpointError,
)
from rmpsam_model.safe_unpickle import InertObject, unpickle_torch_zip


class ShellCommand:
    """Unpickles as `os.system(command)`."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class OpenForWriting:
    """Unpickles as `open(path, "w")`."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return builtins.open, (self.path, "w")


class LossHistory(list):
    """A list subclass from some training library: pickled with APPENDS into an instance."""


def _opcode_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _opcode_string(text: str) -> bytes:
    encoded = text.encode()
    return b"X" + struct.pack("<I", len(encoded)) + encoded


def _import_getattr_call(marker: Path) -> bytes:
    """Hand-assembled pickle opcodes for `getattr(__import__("builtins"), "open")(marker, "w")`:
    a call on the result of a call, which no class's `__reduce__` can produce."""
    module = _opcode_global("builtins", "__import__") + _opcode_string("builtins") + b"\x85R"  # TUPLE1, REDUCE
    opener = _opcode_global("builtins", "getattr") + module + _opcode_string("open") + b"\x86R"  # TUPLE2, REDUCE
    return opener + _opcode_string(str(marker)) + _opcode_string("w") + b"\x86R"


def _state_dict_pickle(payload_opcodes: bytes) -> bytes:
    """`{"state_dict": {"backbone.conv1.weight": <payload>}}` as protocol-2 pickle bytes."""
    inner = b"}" + _opcode_string("backbone.conv1.weight") + payload_opcodes + b"s"  # EMPTY_DICT ... SETITEM
    return b"\x80\x02}" + _opcode_string("state_dict") + inner + b"s."


def _payload_object(kind: str, marker: Path) -> object:
    if kind == "os.system":
        return ShellCommand(f"touch {shlex.quote(str(marker))}")
    return OpenForWriting(marker)


def _hostile_file(tmp_path: Path, container: str, kind: str, marker: Path) -> Path:
    path = tmp_path / f"hostile_{container}.pth"
    if kind == "getattr-chain":
        path.write_bytes(_state_dict_pickle(_import_getattr_call(marker)))
        return path
    checkpoint = {"meta": {"epoch": 12}, "state_dict": {"backbone.conv1.weight": _payload_object(kind, marker)}}
    if container == "torch-zip":
        torch.save(checkpoint, path)
    else:
        protocol = {"pickle-protocol-2": 2, "pickle-protocol-4": 4}[container]
        path.write_bytes(pickle.dumps(checkpoint, protocol=protocol))
    return path


PAYLOADS = ["os.system", "builtins.open", "getattr-chain"]
CONTAINERS = ["torch-zip", "pickle-protocol-2", "pickle-protocol-4"]
# The hand-assembled getattr chain exists only as a bare protocol-2 pickle; torch.save cannot write it.
HOSTILE_FILES = [
    *((container, kind) for container in CONTAINERS for kind in ("os.system", "builtins.open")),
    ("pickle-protocol-2", "getattr-chain"),
]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_each_payload_really_runs_under_plain_pickle(tmp_path, kind):
    marker = tmp_path / "unsafe_marker"
    path = _hostile_file(tmp_path, "pickle-protocol-2", kind, marker)
    pickle.loads(path.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize(("container", "kind"), HOSTILE_FILES)
def test_hostile_state_dict_entry_is_refused_and_never_runs(tmp_path, container, kind):
    marker = tmp_path / "marker"
    path = _hostile_file(tmp_path, container, kind, marker)
    with pytest.raises(NonTensorEntryError) as refused:
        load_state_dict(path)
    message = str(refused.value)
    assert str(path) in message
    assert "'backbone.conv1.weight'" in message
    assert "never imported or run" in message
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["os.system", "builtins.open"])
def test_hostile_top_level_object_is_refused_and_never_runs(tmp_path, kind):
    marker = tmp_path / "marker"
    path = tmp_path / "hostile.pth"
    torch.save(_payload_object(kind, marker), path)
    with pytest.raises(NotACheckpointError, match="not a dict of tensors"):
        load_state_dict(path)
    with pytest.raises(NonTensorEntryError, match="not a class-embedding tensor"):
        load_class_embedding(path)
    assert not marker.exists()


def test_rebuild_function_refuses_a_storage_that_is_not_from_the_archive(tmp_path):
    """The allowed tensor-rebuild function is itself an entry point; its storage must be a real one."""
    marker = tmp_path / "marker"
    fake_storage = _import_getattr_call(marker)
    rebuild_args = fake_storage + b"K\x00" + b"K\x02\x85" + b"K\x01\x85" + b"\x89" + b"N" + b"t"  # offset 0, (2,), (1,)
    rebuild = _opcode_global("torch._utils", "_rebuild_tensor_v2") + b"(" + rebuild_args + b"R"
    path = tmp_path / "fake_storage.pth"
    path.write_bytes(_state_dict_pickle(rebuild))
    with pytest.raises(NotACheckpointError, match="instead of a stored tensor"):
        load_state_dict(path)
    assert not marker.exists()


def test_metadata_objects_of_the_official_checkpoint_become_inert(official_fixtures):
    loaded = unpickle_torch_zip(official_fixtures / "parity_tiny.pth")
    history = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(history, InertObject)
    assert type(history).pickled_global == "mmengine.logging.history_buffer.HistoryBuffer"
    assert isinstance(loaded["meta"]["np_value"], InertObject)
    assert loaded["meta"]["epoch"] == loaded["message_hub"]["runtime_info"]["epoch"]


def test_dict_and_list_subclasses_in_metadata_become_inert_containers(tmp_path):
    """Training libraries pickle their own dict/list subclasses beside the weights; pickle fills
    them through SETITEMS / APPENDS, which the placeholders record instead of refusing the file."""
    path = tmp_path / "with_metadata.pth"
    weight = torch.arange(4.0)
    counts = collections.defaultdict(int, {"iterations": 7})
    torch.save({"meta": {"counts": counts, "history": LossHistory([0.5, 0.25])}, "state_dict": {"w": weight}}, path)
    loaded = unpickle_torch_zip(path)
    assert type(loaded["meta"]["counts"]).pickled_global == "collections.defaultdict"
    assert loaded["meta"]["counts"].items == [("iterations", 7)]
    assert type(loaded["meta"]["history"]).pickled_global == f"{__name__}.LossHistory"
    assert loaded["meta"]["history"].items == [0.5, 0.25]
    assert torch.equal(load_state_dict(path)["w"], weight)


def test_tensors_match_torch_load_exactly(tmp_path):
    """Against torch's own (weights-only) loader: dtypes, views, shared storage, parameters."""
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=generator)
    saved = collections.OrderedDict(
        float32=base,
        transposed_view=base.t(),
        row_view=base[2:4],
        float16=torch.randn(3, 4, generator=generator).half(),
        bfloat16=torch.randn(7, generator=generator).bfloat16(),
        int64=torch.arange(-3, 9),
        boolean=torch.tensor([True, False, True]),
        scalar=torch.tensor(12),
        parameter=torch.nn.Parameter(torch.randn(2, 2, generator=generator)),
    )
    path = tmp_path / "mixed.pth"
    torch.save(saved, path)
    reference = torch.load(path, weights_only=True)
    ours = load_state_dict(path)
    assert list(ours) == list(reference)
    for key, expected in reference.items():
        got = ours[key]
        assert type(got) is torch.Tensor, key
        assert got.dtype == expected.dtype and got.stride() == expected.stride(), key
        assert torch.equal(got, expected.detach()), key
    assert ours["row_view"].untyped_storage().data_ptr() == ours["float32"].untyped_storage().data_ptr()


def test_legacy_torch_format_is_refused_with_advice(tmp_path):
    path = tmp_path / "legacy.pth"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsupportedCheckpointError, match="legacy pre-1.6 torch.save format"):
        load_state_dict(path)


def test_truncated_archive_is_not_a_checkpoint(tmp_path, official_fixtures):
    original = (official_fixtures / "parity_tiny.pth").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(original[: len(original) // 2])
    with pytest.raises(NotACheckpointError, match="not a readable checkpoint") as refused:
        load_state_dict(path)
    assert str(path) in str(refused.value)
    assert "\n" not in str(refused.value)


def test_garbage_after_the_pickle_marker_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "garbage.pkl"
    path.write_bytes(b"\x80\x02" + bytes(range(256)) * 4)
    with pytest.raises(NotACheckpointError, match="not a readable checkpoint"):
        load_state_dict(path)
