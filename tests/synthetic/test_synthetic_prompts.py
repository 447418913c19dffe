"""Prompts from ground truth: clicks inside, negatives outside, boxes around, in display pixels."""

import numpy as np
import pytest

from rmpsam_plugin.synthetic import (
    artist_prompts,
    box_from_matte,
    clicks_from_matte,
    generate_shot,
    negative_clicks_from,
)


def _disc(height, width, cx, cy, radius):
    rows, cols = np.indices((height, width))
    return ((cols - cx) ** 2 + (rows - cy) ** 2 <= radius**2).astype(np.float32)


def _pixel(point):
    """Row and column of the pixel containing continuous (x, y)."""
    return int(np.floor(point[1])), int(np.floor(point[0]))


def test_first_click_is_the_deepest_point_at_the_pixel_centre():
    matte = _disc(40, 60, cx=30, cy=25, radius=10)
    clicks = clicks_from_matte(matte, 1)
    np.testing.assert_array_equal(clicks, [[30.5, 25.5]])


def test_further_clicks_are_inside_and_spread_out():
    matte = np.zeros((40, 80), np.float32)
    matte[10:30, 5:75] = 1.0
    clicks = clicks_from_matte(matte, 4, np.random.default_rng(0))
    assert clicks.shape == (4, 2)
    assert all(matte[_pixel(c)] == 1.0 for c in clicks)
    distances = np.hypot(*(clicks[:, None, :] - clicks[None, :, :]).transpose(2, 0, 1))
    assert distances[np.triu_indices(4, 1)].min() >= 8.0


def test_box_runs_along_pixel_edges_and_jitter_only_loosens_it():
    matte = np.zeros((40, 60), np.float32)
    matte[10:20, 30:45] = 0.8
    np.testing.assert_array_equal(box_from_matte(matte), [30, 10, 45, 20])
    rng = np.random.default_rng(1)
    for _ in range(20):
        x1, y1, x2, y2 = box_from_matte(matte, jitter=0.2, rng=rng)
        assert 27 <= x1 <= 30 and 8 <= y1 <= 10 and 45 <= x2 <= 48 and 20 <= y2 <= 22


def test_empty_matte_gives_no_prompts():
    empty = np.zeros((16, 16), np.float32)
    assert clicks_from_matte(empty, 3).shape == (0, 2)
    assert box_from_matte(empty) is None
    assert negative_clicks_from(empty, [empty]).shape == (0, 2)


def test_negative_click_lands_on_the_touching_neighbour():
    target = _disc(60, 80, cx=30, cy=30, radius=12)
    neighbour = _disc(60, 80, cx=52, cy=30, radius=10) * (1 - target)
    clicks = negative_clicks_from(target, [neighbour], n=2, rng=np.random.default_rng(2))
    assert clicks.shape == (2, 2)
    for click in clicks:
        assert neighbour[_pixel(click)] == 1.0 and target[_pixel(click)] == 0.0


def test_negative_click_falls_back_to_background_near_the_object():
    ring = _disc(60, 60, 30, 30, 15) - _disc(60, 60, 30, 30, 7)
    clicks = negative_clicks_from(ring, [], n=1)
    np.testing.assert_array_equal(clicks, [[30.5, 30.5]])  # the centre of the hole


@pytest.fixture(scope="module")
def shot():
    return generate_shot(31, 6, 64, 96, 3)


def test_artist_prompts_are_consistent_with_the_ground_truth(shot):
    prompts = artist_prompts(shot, [0, 5], positive_clicks=3, negative_clicks=2, seed=4)
    assert set(prompts) == {name for k, name in enumerate(shot.names) if shot.visible[[0, 5], k].any()}
    checked = 0
    for k, name in enumerate(shot.names):
        for frame, prompt in prompts.get(name, {}).items():
            assert set(prompt) == {"positive", "negative", "boxes"}
            matte = shot.mattes[frame, k]
            (x1, y1, x2, y2), = prompt["boxes"]
            rows, cols = np.nonzero(matte > 0.5)
            assert x1 <= cols.min() and cols.max() + 1 <= x2 and y1 <= rows.min() and rows.max() + 1 <= y2
            assert 1 <= len(prompt["positive"]) <= 3 and len(prompt["negative"]) <= 2
            for x, y in prompt["positive"]:
                assert matte[_pixel((x, y))] > 0.5
                assert x1 <= x <= x2 and y1 <= y <= y2
            for point in prompt["negative"]:
                assert matte[_pixel(point)] <= 0.5
            checked += 1
    assert checked >= 4


def test_artist_prompts_are_reproducible_and_follow_frame_numbers_and_pixel_aspect(shot):
    plain = artist_prompts(shot, [2], seed=9)
    assert artist_prompts(shot, [2], seed=9) == plain
    numbered = artist_prompts(shot, [2], seed=9, first_frame=1001)
    assert all(list(frames) == [1003] for frames in numbered.values())
    squeezed = artist_prompts(shot, [2], seed=9, pixel_aspect=2.0)
    for name, frames in plain.items():
        for kind in ("positive", "negative"):
            for (x, y), (sx, sy) in zip(frames[2][kind], squeezed[name][2][kind]):
                assert (sx, sy) == (x / 2, y)
        (x1, y1, x2, y2), = frames[2]["boxes"]
        assert squeezed[name][2]["boxes"] == [[x1 / 2, y1, x2 / 2, y2]]
