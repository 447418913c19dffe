"""The plate style of synthetic shot (`generate_shot(style="plate")`): reproducible, opt-in, and
actually showing what it promises: grain on the plate only, defocus soft in plate and matte alike,
photographic backdrops, thin structures and holes. Small frames, a few seconds in all."""

from __future__ import annotations

import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest

from rmpsam_plugin.synthetic import generate_shot
from rmpsam_plugin.synthetic.defocus import defocus_sprite
from rmpsam_plugin.synthetic.photos import INSTALL_HINT, PlateStyleUnavailable, load_photos
from rmpsam_plugin.synthetic.render import render_frame, render_shot
from rmpsam_plugin.synthetic.scene import build_scene
from rmpsam_plugin.synthetic.sprites import Canvas

pytest.importorskip("skimage", reason="the plate style needs the train extra (scikit-image)")

SEEDS = range(10_000_000, 10_000_012)  # training seeds: the plate style is for training


def test_plate_style_is_reproducible_bit_for_bit_and_differs_by_seed():
    first = generate_shot(10_000_001, 3, 96, 96, 3, style="plate")
    again = generate_shot(10_000_001, 3, 96, 96, 3, style="plate")
    other = generate_shot(10_000_002, 3, 96, 96, 3, style="plate")
    for name in ("frames", "mattes", "unoccluded_area", "class_ids", "visible"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert first.names == again.names
    assert not np.array_equal(first.frames, other.frames)


def test_the_default_style_is_the_procedural_one_unchanged():
    default = generate_shot(7, 3, 64, 80, 3, leave_and_return=True)
    procedural = generate_shot(7, 3, 64, 80, 3, leave_and_return=True, style="procedural")
    scene = build_scene(np.random.default_rng(7), 3, 64, 80, 3, leave_and_return=True)  # the path before styles existed
    frames, mattes, _ = render_shot(scene, Canvas(0, 0, 80, 64), 0.5, 5)
    for shot in (default, procedural):
        np.testing.assert_array_equal(shot.frames, frames)
        np.testing.assert_array_equal(shot.mattes, mattes)
    assert default.scene.grain is None and default.scene.background.defocus_px == 0.0
    assert not np.array_equal(generate_shot(7, 3, 64, 80, 3, leave_and_return=True, style="plate").frames, frames)
    with pytest.raises(ValueError, match="unknown shot style"):
        generate_shot(7, 1, 32, 32, 1, style="painted")


def test_grain_is_on_the_plate_only_new_every_frame_and_the_same_with_overscan():
    shot = generate_shot(10_000_003, 2, 96, 96, 3, style="plate")
    assert shot.scene.grain is not None
    clean = replace(shot.scene, grain=None)
    canvas = Canvas(0, 0, 96, 96)
    for frame in range(2):
        rgb, mattes, _ = render_frame(clean, frame, canvas, shot.shutter, shot.blur_samples)
        np.testing.assert_array_equal(mattes, shot.mattes[frame])  # the truth carries no noise
        noise = shot.frames[frame] - rgb
        assert noise.std() > 1e-3
        assert abs(float(noise.mean())) < 0.2 * float(noise.std())  # zero-mean
    noise0 = shot.frames[0] - render_frame(clean, 0, canvas, shot.shutter, shot.blur_samples)[0]
    noise1 = shot.frames[1] - render_frame(clean, 1, canvas, shot.shutter, shot.blur_samples)[0]
    assert abs(np.corrcoef(noise0.ravel(), noise1.ravel())[0, 1]) < 0.1  # fresh grain per frame
    wide, _, _ = render_frame(shot.scene, 0, Canvas(-8, -8, 112, 112), shot.shutter, shot.blur_samples)
    np.testing.assert_allclose(wide[8:-8, 8:-8], shot.frames[0], atol=1e-5)  # grain follows the display pixel


def _soft_pixels(matte: np.ndarray) -> int:
    return int(((matte > 0.02) & (matte < 0.98)).sum())


def _edge_band(matte: np.ndarray) -> np.ndarray:
    hard = (matte > 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    return cv2.dilate(hard, kernel, iterations=2).astype(bool) & ~cv2.erode(hard, kernel, iterations=2).astype(bool)


def test_a_defocused_object_is_soft_in_the_plate_and_in_its_matte_alike():
    shot = generate_shot(10_000_000, 1, 96, 96, 1, style="plate", shutter=0.0, background_clutter=0)
    assert shot.scene.objects[0].defocus_px == 0.0  # this seed's object is in focus: defocus it here
    sharp = replace(shot.scene, grain=None)
    obj = sharp.objects[0]
    soft = replace(sharp, objects=(replace(obj, sprite=defocus_sprite(obj.sprite, 2.0), defocus_px=2.0),))
    canvas = Canvas(0, 0, 96, 96)
    sharp_rgb, sharp_matte, _ = render_frame(sharp, 0, canvas, 0.0, 1)
    soft_rgb, soft_matte, _ = render_frame(soft, 0, canvas, 0.0, 1)
    assert _soft_pixels(soft_matte[0]) > 2 * _soft_pixels(sharp_matte[0])
    band = _edge_band(sharp_matte[0])

    def edge_detail(rgb):
        return float(np.abs(cv2.Laplacian(rgb.mean(axis=2), cv2.CV_32F))[band].mean())

    assert edge_detail(soft_rgb) < 0.7 * edge_detail(sharp_rgb)
    # The blur reaches exactly as far in the plate as in the matte: outside the sharp outline the
    # plate leaves the bare background where, and only where, the defocused matte is above zero.
    bare, _, _ = render_frame(replace(sharp, objects=(), front_to_back=()), 0, canvas, 0.0, 1)
    changed = np.abs(soft_rgb - bare).max(axis=2) > 0
    outside = sharp_matte[0] == 0
    fringe = outside & (soft_matte[0] > 1e-3)
    assert fringe.sum() > 20 and changed[fringe].all()
    assert not changed[outside & (soft_matte[0] == 0)].any()


def test_plate_shots_draw_defocus_often():
    scenes = [generate_shot(seed, 1, 48, 48, 3, style="plate").scene for seed in SEEDS]
    assert sum(scene.background.defocus_px > 0 for scene in scenes) >= 4
    assert any(obj.defocus_px > 0 for scene in scenes for obj in scene.objects)


def test_photographic_backdrops_are_textured_more_than_the_procedural_ones():
    def spread(style):
        stds = []
        for seed in SEEDS:
            texture = generate_shot(seed, 1, 96, 96, 1, style=style, background_clutter=0).scene.background.texture
            stds.append(float((np.clip(texture, 0, 1) ** (1 / 2.2)).mean(axis=2).std()))
        return np.array(stds)

    plate, procedural = spread("plate"), spread("procedural")
    assert plate.min() > 0.02  # never a flat backdrop
    assert plate.mean() > 1.5 * procedural.mean()


def test_thin_structures_and_holes_appear():
    thinnest, holes = np.inf, 0
    for seed in SEEDS:
        shot = generate_shot(seed, 1, 96, 96, 3, families=["rectangle", "ring", "star", "ellipse"], style="plate",
                             shutter=0.0)
        for matte in shot.mattes[0]:
            hard = (matte > 0.5).astype(np.uint8)
            if hard.sum() < 20:
                continue
            inscribed = cv2.distanceTransform(np.pad(hard, 1), cv2.DIST_L2, 5).max()  # half the widest part
            thinnest = min(thinnest, float(inscribed))
            _, hierarchy = cv2.findContours(hard, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
            holes += int(hierarchy is not None and (hierarchy[0][:, 3] >= 0).any())
    assert thinnest <= 2.0  # an object of 20+ pixels no wider than about 4 px anywhere
    assert holes >= 2


def test_without_scikit_image_the_plate_style_says_how_to_install_it(monkeypatch):
    load_photos.cache_clear()
    monkeypatch.setitem(sys.modules, "skimage", None)  # `import skimage` now raises ImportError
    try:
        with pytest.raises(PlateStyleUnavailable, match=r"pip install \"rmpsam-matte\[train\]\""):
            generate_shot(10_000_000, 1, 32, 32, 1, style="plate")
        generate_shot(0, 1, 32, 32, 1)  # the procedural style needs nothing extra
    finally:
        load_photos.cache_clear()
    assert INSTALL_HINT in str(PlateStyleUnavailable(INSTALL_HINT))
