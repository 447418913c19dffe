"""Nuke's EXR channel naming, checked on hand-picked names and on the real fixture files."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from rmpsam_plugin.cryptomatte import encode
from rmpsam_plugin.images.nuke_channels import assert_nuke_friendly, nuke_channel_name


@pytest.mark.parametrize(
    ("exr_name", "expected"),
    [
        ("car.A", ("car", "alpha")),
        ("car.R", ("car", "red")),
        ("car.alpha", ("car", "alpha")),
        ("car.Green", ("car", "green")),
        ("car.BLUE", ("car", "blue")),
        ("car.r", ("car", "red")),
        ("R", ("rgba", "red")),
        ("G", ("rgba", "green")),
        ("B", ("rgba", "blue")),
        ("A", ("rgba", "alpha")),
        ("Z", ("depth", "Z")),
        ("depth.Z", ("depth", "Z")),
        ("Y", ("rgba", "red")),
        ("normals.X", ("normals", "X")),
        ("foo.bar.baz", ("foo_bar", "baz")),
        ("a.b.c.d", ("a_b", "c_d")),
        ("weird", ("other", "weird")),
        ("pscale", ("other", "pscale")),
        ("my layer.A", ("my_layer", "alpha")),
        ("2d.R", ("d", "red")),
        ("007", ("other", "unnamed")),
        ("Ci.R", ("rgba", "red")),
        ("car..A", ("car", "alpha")),
        ("дом.A", ("______", "alpha")),
    ],
)
def test_nuke_channel_name(exr_name, expected):
    assert nuke_channel_name(exr_name) == expected


def test_view_names_are_not_part_of_the_layer():
    views = ["left", "right"]
    assert nuke_channel_name("left.R", views) == ("rgba", "red")
    assert nuke_channel_name("car.right.A", views) == ("car", "alpha")
    assert nuke_channel_name("car.left.A") == ("car_left", "alpha")


def test_encoded_cryptomatte_channels_read_as_red_green_blue_alpha_layers():
    layers = encode({"car": np.ones((2, 2), dtype=np.float32)})
    mapped = [nuke_channel_name(name) for name in layers.channels]
    assert mapped == [
        (f"CryptoObject{number:02d}", channel)
        for number in range(3)
        for channel in ("red", "green", "blue", "alpha")
    ]
    assert_nuke_friendly(layers.channels)


def test_assert_nuke_friendly_names_what_lands_in_other():
    assert_nuke_friendly(["R", "G", "B", "A", "car.A", "truck.A", "depth.Z"])
    with pytest.raises(ValueError, match="'weird' lands in Nuke's 'other' layer"):
        assert_nuke_friendly(["R", "weird"])


def test_assert_nuke_friendly_names_channels_nuke_would_merge():
    with pytest.raises(ValueError, match="'car.A' and 'car.alpha' both become car.alpha"):
        assert_nuke_friendly(["car.A", "car.alpha"])
    with pytest.raises(ValueError, match="both become my_car.alpha"):
        assert_nuke_friendly(["my car.A", "my-car.A"])


def fixture_channel_names(path):
    image = oiio.ImageInput.open(str(path))
    try:
        return list(image.spec().channelnames)
    finally:
        image.close()


@pytest.mark.parametrize(
    "file_name", ["cornellBox_CryptoWildcard.0001.exr", "special_chars.exr", "sidecar_manifest.exr"]
)
def test_renderer_files_read_cleanly_in_nuke(cryptomatte_fixtures, file_name):
    names = fixture_channel_names(cryptomatte_fixtures / file_name)
    assert_nuke_friendly(names)
    layers = {nuke_channel_name(name)[0] for name in names}
    assert all(layer.isidentifier() for layer in layers)


def test_a_bare_aov_name_is_caught(cryptomatte_fixtures):
    """multichannel.exr has a layerless `pscale` AOV: Nuke shows it as other.pscale."""
    names = fixture_channel_names(cryptomatte_fixtures / "multichannel.exr")
    with pytest.raises(ValueError, match="'pscale' lands in Nuke's 'other' layer as other.pscale"):
        assert_nuke_friendly(names)
    assert_nuke_friendly([name for name in names if name != "pscale"])
