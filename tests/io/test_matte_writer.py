"""The matte writer, proved on real files read back through OpenImageIO (docs/file-formats.md, Mattes).

Every test writes frames with `MatteWriter`, then opens what landed on disk with OpenImageIO
directly (not with the project's reader) and checks channels, pixel types, compression, windows,
pixel aspect, header metadata and pixels against what was written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from plate_files import write_exr, write_image

from rmpsam_plugin import __version__
from rmpsam_plugin.cryptomatte import (
    COVERAGE_FLOOR,
    extract_matte,
    find_layers,
    name_to_id,
)
from rmpsam_plugin.errors import OutputError
from rmpsam_plugin.images.geometry import Window, reframe
from rmpsam_plugin.images.layer_names import output_layer_names
from rmpsam_plugin.images.nuke_channels import (
    OTHER_LAYER,
    assert_nuke_friendly,
    nuke_channel_name,
)
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.images.sequences import find_sequence
from rmpsam_plugin.mattes.writer import MatteWriter, OutputFormat, Provenance

# Half floats have 11 significant bits: rounding a value in [0, 1] moves it by at most 2**-12.
HALF_ROUNDING = 2.0**-12
PROVENANCE = Provenance(weights_digest="sha256:" + "ab" * 32, prompts_digest="sha256:" + "cd" * 32)


# --- helpers ------------------------------------------------------------------------------------


class ExrFile:
    """What OpenImageIO sees in a written file: the first part's spec and all its pixels."""

    def __init__(self, path: Path) -> None:
        image = oiio.ImageInput.open(str(path))
        assert image is not None, oiio.geterror()
        try:
            self.spec = image.spec()
            self.parts = 1
            while image.seek_subimage(self.parts, 0):
                self.parts += 1
            image.seek_subimage(0, 0)
            pixels = image.read_image(0, 0, 0, self.spec.nchannels, "float")
            assert pixels is not None, image.geterror()
        finally:
            image.close()
        self.pixels = pixels.reshape(self.spec.height, self.spec.width, self.spec.nchannels)
        self.channel_names = tuple(self.spec.channelnames)

    @property
    def data_window(self) -> Window:
        return Window.data_of(self.spec)

    @property
    def display_window(self) -> Window:
        return Window.display_of(self.spec)

    @property
    def pixel_types(self) -> dict[str, str]:
        formats = self.spec.channelformats or (self.spec.format,) * self.spec.nchannels
        return {name: str(kind) for name, kind in zip(self.channel_names, formats)}

    def channel(self, name: str) -> np.ndarray:
        return self.pixels[..., self.channel_names.index(name)]

    def attribute(self, name: str):
        return self.spec.getattribute(name)


def soft_disc(window: Window, centre_xy: tuple[float, float], radius: float) -> np.ndarray:
    """A soft matte covering `window` (absolute coordinates): 1 inside, a ramp over 6 pixels, 0 outside."""
    ys, xs = np.mgrid[window.y:window.y_end, window.x:window.x_end].astype(np.float32) + 0.5
    distance = np.hypot(xs - centre_xy[0], ys - centre_xy[1])
    return np.clip((radius - distance) / 6.0, 0.0, 1.0).astype(np.float32)


def noise_matte(window: Window, seed: int) -> np.ndarray:
    """Values spread over all of 0..1, so half-float rounding is exercised everywhere."""
    return np.random.default_rng(seed).random(window.shape, dtype=np.float32)


def plate_file(path: Path, display: Window = Window(0, 0, 64, 36), data: Window | None = None, *,
               channels=("R", "G", "B", "A"), pixel_aspect: float = 1.0, pixel_type: str = "half") -> Path:
    data = data or display
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(3).random(data.shape + (len(channels),), dtype=np.float32)
    return write_exr(path, pixels, channels=channels, data_window=data, display_window=display,
                     pixel_aspect=pixel_aspect, pixel_type=pixel_type)


def files_in(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir())


# --- round trips --------------------------------------------------------------------------------


def test_round_trip_mattes_within_half_precision_one_layer_per_instance(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.1001.exr"))
    names = ["car", "person"]
    writer = MatteWriter(tmp_path / "out" / "matte.####.exr", names, PROVENANCE)
    mattes = {"car": noise_matte(plate.display_window, 1), "person": soft_disc(plate.display_window, (20, 18), 9)}
    path = writer.write(1001, mattes, plate.display_window, plate)

    assert path == tmp_path / "out" / "matte.1001.exr"
    written = ExrFile(path)
    assert written.parts == 1
    assert sorted(written.channel_names) == ["car.A", "person.A"]
    assert [nuke_channel_name(name) for name in written.channel_names] == [("car", "alpha"), ("person", "alpha")]
    for name, matte in mattes.items():
        stored = written.channel(f"{name}.A")
        np.testing.assert_allclose(stored, matte, rtol=0, atol=HALF_ROUNDING, err_msg=name)
        # ...and exactly the half float nearest to the matte: nothing else happened on the way.
        np.testing.assert_array_equal(stored, matte.astype(np.float16).astype(np.float32))
    # The project's own reader finds each instance as a layer with one A component.
    car = read_plate(path, "car")
    assert car.layer.components == ("A",)
    np.testing.assert_array_equal(car.component("A"), written.channel("car.A"))


def test_defaults_are_half_float_and_zip(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", pixel_type="float"))
    path = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE).write(
        1, {"car": noise_matte(plate.display_window, 2)}, plate.display_window, plate)
    written = ExrFile(path)
    assert written.pixel_types == {"car.A": "half"}
    assert written.attribute("compression") == "zip"


@pytest.mark.parametrize(("pixel_type", "compression"), [
    ("float", "piz"), ("float", "none"), ("half", "zips"), ("half", "rle"), ("float", "zip"),
])
def test_pixel_type_and_lossless_compression_are_choosable_and_exact(tmp_path, pixel_type, compression):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    matte = noise_matte(plate.display_window, 5)
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, output_format=OutputFormat(pixel_type, compression))
    written = ExrFile(writer.write(1, {"car": matte}, plate.display_window, plate))
    assert written.pixel_types == {"car.A": pixel_type}
    assert written.attribute("compression") == compression
    expected = matte if pixel_type == "float" else matte.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(written.channel("car.A"), expected)


def test_lossy_compression_only_on_explicit_request(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, output_format=OutputFormat("float", "pxr24"))
    written = ExrFile(writer.write(1, {"car": noise_matte(plate.display_window, 6)}, plate.display_window, plate))
    assert written.attribute("compression") == "pxr24"


@pytest.mark.parametrize(("pixel_type", "compression", "message"), [
    ("uint8", "zip", "pixel type"), ("double", "zip", "pixel type"), ("half", "jpeg", "unknown EXR compression"),
    ("half", "zipp", "unknown EXR compression"), ("half", "zip:4", "give the method alone"),
])
def test_output_format_refuses_what_it_cannot_write(pixel_type, compression, message):
    with pytest.raises(ValueError, match=message):
        OutputFormat(pixel_type, compression)


def test_header_metadata_names_tool_weights_prompts_source_and_frame(tmp_path):
    source = plate_file(tmp_path / "plates" / "shot.1042.exr")
    plate = read_plate(source, frame=1042)
    names = ["car", "my car"]
    writer = MatteWriter(tmp_path / "m.####.exr", names, PROVENANCE)
    written = ExrFile(writer.write(1042, {"car": noise_matte(plate.display_window, 1)}, plate.display_window, plate))
    assert written.attribute("rmpsam/version") == __version__
    assert written.attribute("rmpsam/weightsDigest") == PROVENANCE.weights_digest
    assert written.attribute("rmpsam/promptsDigest") == PROVENANCE.prompts_digest
    assert written.attribute("rmpsam/sourceFrame") == str(source.resolve())
    assert written.attribute("rmpsam/frame") == 1042
    assert json.loads(written.attribute("rmpsam/layers")) == {"car": "car", "my car": "my_car"}


def test_output_frame_numbers_are_the_input_frame_numbers(tmp_path):
    frames = [998, 999, 1000, 1001, 1003, 10000]  # a gap, and a frame wider than the padding
    writer = MatteWriter(tmp_path / "out" / "matte.%04d.exr", ["car"], PROVENANCE)
    for frame in frames:
        plate = read_plate(plate_file(tmp_path / "plates" / f"shot.{frame:04d}.exr"), frame=frame)
        matte = np.full(plate.display_window.shape, (frame % 100) / 100.0, dtype=np.float32)
        writer.write(frame, {"car": matte}, plate.display_window, plate)
    assert files_in(tmp_path / "out") == sorted(f"matte.{frame:04d}.exr" for frame in frames)
    assert find_sequence(tmp_path / "out" / "matte.####.exr").present == tuple(frames)
    for frame in frames:
        written = ExrFile(tmp_path / "out" / f"matte.{frame:04d}.exr")
        assert written.attribute("rmpsam/frame") == frame
        assert written.channel("car.A").mean() == pytest.approx((frame % 100) / 100.0, abs=HALF_ROUNDING)


@pytest.mark.parametrize("pattern", ["matte.exr", "matte.####.png", "matte.####.tif"])
def test_output_pattern_must_be_a_padded_exr(tmp_path, pattern):
    with pytest.raises(ValueError, match="output pattern"):
        MatteWriter(tmp_path / pattern, ["car"], PROVENANCE)


# --- layer names --------------------------------------------------------------------------------


def test_layer_names_are_sanitised_unique_and_read_as_their_own_layer_in_nuke(tmp_path):
    names = ["car", "car!", "car?", "2 pedestrians", "rgba", "дом", "", "left.arm", "depth", "other", "Ci", "car_2"]
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    writer = MatteWriter(tmp_path / "m.####.exr", names, PROVENANCE)
    mattes = {name: np.full(plate.display_window.shape, (index + 1) / 16.0, dtype=np.float32)
              for index, name in enumerate(names)}
    written = ExrFile(writer.write(1, mattes, plate.display_window, plate))

    layers = writer.layer_names
    assert len(set(layers.values())) == len(names)
    assert sorted(written.channel_names) == sorted(f"{layers[name]}.A" for name in names)
    for name in names:
        layer = layers[name]
        assert layer.isascii() and (layer[0].isalpha() or layer[0] == "_")
        assert all(char.isalnum() or char == "_" for char in layer)
        assert layer not in ("rgba", "depth", "other", "Ci")
        # Nuke shows the channel under exactly the layer name written, as <layer>.alpha.
        assert nuke_channel_name(f"{layer}.A") == (layer, "alpha")
        np.testing.assert_array_equal(written.channel(f"{layer}.A"), mattes[name])  # k/16 is exact in half
    assert layers["car"] == "car" and layers["2 pedestrians"] == "_2_pedestrians"
    assert layers["car!"] == "car_" and layers["car?"] == "car__2"
    assert layers["car_2"] != layers["car"]
    assert json.loads(written.attribute("rmpsam/layers")) == layers


def test_sanitised_names_avoid_the_passthrough_and_cryptomatte_layers(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", channels=("beauty.R", "beauty.G", "beauty.B")),
                       "beauty")
    names = ["beauty", "CryptoObject", "CryptoObject00", "car"]
    writer = MatteWriter(tmp_path / "m.####.exr", names, PROVENANCE, passthrough_layer="beauty",
                         cryptomatte_layer="CryptoObject")
    written = ExrFile(writer.write(1, {}, plate.display_window, plate))
    assert_nuke_friendly(written.channel_names)  # nothing in Nuke's `other`, no two channels merged
    nuke_names = [nuke_channel_name(name) for name in written.channel_names]
    assert len(set(nuke_names)) == len(nuke_names), "two channels would merge in Nuke"
    assert OTHER_LAYER not in {layer for layer, _ in nuke_names}
    assert writer.layer_names["beauty"] != "beauty"
    assert writer.layer_names["CryptoObject00"] != "CryptoObject00"
    assert {layer for layer, _ in nuke_names} == {"beauty", "CryptoObject00", "CryptoObject01", "car",
                                                   writer.layer_names["beauty"], writer.layer_names["CryptoObject"],
                                                   writer.layer_names["CryptoObject00"]}
    assert sorted(channel for layer, channel in nuke_names if layer == "beauty") == ["blue", "green", "red"]


def test_layer_names_are_stable_and_report_every_name():
    names = ["a b", "a_b", "a-b", "9", "9"]
    first = output_layer_names(names, cryptomatte_layer=None)
    assert first == output_layer_names(names, cryptomatte_layer=None)
    assert list(first) == ["a b", "a_b", "a-b", "9"]  # one entry per distinct instance name
    assert first["a b"] == "a_b" and first["a_b"] == "a_b_2" and first["a-b"] == "a_b_3" and first["9"] == "_9"


def test_writer_refuses_an_instance_name_given_twice(tmp_path):
    with pytest.raises(ValueError, match=r"unique.*'car'"):
        MatteWriter(tmp_path / "m.####.exr", ["car", "tree", "car"], PROVENANCE)


# --- mattes given on another window, missing, out of range -----------------------------------


def test_an_instance_without_a_matte_gets_an_empty_layer_and_values_are_clipped(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    writer = MatteWriter(tmp_path / "m.####.exr", ["car", "gone"], PROVENANCE)
    wild = np.linspace(-0.5, 1.5, plate.display_window.width * plate.display_window.height, dtype=np.float32)
    written = ExrFile(writer.write(1, {"car": wild.reshape(plate.display_window.shape)}, plate.display_window, plate))
    assert sorted(written.channel_names) == ["car.A", "gone.A"]
    assert (written.channel("gone.A") == 0).all()
    assert written.channel("car.A").min() == 0.0 and written.channel("car.A").max() == 1.0
    with pytest.raises(ValueError, match="not set up for"):
        writer.write(1, {"truck": wild.reshape(plate.display_window.shape)}, plate.display_window, plate)
    with pytest.raises(ValueError, match="at least one instance"):
        MatteWriter(tmp_path / "m.####.exr", [], PROVENANCE)


# --- windows and pixel aspect -------------------------------------------------------------------


def test_windows_and_pixel_aspect_are_the_plates(tmp_path):
    display = Window(0, 0, 80, 45)
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display, pixel_aspect=2.0))
    matte = soft_disc(display, (40, 22), 12)
    written = ExrFile(MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE).write(1, {"car": matte}, display, plate))
    assert written.display_window == display and written.data_window == display
    assert written.attribute("PixelAspectRatio") == pytest.approx(2.0)


def test_display_window_not_at_the_origin_is_kept(tmp_path):
    display = Window(100, 50, 48, 32)  # e.g. a 2K extraction whose display window starts off the origin
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display))
    matte = soft_disc(display, (124, 66), 10)
    written = ExrFile(MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE).write(1, {"car": matte}, display, plate))
    assert written.display_window == display and written.data_window == display
    np.testing.assert_allclose(written.channel("car.A"), matte, atol=HALF_ROUNDING)


def test_a_cropped_data_window_is_written_as_the_full_display_window(tmp_path):
    display, crop = Window(0, 0, 64, 36), Window(10, 5, 30, 20)
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display, crop))
    matte = soft_disc(display, (5, 5), 12)  # reaches outside the plate's stored pixels
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, overscan=True)
    written = ExrFile(writer.write(1, {"car": matte}, display, plate))
    assert written.display_window == display and written.data_window == display
    np.testing.assert_allclose(written.channel("car.A"), matte, atol=HALF_ROUNDING)


@pytest.mark.parametrize("aspect", [1.0, 2.0, 1.33])
def test_overscan_plate_written_with_and_without_overscan(tmp_path, aspect):
    display, data = Window(0, 0, 72, 40), Window(-8, -6, 90, 50)
    source = plate_file(tmp_path / "plate.0001.exr", display, data, pixel_aspect=aspect)
    plate = read_plate(source, overscan=True)
    assert plate.window == data
    matte = soft_disc(data, (-2, 20), 14)  # centred in the left overscan, reaching into the frame

    cropped = ExrFile(MatteWriter(tmp_path / "crop" / "m.####.exr", ["car"], PROVENANCE).write(1, {"car": matte}, data, plate))
    assert cropped.display_window == display and cropped.data_window == display
    np.testing.assert_allclose(cropped.channel("car.A"), reframe(matte, data, display), atol=HALF_ROUNDING)

    writer = MatteWriter(tmp_path / "over" / "m.####.exr", ["car"], PROVENANCE, overscan=True)
    assert writer.output_window(plate) == data
    kept = ExrFile(writer.write(1, {"car": matte}, data, plate))
    assert kept.display_window == display and kept.data_window == data
    assert kept.attribute("PixelAspectRatio") == pytest.approx(aspect)
    np.testing.assert_allclose(kept.channel("car.A"), matte, atol=HALF_ROUNDING)
    assert kept.channel("car.A")[:, :8].max() == 1.0  # the overscan part of the matte survived


# --- passthrough ---------------------------------------------------------------------------------


def test_passthrough_of_the_rgba_plate_keeps_channels_types_and_pixels(tmp_path):
    source = plate_file(tmp_path / "plate.0001.exr", pixel_type="float")
    plate = read_plate(source)
    matte = soft_disc(plate.display_window, (30, 18), 10)
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, passthrough_layer="rgba")
    written = ExrFile(writer.write(1, {"car": matte}, plate.display_window, plate))
    assert sorted(written.channel_names) == ["A", "B", "G", "R", "car.A"]
    assert written.pixel_types == {"R": "float", "G": "float", "B": "float", "A": "float", "car.A": "half"}
    original = ExrFile(source)
    for channel in "RGBA":
        np.testing.assert_array_equal(written.channel(channel), original.channel(channel))
    np.testing.assert_allclose(written.channel("car.A"), matte, atol=HALF_ROUNDING)


def test_passthrough_of_a_named_layer_with_overscan(tmp_path):
    display, data = Window(0, 0, 48, 30), Window(-4, -4, 56, 38)
    channels = ("R", "G", "B", "beauty.R", "beauty.G", "beauty.B")
    source = plate_file(tmp_path / "plate.0001.exr", display, data, channels=channels)
    plate = read_plate(source, "beauty", overscan=True)
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, passthrough_layer="beauty", overscan=True)
    written = ExrFile(writer.write(1, {"car": soft_disc(data, (10, 10), 8)}, data, plate))
    assert sorted(written.channel_names) == ["beauty.B", "beauty.G", "beauty.R", "car.A"]
    assert written.data_window == data and written.display_window == display
    original = ExrFile(source)
    for channel in ("beauty.R", "beauty.G", "beauty.B"):
        np.testing.assert_array_equal(written.channel(channel), original.channel(channel))
        assert written.pixel_types[channel] == "half"


def test_passthrough_of_an_integer_plate_is_half(tmp_path):
    pixels = np.random.default_rng(4).random((20, 30, 3), dtype=np.float32)
    plate = read_plate(write_image(tmp_path / "plate.0001.tif", pixels, "uint16"))
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, passthrough_layer="rgba")
    written = ExrFile(writer.write(1, {}, plate.display_window, plate))
    assert written.pixel_types == {"R": "half", "G": "half", "B": "half", "car.A": "half"}
    np.testing.assert_allclose(np.stack([written.channel(c) for c in "RGB"], axis=-1), pixels, atol=2**-11 + 1e-5)


def test_passthrough_refuses_a_plate_of_another_layer(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    writer = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, passthrough_layer="beauty")
    with pytest.raises(ValueError, match="not the passthrough layer"):
        writer.write(1, {}, plate.display_window, plate)


# --- Cryptomatte through the writer --------------------------------------------------------------


def test_cryptomatte_is_float32_beside_half_mattes_and_decodes_back(tmp_path):
    display = Window(0, 0, 96, 64)
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display))
    names = ["car", "person/left arm", "tree, \"oak\""]
    mattes = {
        "car": soft_disc(display, (40, 30), 20) * 0.6,
        "person/left arm": soft_disc(display, (55, 32), 18) * 0.3,
        "tree, \"oak\"": soft_disc(display, (48, 26), 15) * 0.1,
    }
    writer = MatteWriter(tmp_path / "m.####.exr", names, PROVENANCE, cryptomatte_layer="CryptoObject")
    path = writer.write(1, mattes, display, plate)
    written = ExrFile(path)
    crypto = sorted(name for name in written.channel_names if name.startswith("CryptoObject"))
    assert crypto == sorted(f"CryptoObject{n:02d}.{c}" for n in range(2) for c in "RGBA")  # 4 ranks for 3 instances
    assert all(written.pixel_types[name] == "float" for name in crypto)
    assert all(written.pixel_types[f"{writer.layer_names[name]}.A"] == "half" for name in names)
    assert written.attribute("compression") == "zip"

    (info,) = find_layers(path)
    assert info.name == "CryptoObject"
    assert info.manifest == {name: name_to_id(name).hex for name in names}
    total = np.sum(list(mattes.values()), axis=0)
    assert total.max() <= 1.0
    layers = {name: written.channel(f"{writer.layer_names[name]}.A") for name in names}
    rounded_past_one = np.sum(list(layers.values()), axis=0) > 1.0  # shares normalised there
    assert 0 < rounded_past_one.mean() < 0.1
    for name, matte in mattes.items():
        np.testing.assert_allclose(layers[name], matte, atol=2.5e-4, err_msg=name)  # rounded to half
        # Encoded from the layer as stored: the picked matte is the layer, bit for bit.
        stored = np.where(layers[name] < COVERAGE_FLOOR, 0.0, layers[name])
        picked = extract_matte(path, "CryptoObject", [name])
        np.testing.assert_array_equal(picked[~rounded_past_one], stored[~rounded_past_one], err_msg=name)
        np.testing.assert_allclose(picked, stored, atol=1e-4, err_msg=name)


def test_a_sigmoid_tail_leaves_the_cryptomatte_background_empty(tmp_path):
    """A network's matte is 1e-7, not 0, far from the object: the Cryptomatte must not claim those pixels."""
    display = Window(0, 0, 64, 48)
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display))
    disc = soft_disc(display, (30, 24), 10)
    matte = np.maximum(disc, 1e-7).astype(np.float32)
    path = MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, cryptomatte_layer="CryptoObject").write(
        1, {"car": matte}, display, plate)
    written = ExrFile(path)
    background = disc < COVERAGE_FLOOR
    assert background.mean() > 0.5
    assert (written.channel("CryptoObject00.R")[background] == 0.0).all()  # id 0: the picker finds nothing
    assert (written.channel("CryptoObject00.G")[background] == 0.0).all()
    layer = written.channel("car.A")
    np.testing.assert_allclose(layer[~background], disc[~background], atol=2.5e-4)  # rounded to half
    np.testing.assert_array_equal(extract_matte(path, "CryptoObject", ["car"])[~background], layer[~background])
    assert (written.channel("car.A") > 0).mean() > 0.99  # the matte layer itself is stored as given


def test_cryptomatte_beside_float_mattes_stays_float32(tmp_path):
    """All-float files are the case where OpenImageIO would ignore per-channel types."""
    display = Window(0, 0, 40, 24)
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr", display))
    mattes = {"car": soft_disc(display, (20, 12), 8) * 0.7, "tree": soft_disc(display, (24, 12), 8) * 0.3}
    writer = MatteWriter(tmp_path / "m.####.exr", list(mattes), PROVENANCE,
                         output_format=OutputFormat("float", "zips"), cryptomatte_layer="CryptoMatte")
    path = writer.write(1, mattes, display, plate)
    written = ExrFile(path)
    assert set(written.pixel_types.values()) == {"float"} and written.attribute("compression") == "zips"
    for name, matte in mattes.items():
        np.testing.assert_array_equal(written.channel(f"{name}.A"), matte)
        stored = np.where(matte < COVERAGE_FLOOR, 0.0, matte)
        np.testing.assert_allclose(extract_matte(path, "CryptoMatte", [name]), stored, atol=1e-6)


def test_cryptomatte_refuses_lossy_compression(tmp_path):
    with pytest.raises(ValueError, match="lossless"):
        MatteWriter(tmp_path / "m.####.exr", ["car"], PROVENANCE, output_format=OutputFormat("half", "dwaa"),
                    cryptomatte_layer="CryptoObject")


# --- atomic writes and unwritable output -----------------------------------------------------------


def test_no_partial_file_is_left_and_the_hidden_name_is_not_part_of_the_sequence(tmp_path, monkeypatch):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    out = tmp_path / "out"
    writer = MatteWriter(out / "matte.####.exr", ["car"], PROVENANCE)
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def watching_replace(source, destination):
        seen_before_rename.append(files_in(out))
        real_replace(source, destination)

    monkeypatch.setattr("rmpsam_plugin.mattes.writer.os.replace", watching_replace)
    writer.write(1, {"car": noise_matte(plate.display_window, 1)}, plate.display_window, plate)
    assert seen_before_rename == [[f".matte.0001.exr.{os.getpid()}.partial"]]  # never a half-written final name
    assert files_in(out) == ["matte.0001.exr"]


def test_failed_write_keeps_the_previous_frame_and_leaves_no_partial(tmp_path, monkeypatch):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    out = tmp_path / "out"
    writer = MatteWriter(out / "matte.####.exr", ["car"], PROVENANCE)
    first = noise_matte(plate.display_window, 1)
    path = writer.write(1, {"car": first}, plate.display_window, plate)
    before = path.read_bytes()

    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rmpsam_plugin.mattes.writer.os.replace", failing_replace)
    with pytest.raises(OutputError, match=r"cannot write .*matte\.0001\.exr: No space left on device") as caught:
        writer.write(1, {"car": noise_matte(plate.display_window, 2)}, plate.display_window, plate)
    assert caught.value.frame == 1 and caught.value.path == path
    assert path.read_bytes() == before
    assert files_in(out) == ["matte.0001.exr"]


def test_a_killed_writers_partial_is_removed_when_the_frame_is_written(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    out = tmp_path / "out"
    out.mkdir()
    (out / ".matte.0001.exr.99999.partial").write_bytes(b"half a frame")
    (out / ".matte.0002.exr.99999.partial").write_bytes(b"another frame's leftovers")
    MatteWriter(out / "matte.####.exr", ["car"], PROVENANCE).write(
        1, {"car": noise_matte(plate.display_window, 1)}, plate.display_window, plate)
    assert files_in(out) == [".matte.0002.exr.99999.partial", "matte.0001.exr"]
    assert find_sequence(out / "matte.####.exr").present == (1,)


def test_rewriting_a_frame_replaces_it(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    writer = MatteWriter(tmp_path / "matte.####.exr", ["car"], PROVENANCE)
    writer.write(1, {"car": np.zeros(plate.display_window.shape, np.float32)}, plate.display_window, plate)
    path = writer.write(1, {"car": np.ones(plate.display_window.shape, np.float32)}, plate.display_window, plate)
    assert (ExrFile(path).channel("car.A") == 1.0).all()


def test_output_directory_under_a_regular_file_is_an_output_error(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    blocker = tmp_path / "renders"
    blocker.write_text("a file where the output folder should be")
    writer = MatteWriter(blocker / "car" / "matte.####.exr", ["car"], PROVENANCE)
    with pytest.raises(OutputError, match=r"cannot create output directory .*renders/car") as caught:
        writer.write(7, {"car": noise_matte(plate.display_window, 1)}, plate.display_window, plate)
    assert caught.value.frame == 7 and "\n" not in str(caught.value)
    assert blocker.read_text() == "a file where the output folder should be"


def test_output_path_that_is_a_directory_is_an_output_error(tmp_path):
    plate = read_plate(plate_file(tmp_path / "plate.0001.exr"))
    (tmp_path / "matte.0003.exr").mkdir()  # the frame's name is taken by a folder
    writer = MatteWriter(tmp_path / "matte.####.exr", ["car"], PROVENANCE)
    with pytest.raises(OutputError, match=r"matte\.0003\.exr") as caught:
        writer.write(3, {"car": noise_matte(plate.display_window, 1)}, plate.display_window, plate)
    assert caught.value.frame == 3 and "\n" not in str(caught.value)
    assert [name for name in files_in(tmp_path) if name.endswith(".partial")] == []
