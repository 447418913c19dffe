"""Mask prompts read through OpenImageIO: real EXR and PNG files, windows and channels honoured."""

import numpy as np
import pytest
from prompt_files import write_image

from rmpsam_plugin.prompts import MaskError, PlateInfo, PromptFileError, from_dict, load_mask

PLATE = PlateInfo(width=64, height=48)


def _keyframe(tmp_path, mask: str, channel: str | None = None):
    prompts = {"mask": mask} | ({"mask_channel": channel} if channel else {})
    return from_dict({"car": {1001: prompts}}, plate=PLATE, base_dir=tmp_path).instance("car").keyframes[1001]


def test_single_channel_exr_is_the_matte(tmp_path):
    matte = np.random.default_rng(1).uniform(0.0, 1.0, (48, 64, 1))
    write_image(tmp_path / "car.exr", matte, ["Y"])
    loaded = load_mask(_keyframe(tmp_path, "car.exr"))
    assert loaded.dtype == np.float32 and loaded.shape == (48, 64)
    np.testing.assert_array_equal(loaded, matte[..., 0].astype(np.float32))


def test_named_channel_of_an_rgba_exr_with_a_bounding_box_lands_in_the_display_window(tmp_path):
    rgba = np.zeros((10, 20, 4))
    rgba[..., 3] = 0.75
    rgba[0, 0, 3] = np.nan
    rgba[1, 1, 3] = 3.0
    write_image(tmp_path / "roto.exr", rgba, ["R", "G", "B", "A"], display_size=(64, 48), data_origin=(50, 5))
    loaded = load_mask(_keyframe(tmp_path, "roto.exr", "A"))
    assert loaded.shape == (48, 64)
    assert loaded[5, 50] == 0.0 and loaded[6, 51] == 1.0  # NaN -> 0, overshoot clipped
    assert loaded[7, 52] == 0.75 and loaded[14, 63] == 0.75  # data starts at (50, 5); columns past 64 dropped
    assert loaded[4, 50] == 0.0 and loaded[15, 55] == 0.0 and loaded[5, 49] == 0.0
    assert np.count_nonzero(loaded) == 10 * 14 - 1


def test_eight_bit_png_reads_as_zero_to_one(tmp_path):
    matte = np.zeros((48, 64, 1))
    matte[10:20, 30:40] = 1.0
    matte[0, 0] = 128 / 255
    write_image(tmp_path / "car.png", matte, ["Y"], pixel_type="uint8")
    loaded = load_mask(_keyframe(tmp_path, "car.png"))
    assert loaded[15, 35] == 1.0 and loaded[0, 0] == pytest.approx(128 / 255)
    assert loaded.sum() == pytest.approx(100 + 128 / 255)


def test_several_channels_without_mask_channel_or_an_absent_channel_are_refused(tmp_path):
    write_image(tmp_path / "rgb.exr", np.zeros((48, 64, 3)), ["R", "G", "B"])
    with pytest.raises(PromptFileError) as caught:
        _keyframe(tmp_path, "rgb.exr")
    assert caught.value.issues[0].message == (
        f"mask image {tmp_path / 'rgb.exr'} has 3 channels (R, G, B); set mask_channel to the one that holds the matte"
    )
    with pytest.raises(PromptFileError, match=r"has no channel 'A'; it has R, G, B"):
        _keyframe(tmp_path, "rgb.exr", "A")


def test_load_mask_names_the_file_when_it_has_gone_since_loading(tmp_path):
    write_image(tmp_path / "car.exr", np.zeros((48, 64, 1)), ["Y"])
    keyframe = _keyframe(tmp_path, "car.exr")
    (tmp_path / "car.exr").unlink()
    with pytest.raises(MaskError, match="mask image not found: .*car.exr"):
        load_mask(keyframe)
