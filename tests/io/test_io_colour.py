"""Plate colour to the network's display-referred sRGB, with numbers from the sRGB formula."""

import numpy as np
import pytest
from plate_files import write_exr, write_image

from rmpsam_plugin.errors import ColourError
from rmpsam_plugin.images.colour import (
    DISPLAY_ENCODED_DEFAULT,
    NETWORK_COLOUR_SPACE,
    SCENE_LINEAR_DEFAULT,
    convert,
    default_colour_space,
    linear_to_network_rgb,
    resolve_colour_space,
    to_network_rgb,
)
from rmpsam_plugin.images.reader import read_header, read_plate


def _srgb_encode(linear):
    """IEC 61966-2-1, written out independently of OpenColorIO."""
    linear = np.asarray(linear, dtype=np.float64)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055)


def _plate(tmp_path, rgb, **options):
    pixels = np.concatenate([np.asarray(rgb, np.float32), np.ones(np.shape(rgb)[:2] + (1,), np.float32)], axis=-1)
    return read_plate(write_exr(tmp_path / "c.exr", pixels, pixel_type="float", **options))


def test_scene_linear_grey_becomes_srgb(tmp_path):
    values = np.array([0.0, 0.001, 0.18, 0.5, 1.0], np.float32)
    plate = _plate(tmp_path, np.repeat(values[None, :, None], 3, axis=2))
    display = to_network_rgb(plate)
    assert display.shape == (1, 5, 3) and display.dtype == np.float32
    np.testing.assert_allclose(display[0, :, 0], _srgb_encode(values), atol=2e-4)
    assert display[0, 2, 0] == pytest.approx(0.4614, abs=5e-4)


def test_highlights_and_negatives_are_clipped_after_the_transform(tmp_path):
    plate = _plate(tmp_path, [[[4.0, 40.0, -0.2]]])
    np.testing.assert_array_equal(to_network_rgb(plate), [[[1.0, 1.0, 0.0]]])


def test_acescg_grey_matches_and_saturated_red_differs_from_rec709(tmp_path):
    grey = _plate(tmp_path, [[[0.18, 0.18, 0.18]]])
    np.testing.assert_allclose(to_network_rgb(grey, "ACEScg"), 0.4614, atol=5e-4)
    red = _plate(tmp_path, [[[0.5, 0.0, 0.0]]])
    as_rec709, as_acescg = to_network_rgb(red, "lin_rec709"), to_network_rgb(red, "ACEScg")
    assert as_rec709[0, 0, 1] == 0.0
    # AP1's red primary is more saturated than Rec.709's: in Rec.709 it is more red, with negative
    # green and blue, which are clipped.
    assert as_acescg[0, 0, 0] > as_rec709[0, 0, 0]
    assert as_acescg[0, 0, 1] == 0.0 and as_acescg[0, 0, 2] == 0.0


def test_default_colour_space_per_file_type(tmp_path):
    exr = write_exr(tmp_path / "p.exr", np.zeros((4, 4, 4), np.float32))
    png = write_image(tmp_path / "p.png", np.zeros((4, 4, 3), np.float32))
    dpx = write_image(tmp_path / "p.dpx", np.zeros((4, 4, 3), np.float32), "uint16")
    tagged = write_exr(tmp_path / "tagged.exr", np.zeros((4, 4, 4), np.float32),
                       attributes={"oiio:ColorSpace": "ACEScg"})
    assert default_colour_space(read_header(exr)) == SCENE_LINEAR_DEFAULT == "Linear Rec.709 (sRGB)"
    assert default_colour_space(read_header(png)) == DISPLAY_ENCODED_DEFAULT == "sRGB Encoded Rec.709 (sRGB)"
    assert default_colour_space(read_header(dpx)) == DISPLAY_ENCODED_DEFAULT
    assert default_colour_space(read_header(tagged)) == "ACEScg"


def test_display_encoded_files_pass_through_unchanged(tmp_path):
    levels = np.array([0, 64, 128, 255], np.float32) / 255
    pixels = np.repeat(levels[None, :, None], 3, axis=2)
    plate = read_plate(write_image(tmp_path / "p.png", pixels))
    np.testing.assert_allclose(to_network_rgb(plate), pixels, atol=1e-6)


def test_luminance_only_plates_are_repeated_into_rgb(tmp_path):
    plate = read_plate(write_exr(tmp_path / "y.exr", np.full((2, 3, 1), 0.18, np.float32), channels=("Y",)))
    display = to_network_rgb(plate)
    assert display.shape == (2, 3, 3)
    np.testing.assert_allclose(display, 0.4614, atol=5e-4)


def test_colour_space_names_and_aliases():
    assert resolve_colour_space("lin_rec709") == "Linear Rec.709 (sRGB)"
    assert resolve_colour_space("acescg") == "ACEScg"
    with pytest.raises(ColourError, match="unknown colour space 'Cineon'.*ACEScg"):
        resolve_colour_space("Cineon")


def test_convert_is_the_identity_within_one_space():
    rgb = np.array([[[0.2, 3.0, -1.0]]], np.float32)
    assert convert(rgb, "sRGB Encoded Rec.709 (sRGB)", "srgb_tx") is rgb


def test_linear_to_network_rgb_equals_opencolorio_srgb_encoding():
    """The job's direct sRGB encoding against OpenColorIO's, over the whole range and beyond."""
    ramp = np.concatenate([np.linspace(-0.5, 0.01, 500), np.geomspace(1e-6, 4.0, 3000)]).astype(np.float32)
    linear = np.stack([ramp, ramp[::-1], np.roll(ramp, 700)], axis=-1)[None]  # (1, N, 3)
    reference = np.clip(convert(linear, SCENE_LINEAR_DEFAULT, NETWORK_COLOUR_SPACE), 0.0, 1.0)
    ours = linear_to_network_rgb(linear)
    assert ours.dtype == np.float32 and ours.shape == linear.shape
    np.testing.assert_allclose(ours, reference, atol=2e-5, rtol=0)
    assert ours.min() == 0.0 and ours.max() == 1.0


def test_linear_rgb_of_rgba_and_reordered_plates_is_exactly_their_colour_channels(tmp_path):
    """RGBA plates (the usual case, alpha dropped by OpenCV) and layers whose colour channels are
    not first give the stored R, G, B bit for bit, as a contiguous float32 array."""
    from rmpsam_plugin.images.colour import to_linear_rgb

    rgba = np.random.default_rng(5).normal(0.3, 0.4, (7, 9, 4)).astype(np.float32)
    plate = read_plate(write_exr(tmp_path / "rgba.exr", rgba, pixel_type="float"))
    linear = to_linear_rgb(plate)
    assert linear.dtype == np.float32 and linear.flags.c_contiguous and linear.shape == (7, 9, 3)
    np.testing.assert_array_equal(linear, rgba[..., :3])
    plate.pixels = np.ascontiguousarray(plate.pixels[:, ::-1])[:, ::-1]  # a view OpenCV cannot take as is
    np.testing.assert_array_equal(to_linear_rgb(plate), rgba[..., :3])
