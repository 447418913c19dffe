"""Checkpoint loading, safetensors conversion, fit checks, weights location and the class vocabulary."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rmpsam_model.checkpoint import (
    MMENGINE_PICKLE,
    SAFETENSORS,
    STATE_DICT_PICKLE,
    checkpoint_digest,
    convert_to_safetensors,
    load_checkpoint,
    load_class_embedding,
    load_state_dict,
)
from rmpsam_model.checkpoint_architecture import infer_config_fields
from rmpsam_model.checkpoint_errors import (
    ClassEmbeddingMismatchError,
    NonTensorEntryError,
    NotACheckpointError,
    StateDictMismatchError,
    WeightsConfigError,
    WeightsNotFoundError,
)
from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.network import RMPSAM
from rmpsam_model.state_dict_check import (
    check_class_embedding,
    check_state_dict,
    released_manifest_shapes,
    shapes_of,
)
from rmpsam_model.vocabulary import VocabularyError, load_vocabulary
from rmpsam_model.weights_location import resolve_weights_path

PACKAGE_DATA = Path(__file__).resolve().parents[2] / "rmpsam_model" / "data"


@pytest.fixture(scope="module")
def tiny_path(official_fixtures) -> Path:
    return official_fixtures / "parity_tiny.pth"


@pytest.fixture(scope="module")
def tiny_state_dict(tiny_path) -> dict[str, torch.Tensor]:
    return load_state_dict(tiny_path)


@pytest.fixture(scope="module")
def manifest(official_fixtures) -> dict[str, list]:
    return json.loads((official_fixtures / "rapsam_r50_state_dict_manifest.json").read_text())


# --- loading -------------------------------------------------------------------------------------


def test_official_checkpoint_has_the_released_keys_and_dtypes(tiny_path, tiny_state_dict, manifest):
    assert load_checkpoint(tiny_path).format == MMENGINE_PICKLE
    assert list(tiny_state_dict) == list(manifest)
    dtypes = {key: str(tensor.dtype).removeprefix("torch.") for key, tensor in tiny_state_dict.items()}
    assert dtypes == {key: dtype for key, (_shape, dtype) in manifest.items()}


def test_tensor_bytes_equal_the_archive_record(tiny_path, tiny_state_dict):
    """Read independently with the standard zipfile module: record data/0 is the first tensor."""
    with zipfile.ZipFile(tiny_path) as archive:
        record = archive.read("parity_tiny/data/0")
    first = tiny_state_dict["backbone.conv1.weight"]
    assert np.array_equal(np.frombuffer(record, dtype="<f4").reshape(first.shape), first.numpy())


def test_bare_state_dict_pickle_loads_plain_tensors(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    path = tmp_path / "bare.pth"
    torch.save(dict(model.named_parameters()), path)
    checkpoint = load_checkpoint(path)
    assert checkpoint.format == STATE_DICT_PICKLE
    assert list(checkpoint.state_dict) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    for key, parameter in model.named_parameters():
        loaded = checkpoint.state_dict[key]
        assert type(loaded) is torch.Tensor and not loaded.requires_grad
        assert torch.equal(loaded, parameter.detach())


def test_non_tensor_entry_is_refused_by_key(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"state_dict": {"backbone.conv1.weight": torch.ones(1), "neck.loc_conv.bias": [1.0, 2.0]}}, path)
    with pytest.raises(NonTensorEntryError, match=r"entry 'neck\.loc_conv\.bias' should be a tensor but holds a list"):
        load_state_dict(path)


@pytest.mark.parametrize(
    "content",
    [b"# a README, not weights\n", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), b""],
    ids=["text", "random-bytes", "empty"],
)
def test_files_that_are_not_checkpoints_are_named(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(NotACheckpointError) as refused:
        load_state_dict(path)
    assert str(refused.value).startswith(f"{path}: not a checkpoint")


def test_missing_weights_file_says_where_to_get_them(tmp_path):
    path = tmp_path / "rapsam_r50_12e.pth"
    with pytest.raises(WeightsNotFoundError) as missing:
        load_state_dict(path)
    message = str(missing.value)
    assert str(path) in message and "github.com/xushilin1/RAP-SAM" in message and "RMPSAM_WEIGHTS" in message


def test_checkpoint_digest_is_the_sha256_of_the_bytes(tiny_path):
    assert checkpoint_digest(tiny_path) == hashlib.sha256(tiny_path.read_bytes()).hexdigest()


# --- safetensors conversion ----------------------------------------------------------------------


def _bytes_of(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def test_conversion_round_trip_is_bit_identical(tmp_path, tiny_path, tiny_state_dict):
    converted = convert_to_safetensors(tiny_path, tmp_path / "tiny.safetensors")
    checkpoint = load_checkpoint(converted)
    assert checkpoint.format == SAFETENSORS
    assert sorted(checkpoint.state_dict) == sorted(tiny_state_dict)
    for key, original in tiny_state_dict.items():
        loaded = checkpoint.state_dict[key]
        assert loaded.dtype == original.dtype and loaded.shape == original.shape, key
        assert _bytes_of(loaded) == _bytes_of(original), key
    assert checkpoint.metadata == {
        "format": "pt",
        "source_name": "parity_tiny.pth",
        "source_format": MMENGINE_PICKLE,
        "source_sha256": hashlib.sha256(tiny_path.read_bytes()).hexdigest(),
    }
    assert [entry.name for entry in tmp_path.iterdir()] == ["tiny.safetensors"]  # no partial file left


def test_network_outputs_are_identical_from_both_formats(tmp_path, tiny_path, tiny_state_dict):
    converted = convert_to_safetensors(tiny_path, tmp_path / "tiny.safetensors")
    images = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(3))
    features = []
    for state_dict in (tiny_state_dict, load_state_dict(converted)):
        model = RMPSAM(RMPSAMConfig.parity_tiny())
        model.load_state_dict(state_dict)
        with torch.no_grad():
            features.append(model.extract_features(images))
    assert features[0].shape == (1, 256, 16, 24)
    assert torch.equal(features[0], features[1])


def test_conversion_refuses_to_overwrite_unless_asked(tmp_path, tiny_path):
    destination = tmp_path / "tiny.safetensors"
    destination.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=str(destination)):
        convert_to_safetensors(tiny_path, destination)
    assert destination.read_bytes() == b"keep me"
    convert_to_safetensors(tiny_path, destination, overwrite=True)
    assert len(load_state_dict(destination)) == len(load_state_dict(tiny_path))


def test_conversion_handles_views_and_shared_storage(tmp_path):
    """safetensors refuses tensors that share memory (tied weights) or are non-contiguous views."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    source = tmp_path / "tied.pth"
    torch.save({"embedding": base, "tied": base, "transposed": base.t(), "half": base.half()}, source)
    converted = load_state_dict(convert_to_safetensors(source, tmp_path / "tied.safetensors"))
    assert torch.equal(converted["embedding"], base) and torch.equal(converted["tied"], base)
    assert torch.equal(converted["transposed"], base.t()) and converted["half"].dtype == torch.float16


# --- fit checks ----------------------------------------------------------------------------------


def test_official_checkpoint_fits_its_network(tiny_state_dict):
    check_state_dict(tiny_state_dict, RMPSAM(RMPSAMConfig.parity_tiny()), source="parity_tiny.pth")


def test_missing_unexpected_and_misshapen_keys_are_all_named(tiny_state_dict):
    edited = dict(tiny_state_dict)
    del edited["neck.loc_conv.bias"]
    edited["neck.extra.weight"] = torch.zeros(2)
    edited["panoptic_head.kernels.weight"] = torch.zeros(50, 256)
    with pytest.raises(StateDictMismatchError) as mismatch:
        check_state_dict(edited, RMPSAM(RMPSAMConfig.parity_tiny()), source="edited.pth")
    error = mismatch.value
    assert error.missing == ["neck.loc_conv.bias"]
    assert error.unexpected == ["neck.extra.weight"]
    assert error.shape_mismatches == [("panoptic_head.kernels.weight", (50, 256), (100, 256))]
    message = str(error)
    assert message.startswith("edited.pth: ") and "\n" not in message
    assert "1 missing key (neck.loc_conv.bias)" in message
    assert "1 unexpected key (neck.extra.weight)" in message
    assert "panoptic_head.kernels.weight: file (50, 256) vs network (100, 256)" in message


def test_released_manifest_accepts_its_own_shapes_and_refuses_the_tiny_model(tiny_state_dict, manifest):
    released_like = {key: torch.zeros(()).expand(shape) for key, (shape, _dtype) in manifest.items()}
    check_state_dict(released_like, released_manifest_shapes(), source="released")
    differing = [key for key, (shape, _dtype) in manifest.items() if list(tiny_state_dict[key].shape) != shape]
    first_difference = r"backbone\.conv1\.weight: file \(8, 3, 7, 7\) vs network \(64, 3, 7, 7\)"
    with pytest.raises(StateDictMismatchError, match=first_difference) as mismatch:
        check_state_dict(tiny_state_dict, released_manifest_shapes(), source="tiny")
    assert [key for key, _got, _want in mismatch.value.shape_mismatches] == differing


def test_shipped_data_files_equal_the_official_fixtures(official_fixtures):
    for name in ("rapsam_r50_state_dict_manifest.json", "classes_coco_yt19.json"):
        assert (PACKAGE_DATA / name).read_bytes() == (official_fixtures / name).read_bytes()


def test_config_inferred_from_shapes(tiny_state_dict):
    tiny = infer_config_fields(shapes_of(tiny_state_dict))
    released = infer_config_fields(released_manifest_shapes())
    assert RMPSAMConfig(**tiny) == RMPSAMConfig.parity_tiny()
    assert RMPSAMConfig(**released) == RMPSAMConfig.released()
    assert infer_config_fields({})["backbone_width"] is None


# --- class embedding -----------------------------------------------------------------------------


def test_class_embedding_loads_and_fits_the_network(official_fixtures):
    table = load_class_embedding(official_fixtures / "parity_tiny_class_embed.pth")
    assert table.shape == (len(load_vocabulary()), 2, 768)
    assert torch.allclose(table.norm(dim=-1), torch.ones(table.shape[:2]), atol=1e-5)
    check_class_embedding(table, RMPSAM(RMPSAMConfig.parity_tiny()), source="table.pth")


def test_class_embedding_width_mismatch_names_both_widths(tiny_state_dict):
    table = torch.zeros(155, 2, 512)
    with pytest.raises(ClassEmbeddingMismatchError, match=r"table\.pth: class-embedding width D=512 .* width 768"):
        check_class_embedding(table, shapes_of(tiny_state_dict), source="table.pth")
    with pytest.raises(ClassEmbeddingMismatchError, match=r"shape \(155, 768\), expected \(classes, prototypes, D\)"):
        check_class_embedding(torch.zeros(155, 768), shapes_of(tiny_state_dict), source="table.pth")


def test_class_embedding_file_holding_a_dict_is_refused(tmp_path):
    path = tmp_path / "table.pth"
    torch.save({"embedding": torch.zeros(3, 1, 4)}, path)
    with pytest.raises(NonTensorEntryError, match="holds a dict, not a class-embedding tensor"):
        load_class_embedding(path)


# --- weights location ----------------------------------------------------------------------------


@pytest.fixture
def weights_environment(tmp_path, monkeypatch) -> Path:
    """An empty config home and no RMPSAM_WEIGHTS; returns the config file path to write."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RMPSAM_WEIGHTS", raising=False)
    config_file = tmp_path / "config" / "rmpsam" / "config.json"
    config_file.parent.mkdir(parents=True)
    return config_file


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_explicit_path_beats_environment_beats_config(tmp_path, weights_environment, monkeypatch):
    explicit, from_env, from_config = (_touch(tmp_path / f"{name}.pth") for name in ("explicit", "env", "config"))
    weights_environment.write_text(json.dumps({"weights": str(from_config)}))
    assert resolve_weights_path() == from_config
    monkeypatch.setenv("RMPSAM_WEIGHTS", str(from_env))
    assert resolve_weights_path() == from_env
    assert resolve_weights_path(explicit) == explicit


def test_config_path_is_relative_to_the_config_file(weights_environment):
    weights = _touch(weights_environment.parent / "models" / "rapsam_r50_12e.pth")
    weights_environment.write_text(json.dumps({"weights": "models/rapsam_r50_12e.pth"}))
    assert resolve_weights_path() == weights


def test_converted_safetensors_beside_the_pth_is_preferred(tmp_path, weights_environment):
    original = _touch(tmp_path / "rapsam_r50_12e.pth")
    assert resolve_weights_path(original) == original
    converted = _touch(tmp_path / "rapsam_r50_12e.safetensors")
    assert resolve_weights_path(original) == converted


def test_missing_or_unconfigured_weights_are_clear_errors(tmp_path, weights_environment, monkeypatch):
    with pytest.raises(WeightsNotFoundError, match="no weights file given: download rapsam_r50_12e.pth"):
        resolve_weights_path()
    monkeypatch.setenv("RMPSAM_WEIGHTS", str(tmp_path / "gone.pth"))
    with pytest.raises(WeightsNotFoundError, match=r"gone\.pth \(from \$RMPSAM_WEIGHTS\)"):
        resolve_weights_path()


def test_unreadable_config_file_is_named(weights_environment):
    weights_environment.write_text("{not json")
    with pytest.raises(WeightsConfigError, match=str(weights_environment)):
        resolve_weights_path()


# --- vocabulary ----------------------------------------------------------------------------------


def test_vocabulary_orders_things_then_stuff(official_fixtures):
    document = json.loads((official_fixtures / "classes_coco_yt19.json").read_text())
    vocabulary = load_vocabulary(official_fixtures / "classes_coco_yt19.json")
    things, stuff = document["thing_classes"], document["stuff_classes"]
    assert [entry.index for entry in vocabulary] == list(range(len(things) + len(stuff)))
    assert [entry.is_thing for entry in vocabulary] == [True] * len(things) + [False] * len(stuff)
    assert [entry.name for entry in vocabulary] == [names.split(",")[0] for names in things + stuff]
    assert vocabulary[0].name == "person" and "child" in vocabulary[0].synonyms
    assert vocabulary[len(things)].name == "banner" and not vocabulary[len(things)].is_thing
    assert load_vocabulary() == vocabulary


def test_malformed_vocabulary_is_named(tmp_path):
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"thing_classes": ["person"], "stuff_classes": [""]}))
    with pytest.raises(VocabularyError, match=f"{path}: 'stuff_classes' must be a list"):
        load_vocabulary(path)


def test_a_safetensors_header_whose_length_starts_with_the_pickle_byte_loads(tmp_path):
    """A header of 0x..80 bytes starts the file with 0x80, the pickle PROTO opcode's byte; the
    safetensors signature (length, then '{') is what decides."""
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    tensors = {"weight": torch.arange(6, dtype=torch.float32).view(2, 3)}
    for padding in range(400):
        save_file(tensors, str(path), metadata={"note": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80 and path.read_bytes()[8:9] == b"{"
    loaded = load_checkpoint(path)
    assert loaded.format == "safetensors" and loaded.metadata["note"].startswith("x")
    assert torch.equal(loaded.state_dict["weight"], tensors["weight"])
