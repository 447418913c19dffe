"""The in-memory generator: reproducible, and its mattes are the truth of its own plates."""

import re

import cv2
import numpy as np
import pytest

from rmpsam_plugin.synthetic import CLASS_NAMES, generate_image_sample, generate_shot
from rmpsam_plugin.synthetic.motion import outline_travel
from rmpsam_plugin.synthetic.render import MAX_BLUR_SAMPLES, frame_times, render_id_buffer
from rmpsam_plugin.synthetic.sprites import Canvas


def _interior(mask: np.ndarray, pixels: int = 2) -> np.ndarray:
    """`mask` eroded by `pixels`: away from anti-aliased edges, including edges just off-frame."""
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def _frame_canvas(shot) -> Canvas:
    return Canvas(0, 0, shot.width, shot.height)


def test_same_seed_gives_identical_arrays_and_another_seed_differs():
    first = generate_shot(11, 3, 40, 56, 2)
    again = generate_shot(11, 3, 40, 56, 2)
    other = generate_shot(12, 3, 40, 56, 2)
    assert np.array_equal(first.frames, again.frames)
    assert np.array_equal(first.mattes, again.mattes)
    assert first.names == again.names
    assert not np.array_equal(first.frames, other.frames)
    assert not np.array_equal(first.mattes, other.mattes)


def test_shapes_dtypes_and_value_ranges():
    shot = generate_shot(3, 4, 48, 64, 3)
    assert shot.frames.shape == (4, 48, 64, 3) and shot.frames.dtype == np.float32
    assert shot.mattes.shape == (4, 3, 48, 64) and shot.mattes.dtype == np.float32
    assert np.isfinite(shot.frames).all() and shot.frames.min() >= 0.0
    assert shot.mattes.min() >= 0.0
    assert shot.mattes.sum(axis=1).max() <= 1.0 + 1e-5
    assert shot.ids.tolist() == [1, 2, 3]
    assert shot.visible.shape == (4, 3) and shot.unoccluded_area.shape == (4, 3)


def test_names_are_unique_layer_names_and_classes_come_from_the_vocabulary():
    shot = generate_shot(4, 1, 32, 32, 6)
    assert len(set(shot.names)) == 6
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in shot.names)
    assert all(name.startswith(cls) for name, cls in zip(shot.names, shot.classes))
    assert [CLASS_NAMES[i] for i in shot.class_ids] == list(shot.classes)
    rings = generate_shot(4, 1, 32, 32, 3, families=["ring"])
    assert rings.classes == ("ring", "ring", "ring")
    with pytest.raises(ValueError, match="unknown shape families"):
        generate_shot(4, 1, 32, 32, 1, families=["teapot"])


def _assert_mattes_follow_id_buffers(mattes: np.ndarray, id_buffers: np.ndarray) -> int:
    """Where every sub-frame id-buffer gives one owner, away from any edge, that owner's matte is
    ~1 and every other matte ~0 (owner -1, background: all ~0). Returns the pixels checked."""
    checked = 0
    for owner in range(-1, mattes.shape[0]):
        steady = _interior((id_buffers == owner).all(axis=0))
        expected = (np.arange(mattes.shape[0]) == owner).astype(np.float32)[:, None]
        assert np.abs(mattes[:, steady] - expected).max(initial=0.0) < 0.01, owner
        checked += int(steady.sum())
    return checked


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sharp_mattes_agree_with_an_independent_hard_id_buffer(seed):
    shot = generate_shot(seed, 3, 96, 128, 4, shutter=0.0)
    checked = 0
    for index in range(shot.num_frames):
        ids = render_id_buffer(shot.scene, float(index), _frame_canvas(shot))
        checked += _assert_mattes_follow_id_buffers(shot.mattes[index], ids[None])
    assert checked > 0.7 * shot.frames[..., 0].size


@pytest.mark.parametrize("seed", [5, 6])
def test_blurred_mattes_agree_with_id_buffers_over_the_whole_shutter(seed):
    """A pixel owned by one object at every sub-frame is that object's; pixels that change owner
    during the shutter exist (the shot is blurred) and are left to the blur."""
    shot = generate_shot(seed, 3, 96, 128, 3, shutter=0.5, blur_samples=5)
    for index in range(shot.num_frames):
        times = frame_times(shot.scene, index, shot.shutter, shot.blur_samples)
        stack = np.stack([render_id_buffer(shot.scene, t, _frame_canvas(shot)) for t in times])
        checked = _assert_mattes_follow_id_buffers(shot.mattes[index], stack)
        assert checked > 0.5 * stack[0].size
        assert (stack != stack[:1]).any(axis=0).sum() > 10, "some pixels change owner during the shutter"


def test_objects_move_turn_and_scale():
    shot = generate_shot(6, 8, 128, 128, 3, shutter=0.0)
    first = render_id_buffer(shot.scene, 0.0, _frame_canvas(shot))
    last = render_id_buffer(shot.scene, 7.0, _frame_canvas(shot))
    for k, obj in enumerate(shot.scene.objects):
        start, end = obj.trajectory.pose(0.0), obj.trajectory.pose(7.0)
        assert np.hypot(end.x - start.x, end.y - start.y) > 1.0
        assert start.angle != end.angle and start.scale_px != end.scale_px
        moved = np.logical_xor(first == k, last == k).sum()
        assert moved > 0.05 * max((first == k).sum(), 1), f"{shot.names[k]} barely changed its pixels"


def test_objects_occlude_each_other():
    occluded = 0
    for seed in range(4):
        shot = generate_shot(seed, 3, 96, 96, 4, shutter=0.0)
        assert (shot.visible_area <= shot.unoccluded_area + 1e-2).all()
        occluded += int((shot.visible_area < 0.9 * shot.unoccluded_area).any())
    assert occluded >= 3, "most four-object shots should have an instance hidden by 10% or more"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_instance_leaves_the_frame_and_comes_back(seed):
    shot = generate_shot(seed, 9, 64, 80, 3, leave_and_return=True)
    returning = [
        k for k in range(3) if shot.visible[0, k] and shot.visible[-1, k] and not shot.visible[4, k]
    ]
    assert len(returning) >= 1
    k = returning[0]
    assert shot.mattes[4, k].max() == 0.0
    assert shot.unoccluded_area[4, k] == 0.0


def test_objects_and_background_are_textured_not_flat():
    shot = generate_shot(7, 1, 96, 128, 4, shutter=0.0)
    ids = render_id_buffer(shot.scene, 0.0, _frame_canvas(shot))
    luminance = shot.frames[0] @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    for k in range(-1, 4):
        inside = _interior(ids == k)
        if inside.sum() >= 20:
            values = luminance[inside]
            assert values.std() / values.mean() > 0.05, k


def test_lighting_drift_changes_the_plate_by_a_gain_and_never_the_mattes():
    lit = generate_shot(8, 4, 32, 48, 2)
    flat = generate_shot(8, 4, 32, 48, 2, lighting_drift=False)
    assert np.array_equal(lit.mattes, flat.mattes)
    gains = np.stack([lit.scene.lighting.gain(i) for i in range(4)])
    assert np.ptp(gains, axis=0).max() > 1e-3
    np.testing.assert_allclose(lit.frames, flat.frames * gains[:, None, None, :], rtol=1e-5)


def test_image_sample_is_one_sharp_frame():
    sample = generate_image_sample(9, 40, 60, num_objects=2)
    assert sample.frames.shape == (1, 40, 60, 3)
    assert sample.mattes.shape == (1, 2, 40, 60)
    assert sample.shutter == 0.0


def test_motion_blur_softens_the_mattes_of_the_same_scene():
    """The same scene (the shutter draws no random numbers) with a fast, frame-leaving object."""
    sharp = generate_shot(13, 5, 64, 96, 3, leave_and_return=True, shutter=0.0)
    blurred = generate_shot(13, 5, 64, 96, 3, leave_and_return=True, shutter=0.5, blur_samples=5)

    def soft_pixels(shot):
        return int(((shot.mattes > 0.02) & (shot.mattes < 0.98)).sum())

    assert soft_pixels(blurred) > 1.2 * soft_pixels(sharp)


def test_fast_motion_gets_enough_sub_frames_to_smear_without_ghosts():
    shot = generate_shot(14, 9, 64, 96, 2, leave_and_return=True)
    movers = [obj.trajectory for obj in shot.scene.objects]
    counts = []
    for index in range(shot.num_frames):
        times = frame_times(shot.scene, index, shot.shutter, shot.blur_samples)
        counts.append(len(times))
        assert len(times) >= shot.blur_samples
        if len(times) < MAX_BLUR_SAMPLES:
            steps = [outline_travel(path, times[i : i + 2]) for path in movers for i in range(len(times) - 1)]
            assert max(steps) <= 1.6
    assert max(counts) > shot.blur_samples
