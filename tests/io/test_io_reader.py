"""Reading plates: formats, layers, windows, pixel aspect, bad files, NaN/Inf."""

import threading
import time

import numpy as np
import pytest
from plate_files import truncate, write_exr, write_image, write_multipart

from rmpsam_plugin.errors import LayerNotFoundError, PlateError
from rmpsam_plugin.images import reader as image_reader
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.reader import LARGE_FINITE, read_header, read_plate

HALF_STEP = 2.0**-10  # relative precision of half floats in [0.5, 1)


def _ramp(height=24, width=40, channels=4):
    """Distinct values per pixel and channel, exactly representable in half where it matters."""
    ys, xs, cs = np.mgrid[0:height, 0:width, 0:channels]
    return ((xs + 3 * ys + 7 * cs) % 97 / 97.0).astype(np.float32)


@pytest.mark.parametrize("compression", ["none", "zip", "zips", "piz", "rle", "pxr24", "dwaa"])
def test_exr_compressions_read_back(tmp_path, compression):
    pixels = _ramp()
    plate = read_plate(write_exr(tmp_path / "p.exr", pixels, compression=compression))
    tolerance = 0.02 if compression == "dwaa" else HALF_STEP  # DWA quantises colour channels
    np.testing.assert_allclose(plate.pixels, pixels, atol=tolerance)
    assert plate.header.compression.startswith(compression)
    assert plate.layer.components == ("R", "G", "B", "A") and plate.pixels.dtype == np.float32


def test_tiled_float_exr(tmp_path):
    pixels = _ramp(50, 70)
    plate = read_plate(write_exr(tmp_path / "t.exr", pixels, pixel_type="float", tile=(16, 16)))
    assert plate.header.tile_size == (16, 16) and plate.header.pixel_types == ("float",) * 4
    np.testing.assert_array_equal(plate.pixels, pixels)


@pytest.mark.parametrize("ext, pixel_type, tolerance", [
    ("png", "uint8", 0.5 / 255), ("tif", "uint16", 0.5 / 65535), ("dpx", "uint16", 0.5 / 65535),
    ("jpg", "uint8", 0.06),  # lossy
])
def test_integer_formats(tmp_path, ext, pixel_type, tolerance):
    pixels = _ramp(channels=3)
    plate = read_plate(write_image(tmp_path / f"p.{ext}", pixels, pixel_type))
    assert plate.layer.name == "rgba" and plate.layer.components == ("R", "G", "B")
    assert not plate.header.is_float
    assert np.abs(plate.pixels - pixels).mean() < tolerance


def test_named_layer_in_single_part_and_nuke_suffixes(tmp_path):
    pixels = _ramp(channels=7)
    path = write_exr(tmp_path / "l.exr", pixels,
                     channels=("R", "G", "B", "A", "beauty.red", "beauty.green", "beauty.blue"))
    header = read_header(path)
    assert sorted(header.layers) == ["beauty", "rgba"]
    beauty = read_plate(path, "beauty")
    assert beauty.layer.components == ("R", "G", "B")
    assert beauty.layer.channel_names == ("beauty.red", "beauty.green", "beauty.blue")
    np.testing.assert_allclose(beauty.pixels, pixels[..., 4:7], atol=HALF_STEP)
    np.testing.assert_allclose(read_plate(path).pixels, pixels[..., :4], atol=HALF_STEP)


def test_multipart_layers_by_part_name(tmp_path):
    rgba, beauty, diffuse = _ramp(16, 24, 4), _ramp(16, 24, 3) * 0.5, _ramp(16, 24, 3) * 0.25
    path = write_multipart(tmp_path / "mp.exr", [
        ("rgba", ("R", "G", "B", "A"), rgba),
        ("beauty", ("R", "G", "B"), beauty),  # bare channels: the part names the layer
        ("diffuse", ("diffuse.R", "diffuse.G", "diffuse.B"), diffuse),
    ])
    header = read_header(path)
    assert header.subimage_names == ("rgba", "beauty", "diffuse")
    assert sorted(header.layers) == ["beauty", "diffuse", "rgba"]
    for name, expected, part in (("rgba", rgba, 0), ("beauty", beauty, 1), ("diffuse", diffuse, 2)):
        plate = read_plate(path, name)
        assert plate.layer.subimage == part
        np.testing.assert_allclose(plate.pixels, expected, atol=HALF_STEP)


def test_unknown_layer_lists_the_layers_present(tmp_path):
    path = write_exr(tmp_path / "l.exr", _ramp(channels=5), channels=("R", "G", "B", "A", "Z"))
    with pytest.raises(LayerNotFoundError) as caught:
        read_plate(path, "beauty", frame=12)
    assert caught.value.available == ["depth", "rgba"]
    assert caught.value.frame == 12 and caught.value.path == path
    assert str(caught.value) == f"layer 'beauty' not found in {path}; layers: depth, rgba"


def test_data_window_inside_display_window_is_zero_filled(tmp_path):
    data = Window(10, 5, 20, 8)
    pixels = _ramp(8, 20) + 0.01
    plate = read_plate(write_exr(tmp_path / "crop.exr", pixels, data_window=data, display_window=Window(0, 0, 40, 24)))
    assert plate.window == Window(0, 0, 40, 24) and plate.data_window == data
    np.testing.assert_allclose(plate.pixels[5:13, 10:30], pixels, atol=HALF_STEP)
    outside = np.ones((24, 40), bool)
    outside[5:13, 10:30] = False
    assert np.count_nonzero(plate.pixels[outside]) == 0


def test_overscan_is_cropped_unless_asked_for(tmp_path):
    display, data = Window(0, 0, 32, 16), Window(-4, -2, 40, 20)
    pixels = _ramp(20, 40)
    path = write_exr(tmp_path / "over.exr", pixels, data_window=data, display_window=display)
    cropped = read_plate(path)
    assert cropped.window == display
    np.testing.assert_allclose(cropped.pixels, pixels[2:18, 4:36], atol=HALF_STEP)
    overscan = read_plate(path, overscan=True)
    assert overscan.window == data
    np.testing.assert_allclose(overscan.pixels, pixels, atol=HALF_STEP)


def test_data_window_partly_outside_display_window(tmp_path):
    """Overscan on one side, crop on the other: the union is what overscan reads."""
    display, data = Window(0, 0, 32, 16), Window(20, -3, 20, 10)
    pixels = _ramp(10, 20) + 0.01
    plate = read_plate(write_exr(tmp_path / "shift.exr", pixels, data_window=data, display_window=display),
                       overscan=True)
    assert plate.window == Window(0, -3, 40, 19)
    np.testing.assert_allclose(plate.pixels[0:10, 20:40], pixels, atol=HALF_STEP)
    assert np.count_nonzero(plate.pixels[10:, :]) == 0


def test_pixel_aspect_from_header(tmp_path):
    for aspect in (2.0, 1.33):
        plate = read_plate(write_exr(tmp_path / f"a{aspect}.exr", _ramp(), pixel_aspect=aspect))
        assert plate.pixel_aspect == pytest.approx(aspect)


def test_nan_and_inf_are_replaced_and_counted(tmp_path):
    pixels = _ramp()
    pixels[0, 0, 0], pixels[1, 1, 1], pixels[2, 2, 2] = np.nan, np.inf, -np.inf
    plate = read_plate(write_exr(tmp_path / "nan.exr", pixels, pixel_type="float"))
    assert plate.nonfinite_count == 3
    assert (plate.pixels[0, 0, 0], plate.pixels[1, 1, 1], plate.pixels[2, 2, 2]) == (0.0, LARGE_FINITE, -LARGE_FINITE)
    assert np.isfinite(plate.pixels).all()
    assert read_plate(write_exr(tmp_path / "ok.exr", _ramp())).nonfinite_count == 0


def test_truncated_file_names_the_file(tmp_path):
    pixels = np.random.default_rng(1).random((64, 64, 4), dtype=np.float32)
    path = truncate(write_exr(tmp_path / "cut.0007.exr", pixels), keep=0.6)
    with pytest.raises(PlateError, match=r"truncated or corrupt pixel data in .*cut\.0007\.exr") as caught:
        read_plate(path, frame=7)
    assert caught.value.frame == 7 and "\n" not in str(caught.value)


def test_unreadable_and_missing_files_name_the_file(tmp_path):
    garbage = tmp_path / "garbage.exr"
    garbage.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(PlateError, match=r"cannot read .*garbage\.exr"):
        read_plate(garbage)
    with pytest.raises(PlateError, match=r"no such file: .*absent\.exr"):
        read_header(tmp_path / "absent.exr")


def test_a_directory_in_place_of_a_frame_is_named_as_such(tmp_path):
    folder = tmp_path / "shot.0002.exr"
    folder.mkdir()
    with pytest.raises(PlateError, match=r"not an image file but a directory: .*shot\.0002\.exr") as caught:
        read_plate(folder, frame=2)
    assert caught.value.frame == 2 and caught.value.path == folder


def test_a_file_without_read_permission_is_named_as_such(tmp_path, monkeypatch):
    """chmod 000 does not stop root (tests may run as root), so the permission check is simulated."""
    path = write_exr(tmp_path / "locked.0003.exr", _ramp())
    monkeypatch.setattr("rmpsam_plugin.images.reader.os.access", lambda *args, **kwargs: False)
    with pytest.raises(PlateError, match=r"permission denied: cannot read .*locked\.0003\.exr") as caught:
        read_header(path, frame=3)
    assert caught.value.frame == 3


def _plates_both_ways(monkeypatch, path, **options):
    """The plate as read (OpenEXR's whole-file path where it applies) and through OpenImageIO alone."""
    fast = read_plate(path, **options)
    with monkeypatch.context() as patched:
        patched.setattr(image_reader, "_openexr_reads", lambda *args: False)
        slow = read_plate(path, **options)
    return fast, slow


@pytest.mark.parametrize("options", [
    {"pixel_type": "half"},
    {"pixel_type": "float", "compression": "piz"},
    {"pixel_type": "half", "compression": "dwaa"},
    {"pixel_type": "half", "compression": "pxr24", "channels": ("R", "G", "B")},
    {"pixel_type": "float", "data_window": Window(-6, -3, 52, 30), "display_window": Window(0, 0, 40, 24)},
    {"pixel_type": "half", "data_window": Window(5, 4, 20, 10), "display_window": Window(0, 0, 40, 24)},
    {"pixel_type": "half", "channels": ("beauty.R", "beauty.G", "beauty.B")},
    {"pixel_type": "float", "channels": ("R", "G", "B", "A", "beauty.red", "beauty.green", "beauty.blue")},
])
def test_openexr_and_openimageio_read_identical_pixels(tmp_path, monkeypatch, options):
    channels = options.pop("channels", ("R", "G", "B", "A"))
    window = options.get("data_window") or Window(0, 0, 40, 24)
    pixels = _ramp(window.height, window.width, len(channels))
    middle = (window.height // 2, window.width // 2)
    pixels[middle + (0,)], pixels[middle[0] + 1, middle[1], 1] = np.nan, np.inf  # inside every window
    path = write_exr(tmp_path / "p.exr", pixels, channels=channels, **options)
    header = read_header(path)
    first_layer = header.layers["beauty" if channels[0].startswith("beauty") else "rgba"]  # holds the NaN and Inf
    for layer in header.layers.values():
        assert image_reader._openexr_reads(header, layer)
        for overscan in (False, True):
            fast, slow = _plates_both_ways(monkeypatch, path, layer=layer.name, overscan=overscan)
            np.testing.assert_array_equal(fast.pixels, slow.pixels)
            assert fast.window == slow.window and fast.nonfinite_count == slow.nonfinite_count
            if layer == first_layer and options.get("compression") != "dwaa":  # DWA does not keep them
                assert fast.nonfinite_count == 2


def test_tiled_multipart_and_integer_files_are_read_by_openimageio(tmp_path):
    tiled = write_exr(tmp_path / "t.exr", _ramp(), tile=(16, 16))
    parts = write_multipart(tmp_path / "m.exr", [("rgba", ("R", "G", "B", "A"), _ramp())])
    png = write_image(tmp_path / "p.png", _ramp(channels=3))
    for path in (tiled, parts, png):
        header = read_header(path)
        assert not image_reader._openexr_reads(header, header.layers["rgba"]), path


def test_a_truncated_exr_is_one_error_and_leaves_stdout_clean(tmp_path, capfd):
    """`--progress json` owns stdout, and a farm log wants one line per error."""
    path = truncate(write_exr(tmp_path / "cut.exr", np.random.default_rng(2).random((64, 64, 4), dtype=np.float32)))
    with pytest.raises(PlateError, match="truncated or corrupt pixel data"):
        read_plate(path)
    captured = capfd.readouterr()
    assert captured.out == "" and "EXR_ERR" not in captured.err  # OpenImageIO reports it, once


@pytest.mark.parametrize("channels, components", [
    (("R", "G", "B", "A"), ("R", "G", "B")),
    (("A", "B", "G", "R", "Z"), ("R", "G", "B")),
    (("Y", "A"), ("Y",)),
    (("Z",), ("Z",)),  # no colour channel at all: the whole layer, for the colour code's error to list
])
def test_colour_only_reads_the_channels_colour_comes_from(tmp_path, channels, components):
    pixels = _ramp(channels=len(channels))
    path = write_exr(tmp_path / "p.exr", pixels, channels=channels, pixel_type="float")
    whole = read_plate(path, "depth" if channels == ("Z",) else "rgba")
    colour = read_plate(path, whole.layer.name, colour_only=True)
    assert colour.layer.components == components and colour.pixels.shape[-1] == len(components)
    for position, component in enumerate(components):
        np.testing.assert_array_equal(colour.pixels[..., position], whole.component(component))


def _longest_stall_of_a_python_thread(read) -> float:
    """Seconds of the longest gap between two turns of a Python thread that wakes every
    millisecond, while `read` runs: about the whole decode if the decode holds the GIL."""
    stamps, done = [], threading.Event()

    def tick():
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0.001)

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.005)
    try:
        read()
    finally:
        done.set()
        ticker.join()
    return float(np.diff(stamps).max())


def test_an_rgba_plate_is_decoded_without_holding_the_gil(tmp_path):
    """The job reads plates beside its finishing threads and the network's Python: a decode that
    held the GIL would stop them all (`exr_input`). Compared in the same run with the decode that
    holds it (a layer among other channels), best of three each."""
    noise = np.random.default_rng(3).random((1024, 1024, 4), dtype=np.float32)  # slow to inflate
    rgba = write_exr(tmp_path / "rgba.exr", noise)
    path_with_more = write_exr(tmp_path / "more.exr", np.dstack([noise, noise[..., :2]]),
                               channels=("R", "G", "B", "A", "Z", "other.Y"))
    released = min(_longest_stall_of_a_python_thread(lambda: read_plate(rgba, colour_only=True)) for _ in range(3))
    held = min(_longest_stall_of_a_python_thread(lambda: read_plate(path_with_more, colour_only=True))
               for _ in range(3))
    assert released < held / 3, (released, held)


def test_corrupt_data_in_a_complete_file_names_the_file_and_the_decoder_error(tmp_path):
    path = write_exr(tmp_path / "bad.0004.exr", np.random.default_rng(4).random((64, 64, 4), dtype=np.float32))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 200] = bytes(byte ^ 0x5A for byte in data[middle:middle + 200])
    path.write_bytes(bytes(data))
    with pytest.raises(PlateError, match=r"truncated or corrupt pixel data in .*bad\.0004\.exr: Unable to run decoder"):
        read_plate(path, frame=4, colour_only=True)
