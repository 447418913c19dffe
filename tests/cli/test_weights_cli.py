"""`rmpsam-matte weights info|convert`, run as the installed command in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rmpsam_cli.exit_codes import BAD_INPUT, OUTPUT_ERROR
from rmpsam_model.checkpoint import load_state_dict

COMMAND = Path(sys.executable).parent / "rmpsam-matte"


def run_weights(*arguments: str | Path, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "RMPSAM_WEIGHTS"}
    env.update(environment or {})
    return subprocess.run(
        [str(COMMAND), "weights", *map(str, arguments)], capture_output=True, text=True, env=env, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess, exit_code: int, names: Path) -> None:
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(names) in lines[0]


@pytest.fixture(scope="module")
def tiny_path(official_fixtures) -> Path:
    return official_fixtures / "parity_tiny.pth"


def test_info_json_describes_the_official_checkpoint(tiny_path, official_fixtures):
    result = run_weights("info", tiny_path, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    state_dict = load_state_dict(tiny_path)
    manifest = json.loads((official_fixtures / "rapsam_r50_state_dict_manifest.json").read_text())
    differing = sum(list(state_dict[key].shape) != shape for key, (shape, _dtype) in manifest.items())
    assert info["format"] == "mmengine-pickle"
    assert info["file_size"] == tiny_path.stat().st_size
    assert info["sha256"] == hashlib.sha256(tiny_path.read_bytes()).hexdigest()
    assert info["keys"] == len(manifest)
    assert info["parameter_count"] == sum(tensor.numel() for tensor in state_dict.values())
    assert info["released_architecture"] is False
    assert info["differences_from_released"] == {"missing": 0, "unexpected": 0, "shape_mismatches": differing}
    assert info["inferred_config"]["backbone_width"] == state_dict["backbone.conv1.weight"].shape[0]
    assert info["inferred_config"]["blocks_per_stage"] == [3, 4, 6, 3]


def test_convert_then_info_on_the_safetensors_file(tmp_path, tiny_path):
    destination = tmp_path / "tiny.safetensors"
    converted = run_weights("convert", tiny_path, destination)
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout.strip() == f"wrote {destination}"
    table = run_weights("info", destination)
    assert table.returncode == 0, table.stderr
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines() if not line.startswith(("released", "inferred")))
    assert rows["format"] == "safetensors"
    assert rows["sha256"] == hashlib.sha256(destination.read_bytes()).hexdigest()
    assert rows["keys"] == str(len(load_state_dict(tiny_path)))
    assert table.stdout.count("metadata source_sha256") == 1
    assert hashlib.sha256(tiny_path.read_bytes()).hexdigest() in table.stdout


def test_convert_refuses_to_overwrite_without_force(tmp_path, tiny_path):
    destination = tmp_path / "tiny.safetensors"
    destination.write_bytes(b"keep me")
    refused = run_weights("convert", tiny_path, destination)
    assert_one_line_error(refused, OUTPUT_ERROR, destination)
    assert destination.read_bytes() == b"keep me"
    forced = run_weights("convert", tiny_path, destination, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(load_state_dict(destination)) == len(load_state_dict(tiny_path))


def test_bad_inputs_exit_3_with_one_line_naming_the_file(tmp_path):
    text_file = tmp_path / "notes.pth"
    text_file.write_text("not weights\n")
    assert_one_line_error(run_weights("info", text_file), BAD_INPUT, text_file)
    missing = tmp_path / "rapsam_r50_12e.pth"
    assert_one_line_error(run_weights("convert", missing, tmp_path / "out.safetensors"), BAD_INPUT, missing)
    assert not (tmp_path / "out.safetensors").exists()


def test_hostile_file_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile.pth"
    torch.save({"state_dict": {"backbone.conv1.weight": _OpenForWriting(marker)}}, hostile)
    assert_one_line_error(run_weights("info", hostile), BAD_INPUT, hostile)
    assert not marker.exists()


def test_info_without_path_uses_the_configured_weights(tmp_path, tiny_path):
    config_file = tmp_path / "rmpsam" / "config.json"
    config_file.parent.mkdir()
    config_file.write_text(json.dumps({"weights": str(tiny_path)}))
    configured = run_weights("info", "--json", environment={"XDG_CONFIG_HOME": str(tmp_path)})
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["path"] == str(tiny_path)
    missing = tmp_path / "gone.pth"
    from_environment = run_weights("info", environment={"XDG_CONFIG_HOME": str(tmp_path), "RMPSAM_WEIGHTS": str(missing)})
    assert_one_line_error(from_environment, BAD_INPUT, missing)
    assert "$RMPSAM_WEIGHTS" in from_environment.stderr and "rapsam_r50_12e.pth" in from_environment.stderr


class _OpenForWriting:
    """Unpickles as `open(path, "w")`: a file appears if the loader ever runs the pickle."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_convert_half_stores_a_trained_weights_file_at_half_the_size(tmp_path, tiny_weights):
    """A run trained without --half (float32) is stored as the shipped weights are: float16
    tensors, the self-describing metadata kept, and it loads and predicts as before."""
    from safetensors import safe_open

    from rmpsam_model.loading import load_model

    halved = tmp_path / "half.safetensors"
    result = run_weights("convert", tiny_weights, halved, "--half")
    assert result.returncode == 0, result.stderr
    with safe_open(str(tiny_weights), framework="pt") as full, safe_open(str(halved), framework="pt") as half:
        assert half.metadata() == full.metadata()
        assert set(half.keys()) == set(full.keys())
        for key in full.keys():
            original, stored = full.get_tensor(key), half.get_tensor(key)
            if original.is_floating_point():
                assert stored.dtype == torch.float16
                torch.testing.assert_close(stored.float(), original.half().float())
    assert halved.stat().st_size < 0.6 * Path(tiny_weights).stat().st_size
    assert load_model(halved).inference_size == load_model(tiny_weights).inference_size

    not_weights = tmp_path / "notes.safetensors"
    not_weights.write_bytes(b"not a safetensors file")
    assert_one_line_error(run_weights("convert", not_weights, tmp_path / "x.safetensors", "--half"), BAD_INPUT,
                          not_weights)
    assert_one_line_error(run_weights("convert", tmp_path / "w.pth", tmp_path / "x.safetensors", "--half"), BAD_INPUT,
                          tmp_path / "w.pth")
