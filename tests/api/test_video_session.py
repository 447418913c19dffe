"""`VideoSession`: prompts in display-window pixels, the job's own mattes back, in memory.

The session promises `rmpsam-matte run`'s semantics (keyframe decode, tracker, blend, temporal
stabiliser, edge refinement), so its mattes are compared bit for bit with the CLI's files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from exr_channels import read_channels

from rmpsam_plugin import InputError, PromptError, VideoSession, load_model
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.prompts import load_prompts

FRAMES = range(1001, 1009)




def prompt_from_file(session: VideoSession, prompt_file: Path) -> None:
    for track in load_prompts(prompt_file).instances:
        for frame, keyframe in track.keyframes.items():
            session.set_prompts(frame, track.name, clicks=keyframe.positive_clicks, negative=keyframe.negative_clicks,
                                boxes=keyframe.boxes)


@pytest.fixture(scope="module")
def model(tiny_weights):
    return load_model(tiny_weights)


@pytest.fixture(scope="module")
def cli_mattes(api_shot, tiny_weights, tmp_path_factory) -> Path:
    """The same shot and prompts through `rmpsam-matte run` (temporal and edge refinement on)."""
    output = tmp_path_factory.mktemp("cli") / "m.####.exr"
    command = [str(Path(sys.executable).parent / "rmpsam-matte"), "run", str(api_shot / "plate.####.exr"),
               "--prompts", str(api_shot / "prompts.json"), "-o", str(output), "--weights", str(tiny_weights),
               "--progress", "none"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return output.parent


def test_written_mattes_equal_the_cli_run(api_shot, model, cli_mattes, tmp_path):
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        prompt_from_file(session, api_shot / "prompts.json")
        paths = session.write(tmp_path / "m.####.exr")
    assert [p.name for p in paths] == [f"m.{frame}.exr" for frame in FRAMES]
    for frame in FRAMES:
        ours, theirs = read_channels(tmp_path / f"m.{frame}.exr"), read_channels(cli_mattes / f"m.{frame}.exr")
        assert set(ours) == set(theirs)
        for channel in theirs:
            np.testing.assert_array_equal(ours[channel], theirs[channel], err_msg=f"frame {frame} {channel}")


def test_propagate_yields_the_written_mattes_forward_and_reverse(api_shot, model, cli_mattes):
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        prompt_from_file(session, api_shot / "prompts.json")
        forward = list(session.propagate())
        backward = list(session.propagate(reverse=True))
    assert [frame for frame, _ in forward] == list(FRAMES)
    assert [frame for frame, _ in backward] == list(reversed(FRAMES))
    by_frame = dict(backward)
    for frame, mattes in forward:
        stored = read_channels(cli_mattes / f"m.{frame}.exr")
        for name, matte in mattes.items():
            assert matte.shape == (96, 160) and matte.dtype == np.float32
            np.testing.assert_array_equal(matte, by_frame[frame][name])
            # the file stores half floats: the session's float32 matte rounds to exactly the stored value
            np.testing.assert_array_equal(matte.astype(np.float16).astype(np.float32), stored[f"{name}.A"])


def test_set_prompts_answers_with_the_keyframes_stored_matte(api_shot, model, cli_mattes):
    track = load_prompts(api_shot / "prompts.json").instances[0]
    frame, keyframe = next(iter(track.keyframes.items()))
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        matte = session.set_prompts(frame, track.name, clicks=keyframe.positive_clicks, boxes=keyframe.boxes,
                                    negative=keyframe.negative_clicks)
        assert session.has_cached_features(frame) and not session.has_cached_features(frame + 2)
    stored = read_channels(cli_mattes / f"m.{frame}.exr")[f"{track.name}.A"]
    np.testing.assert_array_equal(matte.astype(np.float16).astype(np.float32), stored)


def test_frames_in_memory_give_the_same_mattes_as_files(api_shot, model):
    plates = [read_plate(api_shot / f"plate.{frame}.exr", "rgba", frame=frame).pixels for frame in FRAMES]
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as on_disk, \
            VideoSession.from_arrays(plates, first_frame=FRAMES[0], model=model) as in_memory:
        prompt_from_file(on_disk, api_shot / "prompts.json")
        prompt_from_file(in_memory, api_shot / "prompts.json")
        for (frame, ours), (_, theirs) in zip(in_memory.propagate(), on_disk.propagate()):
            for name in theirs:
                np.testing.assert_array_equal(ours[name], theirs[name], err_msg=f"frame {frame} {name}")


def test_add_prompts_appends_and_set_prompts_replaces(api_shot, model):
    with VideoSession.open(api_shot / "plate.####.exr", model=model, temporal=False) as session:
        session.add_prompts(1003, "thing", clicks=[(40, 30)])
        added = session.add_prompts(1003, "thing", clicks=[(120, 70)], negative=[(10, 10)])
        keyframe = session.prompts.instance("thing").keyframes[1003]
        np.testing.assert_array_equal(keyframe.positive_clicks, [[40, 30], [120, 70]])
        np.testing.assert_array_equal(keyframe.negative_clicks, [[10, 10]])
        both = session.set_prompts(1003, "thing", clicks=[(40, 30), (120, 70)], negative=[(10, 10)])
        np.testing.assert_array_equal(added, both)
        session.set_prompts(1003, "thing", boxes=[(20, 20, 60, 50)])
        keyframe = session.prompts.instance("thing").keyframes[1003]
        assert keyframe.positive_clicks.shape == (0, 2) and keyframe.boxes.tolist() == [[20, 20, 60, 50]]
        session.remove_prompts(1003, "thing")
        assert session.instances == []


def test_a_mask_in_memory_is_a_keyframe(api_shot, model):
    mask = np.zeros((96, 160), np.float32)
    mask[30:60, 50:100] = 1.0
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        matte = session.set_prompts(1002, "painted", mask=mask)
        assert matte.shape == (96, 160)
        frames = [frame for frame, _ in session.propagate()]
        assert frames == list(FRAMES)
        with pytest.raises(PromptError, match=r"mask of 'painted' on frame 1004: shape \(10, 10\)"):
            session.set_prompts(1004, "painted", mask=np.ones((10, 10)))


@pytest.mark.parametrize("call, message", [
    (lambda s: s.set_prompts(999, "car", clicks=[(10, 10)]), "999"),
    (lambda s: s.set_prompts(1001, "car", clicks=[(500, 10)]), "500"),
    (lambda s: s.set_prompts(1001, "car"), "car"),
    (lambda s: list(s.propagate()), "no prompts yet"),
])
def test_bad_prompts_are_named_errors_with_exit_code_3(api_shot, model, call, message):
    with VideoSession.open(api_shot / "plate.####.exr", model=model) as session:
        with pytest.raises(PromptError, match=message) as caught:
            call(session)
        assert caught.value.exit_code == 3 and session.instances == []


def test_opening_a_missing_sequence_names_it(tmp_path, model):
    with pytest.raises(InputError, match="nothing.####.exr|nothing") as caught:
        VideoSession.open(tmp_path / "nothing.####.exr", model=model)
    assert caught.value.exit_code == 3


def test_a_plate_with_gaps_opens_with_allow_gaps_and_names_the_missing_frame_when_needed(api_shot, model, tmp_path):
    gappy = tmp_path / "gappy"
    gappy.mkdir()
    for frame in FRAMES:
        if frame != 1003:
            (gappy / f"plate.{frame}.exr").symlink_to(api_shot / f"plate.{frame}.exr")
    with pytest.raises(InputError, match="frame 1003 is missing"):
        VideoSession.open(gappy / "plate.####.exr", model=model)
    with VideoSession.open(gappy / "plate.####.exr", model=model, allow_gaps=True) as session:
        assert session.frames == FRAMES
        matte = session.set_prompts(1001, "a", clicks=[(50.0, 40.0)])
        with VideoSession.open(api_shot / "plate.####.exr", model=model) as whole:
            np.testing.assert_array_equal(matte, whole.set_prompts(1001, "a", clicks=[(50.0, 40.0)]))
        with pytest.raises(InputError, match="frame 1003 is missing") as caught:
            list(session.propagate())
        assert caught.value.exit_code == 3
