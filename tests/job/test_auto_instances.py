"""Prompt-free mode: linking detections into tracks, naming them, and the CLI's checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from job_cli import run_cli

from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.images.geometry import PlateGeometry, Window
from rmpsam_plugin.prompts import PlateInfo
from rmpsam_plugin.propagation.auto_instances import (
    MAX_GAP,
    Detection,
    UnknownClassError,
    class_indices,
    link_detections,
    tracks_to_prompts,
)

HEIGHT, WIDTH = 60, 100


def _disc(cx: float, cy: float, r: float = 8.0) -> np.ndarray:
    ys, xs = np.mgrid[:HEIGHT, :WIDTH] + 0.5
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def _frames(*per_frame):
    return [[Detection(frame, label, score, mask) for label, score, mask in detections]
            for frame, detections in per_frame]


def test_moving_objects_of_two_classes_become_two_tracks():
    per_frame = _frames(*[(f, [(0, 0.9, _disc(20 + 3 * f, 30)), (1, 0.8, _disc(80 - 3 * f, 30))]) for f in range(6)])
    tracks = link_detections(per_frame)
    assert [t.label for t in tracks] == [0, 1]
    assert all(len(t.detections) == 6 for t in tracks)
    assert all(d.mask[30, int(20 + 3 * d.frame)] for d in tracks[0].detections)


def test_a_track_bridges_a_short_gap_but_not_a_long_one():
    short = _frames(*[(f, [(0, 0.9, _disc(30 + f, 30))]) for f in [0, 1, 2, 2 + MAX_GAP + 1, 2 + MAX_GAP + 2]])
    assert [len(t.detections) for t in link_detections(short)] == [5]
    long = _frames(*[(f, [(0, 0.9, _disc(30 + f, 30))]) for f in [0, 1, 2, 2 + MAX_GAP + 2, 2 + MAX_GAP + 3]])
    assert [len(t.detections) for t in link_detections(long)] == [3, 2]


def test_single_frame_detections_are_dropped_and_classes_never_mix():
    per_frame = _frames(
        (0, [(0, 0.9, _disc(30, 30)), (2, 0.7, _disc(70, 20))]),  # the class-2 blip appears once
        (1, [(1, 0.9, _disc(31, 30))]),  # same place, another class: a new track, not a link
        (2, [(1, 0.9, _disc(32, 30))]),
    )
    tracks = link_detections(per_frame)
    assert [(t.label, len(t.detections)) for t in tracks] == [(1, 2)]


def test_tracks_become_named_box_prompts_on_their_best_frame_in_display_pixels():
    geometry = PlateGeometry.for_plate(Window(0, 0, 100, 60), 2.0, InferenceSize(short_side=60, max_long_side=400))
    assert geometry.network_hw == (60, 200)  # desqueezed
    mask = np.zeros(geometry.network_hw, bool)
    mask[10:20, 40:80] = True  # network pixels; display x is half
    weaker = np.roll(mask, 2, axis=1)
    per_frame = _frames((1001, [(3, 0.6, weaker)]), (1002, [(3, 0.9, mask)]), (1003, [(3, 0.7, weaker)]))
    names = ["ellipse", "rectangle", "ring", "star"]
    plate = PlateInfo(first_frame=1001, last_frame=1003, width=100, height=60, pixel_aspect=2.0)
    prompts = tracks_to_prompts(link_detections(per_frame), names, geometry, plate)
    assert prompts.names == ["star_1"]
    track = prompts.instance("star_1")
    assert track.class_name == "star" and list(track.keyframes) == [1002]
    np.testing.assert_allclose(track.keyframes[1002].boxes, [[20.0, 10.0, 40.0, 20.0]], atol=1e-6)


def test_class_names_are_checked_against_the_vocabulary():
    assert class_indices(["Star", "ellipse"], ["ellipse", "star"]) == [1, 0]
    with pytest.raises(UnknownClassError, match="car.*ellipse, star"):
        class_indices(["car"], ["ellipse", "star"])


def test_cli_refuses_unknown_classes_and_conflicting_options(shot_dir, tiny_weights, tmp_path):
    base = ["run", shot_dir / "plate.####.exr", "-o", tmp_path / "m.####.exr", "--weights", tiny_weights]
    unknown = run_cli(*base, "--auto", "--classes", "car", "--progress", "json")
    assert unknown.returncode == 3 and "car" in unknown.stderr and "class0" in unknown.stderr
    assert json.loads(unknown.stdout.splitlines()[-1])["event"] == "error"
    assert run_cli(*base, "--auto").returncode == 2  # --classes missing
    both = run_cli(*base, "--auto", "--classes", "class1", "--prompts", shot_dir / "prompts.json")
    assert both.returncode == 2 and "either --prompts" in both.stderr
    neither = run_cli(*base)
    assert neither.returncode == 2
    dry = run_cli(*base, "--auto", "--classes", "class1", "--dry-run")
    assert dry.returncode == 0 and "found by --auto" in dry.stdout and not list(tmp_path.glob("*.exr"))
