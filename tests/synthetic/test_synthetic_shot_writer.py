"""Shots on disk: EXR sequences that read back with the right windows, aspect and values."""

import json

import numpy as np
import OpenImageIO as oiio
import pytest

from rmpsam_plugin.synthetic import generate_shot, write_shot

HALF_ABS_ERROR = 2.0**-11  # half precision rounding error for values in [0, 1]


@pytest.fixture(scope="module")
def shot():
    return generate_shot(21, 3, 32, 48, 2)


def _read(path):
    image = oiio.ImageInput.open(str(path))
    assert image is not None, oiio.geterror()
    try:
        return image.spec(), image.read_image("float")
    finally:
        image.close()


def _by_channel(spec, pixels):
    return {name: pixels[..., i] for i, name in enumerate(spec.channelnames)}


def test_plain_shot_reads_back_as_half_rgba_and_per_instance_alpha_layers(shot, tmp_path):
    written = write_shot(shot, tmp_path, "synth", first_frame=1001)
    assert [p.name for p in written.plate] == ["synth.1001.exr", "synth.1002.exr", "synth.1003.exr"]
    assert [p.name for p in written.ground_truth] == ["synth_gt.1001.exr", "synth_gt.1002.exr", "synth_gt.1003.exr"]
    for index in range(shot.num_frames):
        spec, plate = _read(written.plate[index])
        assert spec.format == oiio.TypeDesc("half")
        assert tuple(spec.channelnames) == ("R", "G", "B", "A")
        assert (spec.x, spec.y, spec.width, spec.height) == (0, 0, 48, 32)
        assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 48, 32)
        np.testing.assert_allclose(plate[..., :3], shot.frames[index], rtol=HALF_ABS_ERROR, atol=1e-6)
        assert (plate[..., 3] == 1.0).all()

        spec, truth = _read(written.ground_truth[index])
        layers = _by_channel(spec, truth)
        assert set(layers) == {f"{name}.A" for name in shot.names}
        for k, name in enumerate(shot.names):
            assert np.abs(layers[f"{name}.A"] - shot.mattes[index, k]).max() <= HALF_ABS_ERROR


def test_overscan_grows_the_data_window_with_real_picture(shot, tmp_path):
    written = write_shot(shot, tmp_path, "over", overscan=6)
    spec, plate = _read(written.plate[1])
    assert (spec.x, spec.y, spec.width, spec.height) == (-6, -6, 60, 44)
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 48, 32)
    display = plate[6:-6, 6:-6, :3]
    np.testing.assert_allclose(display, shot.frames[1], rtol=4 * HALF_ABS_ERROR, atol=1e-3)
    border = np.concatenate([plate[:6, :, :3].ravel(), plate[-6:, :, :3].ravel()])
    assert border.min() > 0.0 and border.std() > 1e-3, "overscan holds textured picture, not black"

    spec, truth = _read(written.ground_truth[1])
    assert (spec.x, spec.y, spec.width, spec.height) == (-6, -6, 60, 44)
    layers = _by_channel(spec, truth)
    for k, name in enumerate(shot.names):
        assert np.abs(layers[f"{name}.A"][6:-6, 6:-6] - shot.mattes[1, k]).max() <= 0.01


def test_anamorphic_plate_is_squeezed_and_says_so(shot, tmp_path):
    written = write_shot(shot, tmp_path, "ana", pixel_aspect=2.0)
    spec, plate = _read(written.plate[0])
    assert spec.getattribute("PixelAspectRatio") == pytest.approx(2.0)
    assert (spec.width, spec.height, spec.full_width, spec.full_height) == (24, 32, 24, 32)
    column_pairs = shot.frames[0].reshape(32, 24, 2, 3).mean(axis=2)
    np.testing.assert_allclose(plate[..., :3], column_pairs, rtol=4 * HALF_ABS_ERROR, atol=1e-6)

    spec, truth = _read(written.ground_truth[0])
    layers = _by_channel(spec, truth)
    for k, name in enumerate(shot.names):
        stored_area = layers[f"{name}.A"].sum() * 2.0
        assert stored_area == pytest.approx(shot.mattes[0, k].sum(), rel=1e-3, abs=0.5)


def test_anamorphic_overscan_counts_stored_pixels(shot, tmp_path):
    written = write_shot(shot, tmp_path, "both", overscan=4, pixel_aspect=2.0)
    spec, _ = _read(written.plate[0])
    assert (spec.x, spec.y, spec.width, spec.height) == (-4, -4, 32, 40)
    assert (spec.full_width, spec.full_height) == (24, 32)


def test_sidecar_describes_instances_and_sequences(shot, tmp_path):
    written = write_shot(shot, tmp_path, "side", first_frame=1001, overscan=2, pixel_aspect=2.0)
    sidecar = json.loads(written.sidecar.read_text())
    assert written.sidecar.name == "side.json"
    assert sidecar["plate"] == "side.####.exr" and sidecar["ground_truth"] == "side_gt.####.exr"
    assert (sidecar["first_frame"], sidecar["last_frame"]) == (1001, 1003)
    assert sidecar["display_size"] == [24, 32]
    assert sidecar["overscan"] == 2 and sidecar["pixel_aspect"] == 2.0
    assert [item["name"] for item in sidecar["instances"]] == list(shot.names)
    assert [item["class"] for item in sidecar["instances"]] == list(shot.classes)
    for k, item in enumerate(sidecar["instances"]):
        assert item["channel"] == f"{shot.names[k]}.A"
        assert item["frames_visible"] == [1001 + i for i in np.flatnonzero(shot.visible[:, k])]
    assert sorted(item["depth_rank"] for item in sidecar["instances"]) == [0, 1]
