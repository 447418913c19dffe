"""The EXR writer under the matte writer: OpenEXR's bindings, checked by reading back with OpenImageIO."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from rmpsam_plugin.images.exr_output import write_exr
from rmpsam_plugin.images.geometry import Window

DATA = Window(-4, -2, 24, 12)  # overscan: the data window starts left of and above the display window
DISPLAY = Window(0, 0, 16, 8)


def planes(seed: int) -> dict[str, tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    return {
        "R": (rng.random(DATA.shape, dtype=np.float32), "half"),
        "car.A": (rng.random(DATA.shape, dtype=np.float32), "half"),
        "CryptoObject00.R": (rng.random(DATA.shape, dtype=np.float32) * 1e-30, "float"),  # hash bits: tiny floats
    }


def test_mixed_half_and_float_round_trip_with_windows_and_metadata(tmp_path):
    path = tmp_path / "f.exr"
    channels = planes(1)
    write_exr(path, channels, data_window=DATA, display_window=DISPLAY, pixel_aspect=2.0, compression="zip",
              metadata={"rmpsam/frame": 1001, "rmpsam/source": "/plates/é.exr", "rmpsam/score": 0.25})
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    pixels = image.read_image(0, 0, 0, spec.nchannels, "float").reshape(spec.height, spec.width, spec.nchannels)
    assert not image.seek_subimage(1, 0)  # one part, like every matte file
    image.close()
    assert (Window.data_of(spec), Window.display_of(spec)) == (DATA, DISPLAY)
    assert spec.getattribute("compression") == "zip" and spec.getattribute("PixelAspectRatio") == 2.0
    assert spec.getattribute("rmpsam/frame") == 1001 and spec.getattribute("rmpsam/source") == "/plates/é.exr"
    assert spec.getattribute("rmpsam/score") == 0.25
    kinds = dict(zip(spec.channelnames, map(str, spec.channelformats)))
    assert kinds == {"CryptoObject00.R": "float", "R": "half", "car.A": "half"}  # EXR lists channels sorted
    for name, (plane, kind) in channels.items():
        expected = plane if kind == "float" else plane.astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(pixels[..., spec.channelnames.index(name)], expected)


@pytest.mark.parametrize(("channels", "message"), [
    ({"car.A": (np.zeros((3, 3), np.float32), "half")}, r"channel car\.A: plane of shape \(3, 3\)"),
    ({"car.A": (np.zeros(DATA.shape, np.float32), "uint8")}, r"channel car\.A: pixel type"),
])
def test_bad_planes_are_refused_naming_the_channel(tmp_path, channels, message):
    with pytest.raises(ValueError, match=message):
        write_exr(tmp_path / "f.exr", channels, data_window=DATA, display_window=DISPLAY, pixel_aspect=1.0,
                  compression="zip", metadata={})
    assert not (tmp_path / "f.exr").exists()


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown EXR compression 'zip:4'"):
        write_exr(tmp_path / "f.exr", planes(2), data_window=DATA, display_window=DISPLAY, pixel_aspect=1.0,
                  compression="zip:4", metadata={})


@pytest.mark.parametrize(("compression", "error"), [("zip", OSError), ("piz", RuntimeError)])
def test_an_unwritable_path_raises_the_writers_message(tmp_path, compression, error):
    """ZIP is written here (OSError), the other compressions by OpenEXR (RuntimeError with its message)."""
    with pytest.raises(error, match="No such file or directory"):
        write_exr(tmp_path / "missing" / "f.exr", planes(3), data_window=DATA, display_window=DISPLAY,
                  pixel_aspect=1.0, compression=compression, metadata={})
