"""Inputs of `rmpsam-matte run` that used to hang it, exhaust memory or end in a traceback with
exit 1: each now ends at once with exit 3, a one-line message naming the file (and frame), and a
JSON `error` event. Prompt and plate cases use `--dry-run` (checks only, fast); weights are only
loaded by a real run, which these files stop before any frame is computed."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import OpenImageIO as oiio
import pytest
import torch
from job_cli import FIRST_FRAME, run_cli
from safetensors import safe_open
from safetensors.torch import save_file

BAD_INPUT = 3


def _run(shot, prompts, output, *extra):
    return run_cli("run", shot / "plate.####.exr", "--prompts", prompts, "-o", output / "m.####.exr",
                   "--threads", "1", "--progress", "json", *extra, timeout=120)


def _refused(result) -> str:
    """The one-line message, checked to be the same on stderr and in the JSON error event."""
    assert result.returncode == BAD_INPUT, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("rmpsam-matte run: error: ")]
    event = json.loads(result.stdout.splitlines()[-1])
    assert event["event"] == "error"
    assert line == f"rmpsam-matte run: error: {event['message']}"
    return event["message"]


def _prompts_text(shot_dir, tmp_path, edit) -> os.PathLike:
    path = tmp_path / "prompts.json"
    path.write_text(edit((shot_dir / "prompts.json").read_text()))
    return path


def _fifo(shot_dir, tmp_path):
    path = tmp_path / "prompts.json"
    os.mkfifo(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("make, expected", [
    (lambda shot_dir, tmp_path: "/dev/zero", "file is a character device, not a regular file"),
    (_fifo, "file is a FIFO (named pipe), not a regular file"),
    (lambda shot_dir, tmp_path: _prompts_text(shot_dir, tmp_path, lambda text: text.replace(
        f'"frame": {FIRST_FRAME}', '"frame": ' + "1" * 5000, 1)), "a number of 5000 digits (at most 15 are read)"),
    (lambda shot_dir, tmp_path: _prompts_text(shot_dir, tmp_path, lambda text: text[:-2] + ', "x": '
                                              + "[" * 100_000 + "]" * 100_000 + "}"), "nest more than 32 levels"),
    (lambda shot_dir, tmp_path: _prompts_text(shot_dir, tmp_path, lambda text: text.replace(
        '"ellipse_1"', '"' + "n" * 230 + '"')), "name: is 230 characters long; at most 64 are allowed"),
], ids=["dev-zero", "fifo", "5000-digit-integer", "100k-deep-nesting", "230-character-name"])
def test_unusable_prompts_are_refused_with_exit_3_and_an_error_event(shot_dir, tmp_path, make, expected):
    prompts = make(shot_dir, tmp_path)
    message = _refused(_run(shot_dir, prompts, tmp_path / "out", "--dry-run"))
    assert message.startswith(f"{prompts}: ") and expected in message, message


def test_a_png_renamed_exr_in_the_middle_of_a_sequence_is_named(shot_dir, tmp_path):
    shot = tmp_path / "shot"
    shutil.copytree(shot_dir, shot)
    renamed = shot / f"plate.{FIRST_FRAME + 3}.exr"
    spec = oiio.ImageInput.open(str(renamed)).spec()
    png = oiio.ImageOutput.create("png")
    assert png.open(str(renamed), oiio.ImageSpec(spec.full_width, spec.full_height, 3, "uint8"))
    assert png.write_image(np.zeros((spec.full_height, spec.full_width, 3), np.uint8))
    png.close()

    message = _refused(_run(shot, shot / "prompts.json", tmp_path / "out", "--dry-run"))
    assert message == (f"frame {FIRST_FRAME + 3} holds png data, but the rest of the sequence is openexr: {renamed} "
                       "(renamed from another format?)")


def _tensors_and_metadata(path):
    with safe_open(str(path), framework="pt") as handle:
        return {key: handle.get_tensor(key) for key in handle.keys()}, dict(handle.metadata())


def _huge_network(tiny_weights, path):
    tensors, metadata = _tensors_and_metadata(tiny_weights)
    config = dict(json.loads(metadata["rmpsam_config"]), decoder_width=1 << 20, ffn_width=1 << 24)  # 8 TB
    save_file(tensors, path, metadata=dict(metadata, rmpsam_config=json.dumps(config)))


def _malformed_metadata(tiny_weights, path):
    tensors, metadata = _tensors_and_metadata(tiny_weights)
    save_file(tensors, path, metadata=dict(metadata, rmpsam_config="{not json"))


def _foreign(tiny_weights, path):
    save_file({"embeddings.weight": torch.zeros(4, 3)}, path)


def _truncated(tiny_weights, path):
    data = tiny_weights.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("write, expected", [
    (_huge_network, "'rmpsam_config' metadata gives decoder_width 1048576, but the file's tensors are shaped for 256"),
    (_malformed_metadata, "'rmpsam_config' metadata is not valid JSON"),
    (_foreign, "not RMP-SAM weights: no tensor gives the network's backbone_width"),
    (_truncated, "not a readable safetensors file (SafetensorError: "),
], ids=["metadata-asks-for-a-huge-network", "malformed-metadata", "foreign-safetensors", "truncated"])
def test_unusable_weights_are_refused_with_exit_3_and_an_error_event(shot_dir, tiny_weights, tmp_path, write, expected):
    weights = tmp_path / "weights.safetensors"
    write(tiny_weights, weights)
    message = _refused(_run(shot_dir, shot_dir / "prompts.json", tmp_path / "out", "--weights", weights))
    assert message.startswith(f"{weights}: ") and expected in message, message
    assert not list((tmp_path / "out").glob("m.*.exr"))
