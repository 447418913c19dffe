"""Bounded inputs of `rmpsam-matte prompts validate`, run as the real executable: special files,
oversized files and documents beyond what a prompt file can be are refused quickly, with exit 3,
a one-line reason naming the file, and nothing of a non-prompt file's values in the message."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from prompt_files import good_document, write_image, write_json

from rmpsam_plugin.prompts.input_files import MAX_MASK_FILE_BYTES, MAX_PROMPT_FILE_BYTES
from rmpsam_plugin.prompts.json_text import MAX_DEPTH

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
BAD_INPUT = 3


def _validate(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    """A hang (a FIFO read waiting for a writer) fails the test through the timeout."""
    return subprocess.run([str(EXECUTABLE), "prompts", "validate", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _problems(result: subprocess.CompletedProcess, path: Path) -> list[str]:
    """The problems listed on stderr: one on a line of its own, several under a count."""
    assert result.returncode == BAD_INPUT, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    prefix = f"rmpsam-matte prompts: {path}: "
    if len(lines) == 1:
        assert lines[0].startswith(prefix)
        return [lines[0].removeprefix(prefix)]
    assert lines[0] == f"{prefix}{len(lines) - 1} problems:"
    return [line.removeprefix("  - ") for line in lines[1:]]


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _with_mask(tmp_path: Path, mask: Path) -> Path:
    document = good_document()
    document["instances"][1]["keyframes"][0]["mask"] = str(mask)
    return write_json(tmp_path / "shot.prompts.json", document)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_prompt_path_that_is_no_regular_file_is_refused_without_reading(tmp_path, kind):
    path = _fifo(tmp_path / "prompts.json") if kind == "fifo" else Path("/dev/zero")
    expected = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert _problems(_validate(path), path) == [f"file is {expected}, not a regular file"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_mask_that_is_a_fifo_or_a_device_is_refused(tmp_path):
    for mask, expected in [(_fifo(tmp_path / "mask.exr"), "a FIFO (named pipe)"),
                           (Path("/dev/zero"), "a character device")]:
        prompts = _with_mask(tmp_path, mask)
        assert _problems(_validate(prompts), prompts) == [f'instance "tree", keyframe 1030, mask: mask image is {expected}, '
                                     f"not a regular file: {mask}"]


def test_a_mask_over_the_size_cap_is_refused_by_its_size(tmp_path):
    mask = tmp_path / "huge.exr"
    with open(mask, "wb") as file:  # sparse: no disk space taken
        file.truncate(MAX_MASK_FILE_BYTES + 1)
    prompts = _with_mask(tmp_path, mask)
    assert _problems(_validate(prompts), prompts) == [
        f'instance "tree", keyframe 1030, mask: mask image is {MAX_MASK_FILE_BYTES + 1:,} '
        f"bytes, over the cap of {MAX_MASK_FILE_BYTES:,} bytes (4 GiB): {mask}"]


def test_a_mask_of_the_plate_size_is_still_read(tmp_path):
    mask = write_image(tmp_path / "tree.exr", np.ones((108, 204, 1)), ["A"])
    document = good_document()
    document["plate"].update(width=204, height=108)
    document["instances"] = [{"name": "tree", "keyframes": [{"frame": 1030, "mask": str(mask)}]}]
    result = _validate(write_json(tmp_path / "shot.prompts.json", document))
    assert result.returncode == 0, result.stderr


def test_a_prompt_file_over_the_cap_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.prompts.json"
    path.write_bytes(b" " * MAX_PROMPT_FILE_BYTES + b"{}")
    assert _problems(_validate(path), path) == [f"file is {MAX_PROMPT_FILE_BYTES + 2:,} bytes, over the cap of "
                                 f"{MAX_PROMPT_FILE_BYTES:,} bytes (2 MiB)"]


def _many_keys_text(size: int) -> tuple[str, int]:
    """A prompt file of about `size` bytes: valid prompts plus numbered unknown top-level keys,
    one of them written twice (what made the old repeated-key search quadratic)."""
    parts = [json.dumps(good_document())[:-1]]
    length, count = len(parts[0]), 0
    while length < size - 100:
        parts.append(f', "key{count}": {count}')
        length += len(parts[-1])
        count += 1
    return "".join(parts) + ', "key1": 0}', count


@pytest.mark.slow  # four runs of the executable: about 15 s on a 2-core machine
def test_many_keys_near_the_cap_are_checked_in_linear_time_and_reported(tmp_path):
    """Checking takes about 0.6 s in-process here; the bound leaves room for start-up noise on a
    loaded machine. The quadratic search took 21 s for 40,000 keys, minutes for this file."""
    text, count = _many_keys_text(MAX_PROMPT_FILE_BYTES)
    assert len(text) <= MAX_PROMPT_FILE_BYTES and count > 100_000
    path = tmp_path / "keys.prompts.json"
    path.write_text(text)
    small = write_json(tmp_path / "small.prompts.json", json.loads(_many_keys_text(2000)[0]))

    startup = min(_timed(_validate, small)[1] for _ in range(2))  # the executable's own start-up, now
    result, seconds = _timed(_validate, path)
    assert seconds - startup < 3.0, f"{count} keys took {seconds - startup:.2f} s beyond start-up"

    lines = result.stderr.splitlines()
    assert result.returncode == BAD_INPUT
    assert lines[0] == f"rmpsam-matte prompts: {path}: {count + 1} problems:"
    assert lines[1] == "  - key1: is written twice in the same object; only the last one would count"
    assert lines[2] == "  - key0: unknown field; allowed here: schema, version, plate, instances"
    assert len(lines) == 1 + 100 + 1
    assert lines[-1] == f"  ... and {count + 1 - 100} more (all of them with `prompts validate --json`)"
    issues = json.loads(_validate(path, "--json").stdout)["issues"]
    assert len(issues) == count + 1
    assert issues[-1]["text"] == f"key{count - 1}: unknown field; allowed here: schema, version, plate, instances"


def _timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def test_an_integer_of_5000_digits_is_refused_where_it_is(tmp_path):
    path = tmp_path / "digits.prompts.json"
    text = json.dumps(good_document()).replace('"frame": 1030', '"frame": ' + "9" * 5000)
    path.write_text(text)
    assert _problems(_validate(path), path) == [
        'instance "tree", keyframes[0].frame: must be an integer, not a number of 5000 digits (at most 15 are read)'
    ]


def test_nesting_100k_deep_is_refused(tmp_path):
    path = tmp_path / "deep.prompts.json"
    path.write_text('{"schema": "rmpsam-prompts", "version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert _problems(_validate(path), path) == [f"arrays and objects nest more than {MAX_DEPTH} levels deep; "
                                          "a prompt file needs 7"]


def test_a_230_character_instance_name_is_refused_by_validation(tmp_path):
    document = good_document()
    document["instances"][1]["name"] = "n" * 230
    path = write_json(tmp_path / "long.prompts.json", document)
    assert _problems(_validate(path), path) == [f'instance "{"n" * 80}... (230 characters)", name: is 230 characters long; '
                        "at most 64 are allowed"]


def test_names_with_newlines_and_escape_codes_are_escaped_and_refused(tmp_path):
    document = good_document()
    document["instances"][1]["name"] = "tree\n\x1b[31mFAKE LINE"
    document["instances"][1]["keyframes"][0]["boxes\x1b[2J"] = []
    path = write_json(tmp_path / "escapes.prompts.json", document)
    result = _validate(path)
    assert "\x1b" not in result.stderr and len(result.stderr.splitlines()) == 3
    assert _problems(result, path) == [
        'instance "tree\\n\\x1b[31mFAKE LINE", name: holds a control character (newline, tab, escape...); '
        "only printable characters are allowed",
        'instance "tree\\n\\x1b[31mFAKE LINE", keyframe 1030, boxes\\x1b[2J: unknown field; did you mean "boxes"? '
        "allowed here: frame, positive_clicks, negative_clicks, boxes, mask, mask_channel",
    ]


@pytest.mark.parametrize("secret_file", [
    {"schema": "sk-live-0123456789abcdef", "token": "hunter2"},
    "sk-live-0123456789abcdef",
    {"api_key": "sk-live-0123456789abcdef"},
], ids=["schema-field", "bare-string", "other-fields"])
def test_values_of_a_file_that_is_not_a_prompt_file_are_never_quoted(tmp_path, secret_file):
    path = write_json(tmp_path / "secrets.json", secret_file)
    result = _validate(path, "--json")
    assert result.returncode == BAD_INPUT
    assert "sk-live" not in result.stdout + result.stderr and "hunter2" not in result.stdout + result.stderr
    [issue] = json.loads(result.stdout)["issues"]
    assert issue["text"] in (
        'schema: expected "rmpsam-prompts", found another value (a string of 24 characters): is this a prompt file?',
        "the file must hold a JSON object, not a string of 24 characters",
        'schema: expected "rmpsam-prompts", found no "schema" field: is this a prompt file?',
    )


def test_unknown_top_level_keys_of_a_prompt_file_are_errors(tmp_path):
    document = good_document()
    document["instancs"] = []
    path = write_json(tmp_path / "typo.prompts.json", document)
    assert _problems(_validate(path), path) == [
        'instancs: unknown field; did you mean "instances"? allowed here: schema, version, plate, instances']
