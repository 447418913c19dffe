"""The ZIP/ZIPS writer of matte files against OpenEXR's own writer: the same pixels and header, read
back by both OpenEXR and OpenImageIO, bit for bit."""

from __future__ import annotations

import numpy as np
import OpenEXR
import OpenImageIO as oiio
import pytest

from rmpsam_plugin.images.exr_output import write_with_openexr
from rmpsam_plugin.images.exr_zip_writer import write_zip_exr
from rmpsam_plugin.images.geometry import Window

DATA = Window(-5, 3, 53, 37)  # 37 lines: the last ZIP chunk is short; an offset origin like overscan
DISPLAY = Window(0, 0, 48, 30)
LONG_NAME = "an_instance_name_longer_than_31_bytes.A"  # needs the long-names flag in the version field


def channels() -> dict[str, np.ndarray]:
    """Empty chunks, a solid matte with soft edges, incompressible noise (stored raw), hash-like floats."""
    rng = np.random.default_rng(4)
    matte = np.zeros(DATA.shape, np.float32)
    matte[17:30, 6:40] = 1.0
    matte[16, 6:40] = 0.5
    noise = np.zeros(DATA.shape, np.float32)
    noise[:16] = rng.random((16, DATA.width))
    return {
        "car.A": matte.astype(np.float16),
        LONG_NAME: noise.astype(np.float16),
        "CryptoObject00.R": np.where(matte > 0, np.float32(3.1e-12), np.float32(0)).astype(np.float32),
        "CryptoObject00.G": matte,
        "CryptoObject00.A": matte,  # one plane under two names, as a Cryptomatte's empty ranks share one
        "Z": np.zeros(DATA.shape, np.float32),
    }


METADATA = {"rmpsam/frame": 1001, "rmpsam/sourceFrame": "/plates/é.exr", "rmpsam/score": 0.25,
            "cryptomatte/abcdef0/manifest": '{"car":"2d6ba7b2"}'}


def _write(writer, path, compression: str) -> None:
    writer(str(path), channels(), compression=compression, data_window=DATA, display_window=DISPLAY, pixel_aspect=2.0,
           metadata=METADATA)


def _comparable(value):
    """Header values with numpy arrays (windows, vectors) as lists, so headers compare with ==."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return [_comparable(item) for item in value] if isinstance(value, tuple) else value


def _read_with_openexr(path) -> tuple[dict, dict[str, np.ndarray]]:
    """The header (channel list aside: its objects compare by identity; channels are compared by
    name, type and pixels instead) and the planes."""
    with OpenEXR.File(str(path), separate_channels=True) as exr_file:
        header = {key: _comparable(value) for key, value in exr_file.parts[0].header.items() if key != "channels"}
        return header, {name: channel.pixels.copy() for name, channel in exr_file.channels().items()}


@pytest.mark.parametrize("compression", ["zip", "zips"])
def test_files_match_openexrs_own_writer_bit_for_bit(tmp_path, compression):
    _write(write_zip_exr, tmp_path / "ours.exr", compression)
    _write(write_with_openexr, tmp_path / "openexr.exr", compression)
    ours_header, ours = _read_with_openexr(tmp_path / "ours.exr")
    their_header, theirs = _read_with_openexr(tmp_path / "openexr.exr")
    assert ours_header == their_header
    assert sorted(ours) == sorted(theirs) == sorted(channels())
    for name, plane in channels().items():
        assert ours[name].dtype == plane.dtype and np.array_equal(ours[name].view(np.uint8), plane.view(np.uint8)), name

    image = oiio.ImageInput.open(str(tmp_path / "ours.exr"))
    spec = image.spec()
    pixels = image.read_image(0, 0, 0, spec.nchannels, "float").reshape(spec.height, spec.width, spec.nchannels)
    image.close()
    assert (Window.data_of(spec), Window.display_of(spec)) == (DATA, DISPLAY)
    assert spec.getattribute("compression") == compression and spec.getattribute("rmpsam/sourceFrame") == "/plates/é.exr"
    for name, plane in channels().items():
        np.testing.assert_array_equal(pixels[..., spec.channelnames.index(name)], plane.astype(np.float32))


def test_empty_chunks_cost_a_few_bytes_and_the_file_stays_near_openexrs_size(tmp_path):
    empty = {"car.A": np.zeros((1080, 2048), np.float16), "CryptoObject00.R": np.zeros((1080, 2048), np.float32)}
    window = Window(0, 0, 2048, 1080)
    for writer, name in ((write_zip_exr, "ours.exr"), (write_with_openexr, "openexr.exr")):
        writer(str(tmp_path / name), empty, compression="zip", data_window=window, display_window=window,
               pixel_aspect=1.0, metadata={})
    ours, theirs = (tmp_path / "ours.exr").stat().st_size, (tmp_path / "openexr.exr").stat().st_size
    assert ours < 20_000 and ours <= 1.25 * theirs  # 6.3 MB of zeros in 68 chunks of one short deflate each
    _, planes = _read_with_openexr(tmp_path / "ours.exr")
    assert not planes["car.A"].any() and not planes["CryptoObject00.R"].any()


@pytest.mark.parametrize(("value", "message"), [(True, "a boolean has no EXR type"), ([1, 2], "list values are not written")])
def test_metadata_without_an_exr_type_is_refused_naming_the_attribute(tmp_path, value, message):
    with pytest.raises(ValueError, match=f"header attribute rmpsam/odd: {message}"):
        write_zip_exr(str(tmp_path / "f.exr"), channels(), compression="zip", data_window=DATA, display_window=DISPLAY,
                      pixel_aspect=1.0, metadata={"rmpsam/odd": value})
