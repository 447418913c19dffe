"""Proof that our Cryptomatte agrees with the format as production renderers write it.

The fixture files are real renders (Arnold, V-Ray) read through OpenImageIO. Expected values are
taken from the files themselves (manifests, header keys, raw rank channels), never from our code.
"""

from __future__ import annotations

import json
from pathlib import Path

import mmh3
import numpy as np
import OpenImageIO as oiio
import pytest

from rmpsam_plugin.cryptomatte import (
    COVERAGE_FLOOR,
    encode,
    extract_matte,
    find_layers,
    layer_key,
    name_to_id,
    validate_output_format,
)
from rmpsam_plugin.cryptomatte import encoder as cryptomatte_encoder

FIXTURE_FILES = [
    "cornellBox_CryptoWildcard.0001.exr",
    "multichannel.exr",
    "special_chars.exr",
    "sidecar_manifest.exr",
]
CORNELL = "cornellBox_CryptoWildcard.0001.exr"
RENDERER_SUFFIXES = ("R", "G", "B", "A")
NUKE_SUFFIXES = ("red", "green", "blue", "alpha")
# (file, layer, channel suffixes the file uses): how each fixture spells its rank channels.
FIXTURE_LAYERS = [
    (CORNELL, "uCryptoWildcard", RENDERER_SUFFIXES),
    ("multichannel.exr", "crypto_asset", RENDERER_SUFFIXES),
    ("multichannel.exr", "crypto_material", RENDERER_SUFFIXES),
    ("multichannel.exr", "crypto_object", RENDERER_SUFFIXES),
    ("special_chars.exr", "special_chars", NUKE_SUFFIXES),
    ("sidecar_manifest.exr", "crypto_asset", NUKE_SUFFIXES),
]
# Arnold stores background samples as ID 0 with coverage, so its ranks always sum to 1.
ARNOLD_LAYERS = [entry for entry in FIXTURE_LAYERS if entry[0] != CORNELL]
FIXTURE_RANK_LAYERS = 3


# --- helpers reading the fixtures directly, independent of the code under test -----------------


def header_attributes(path: Path) -> dict[str, str]:
    image = oiio.ImageInput.open(str(path))
    try:
        return {attribute.name: attribute.value for attribute in image.spec().extra_attribs}
    finally:
        image.close()


def manifests_in(path: Path) -> dict[str, dict[str, str]]:
    """Layer name -> manifest, from the header or the sidecar file the header names."""
    header = header_attributes(path)
    manifests = {}
    for attribute, layer in header.items():
        if not (attribute.startswith("cryptomatte/") and attribute.endswith("/name")):
            continue
        prefix = attribute[: -len("name")]
        if prefix + "manifest" in header:
            manifests[layer] = json.loads(header[prefix + "manifest"])
        else:
            sidecar = path.parent / header[prefix + "manif_file"]
            manifests[layer] = json.loads(sidecar.read_text(encoding="utf-8"))
    return manifests


def raw_channels(path: Path) -> dict[str, np.ndarray]:
    image = oiio.ImageBuf(str(path))
    pixels = image.get_pixels(oiio.FLOAT)
    return {name: pixels[:, :, index] for index, name in enumerate(image.spec().channelnames)}


def raw_rank_planes(channels: dict[str, np.ndarray], layer: str, suffixes: tuple[str, ...]):
    """(id bits, coverage) per rank, spelled out channel by channel."""
    ranks = []
    for number in range(FIXTURE_RANK_LAYERS):
        id_a, cov_a, id_b, cov_b = (channels[f"{layer}{number:02d}.{suffix}"] for suffix in suffixes)
        ranks += [(id_a.view(np.uint32), cov_a), (id_b.view(np.uint32), cov_b)]
    return ranks


def stored_coverage(ranks, id_bits: int) -> np.ndarray:
    total = np.zeros(ranks[0][1].shape, dtype=np.float64)
    for ids, coverage in ranks:
        total += np.where(ids == id_bits, coverage, 0.0)
    return total


# --- IDs and keys against the files' manifests ---------------------------------------------------


@pytest.mark.parametrize("file_name", FIXTURE_FILES)
def test_every_manifest_name_hashes_to_the_manifest_id(cryptomatte_fixtures, file_name):
    manifests = manifests_in(cryptomatte_fixtures / file_name)
    assert manifests, f"{file_name} declares no Cryptomatte"
    for layer, manifest in manifests.items():
        assert manifest, f"{file_name}:{layer} has an empty manifest"
        for name, manifest_hex in manifest.items():
            cid = name_to_id(name)
            assert cid.hex == manifest_hex, (file_name, layer, name)
            assert cid.hash == int(manifest_hex, 16)
            assert np.array(cid.value, dtype=np.float32).view(np.uint32) == int(manifest_hex, 16)


def test_fixture_names_include_the_awkward_characters(cryptomatte_fixtures):
    """The hashing proof above only means something if these cases are really in it."""
    names = [
        name
        for file_name in FIXTURE_FILES
        for manifest in manifests_in(cryptomatte_fixtures / file_name).values()
        for name in manifest
    ]
    for awkward in ['"', "/", ",", " ", "[", "]", "*", "?"]:
        assert any(awkward in name for name in names), awkward
    assert any(any("\u0400" <= char <= "\u04ff" for char in name) for name in names), "no Cyrillic name"


@pytest.mark.parametrize("file_name", FIXTURE_FILES)
def test_layer_keys_in_fixture_metadata_are_our_keys(cryptomatte_fixtures, file_name):
    header = header_attributes(cryptomatte_fixtures / file_name)
    layers = {
        name.split("/")[1]: value
        for name, value in header.items()
        if name.startswith("cryptomatte/") and name.endswith("/name")
    }
    assert layers
    for key, layer in layers.items():
        assert layer_key(layer) == key


def test_ids_match_the_specification_examples():
    """Section "Example code and conversions" of the 1.2 specification."""
    torus = name_to_id("torus")
    assert torus.hash == 4053562365
    assert np.isclose(torus.value, -1.54943624832e30, rtol=1e-9)
    plain = name_to_id("равнина")
    assert plain.hash == 2518896926
    assert np.isclose(plain.value, -1.31926312124e-25, rtol=1e-9)


def test_exponent_fixup_keeps_every_id_a_normal_finite_float():
    """Names whose raw hash has exponent 0 or 255 get the lowest exponent bit flipped."""
    names = [f"instance_{number}" for number in range(3000)]
    raw = {name: mmh3.hash(name.encode("utf-8"), 0, signed=False) for name in names}
    exponents = {name: (bits >> 23) & 0xFF for name, bits in raw.items()}
    fixed = [name for name in names if exponents[name] in (0, 255)]
    assert {exponents[name] for name in fixed} == {0, 255}, "sample lacks one of the two cases"
    for name in names:
        cid = name_to_id(name)
        expected = raw[name] ^ (1 << 23) if name in fixed else raw[name]
        assert cid.hash == expected
        assert cid.hex == f"{expected:08x}"
        assert np.isfinite(cid.value) and abs(cid.value) >= np.finfo(np.float32).tiny


# --- reading real files ------------------------------------------------------------------------


def test_find_layers_reads_every_cryptomatte_and_its_manifest(cryptomatte_fixtures):
    multichannel = find_layers(cryptomatte_fixtures / "multichannel.exr")
    assert [info.name for info in multichannel] == ["crypto_asset", "crypto_material", "crypto_object"]
    expected_manifests = manifests_in(cryptomatte_fixtures / "multichannel.exr")
    for info in multichannel:
        assert info.manifest == expected_manifests[info.name]
        assert info.key == layer_key(info.name)
        assert (info.hash, info.conversion) == ("MurmurHash3_32", "uint32_to_float32")
        assert info.channel_names == tuple(
            f"{info.name}{number:02d}.{suffix}"
            for number in range(FIXTURE_RANK_LAYERS)
            for suffix in RENDERER_SUFFIXES
        )

    (sidecar,) = find_layers(cryptomatte_fixtures / "sidecar_manifest.exr")
    sidecar_file = cryptomatte_fixtures / "sidecar_manifest.crypto_asset.json"
    assert sidecar.manifest_file == sidecar_file.name
    assert sidecar.manifest == json.loads(sidecar_file.read_text(encoding="utf-8"))
    assert sidecar.channel_names[:2] == ("crypto_asset00.red", "crypto_asset00.green")


def test_find_layers_on_an_image_spec_needs_the_folder_for_a_sidecar(cryptomatte_fixtures):
    path = cryptomatte_fixtures / "sidecar_manifest.exr"
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    image.close()
    with pytest.raises(ValueError, match="sidecar"):
        find_layers(spec)
    (info,) = find_layers(spec, sidecar_dir=cryptomatte_fixtures)
    assert len(info.manifest) == len(manifests_in(path)["crypto_asset"])


@pytest.mark.parametrize(("file_name", "layer", "suffixes"), FIXTURE_LAYERS)
def test_extracted_matte_equals_the_stored_coverage(cryptomatte_fixtures, file_name, layer, suffixes):
    path = cryptomatte_fixtures / file_name
    channels = raw_channels(path)
    ranks = raw_rank_planes(channels, layer, suffixes)
    manifest = manifests_in(path)[layer]
    # The big object manifest (407 names) is sampled to keep the test fast.
    for name in sorted(manifest)[:12]:
        stored = stored_coverage(ranks, int(manifest[name], 16))
        from_file = extract_matte(path, layer, [name])
        from_pixels = extract_matte(channels, layer, [name])
        assert from_file.shape == stored.shape
        np.testing.assert_allclose(from_file, stored, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(from_pixels, stored, atol=1e-6, err_msg=name)
    assert max(stored_coverage(ranks, int(hex_id, 16)).max() for hex_id in manifest.values()) > 0.99


def test_cornell_box_union_of_all_names_is_the_beauty_alpha(cryptomatte_fixtures):
    """V-Ray stores no background: the union of all objects is the rendered alpha."""
    path = cryptomatte_fixtures / CORNELL
    union = extract_matte(path, "uCryptoWildcard", list(manifests_in(path)["uCryptoWildcard"]))
    alpha = raw_channels(path)["A"]
    np.testing.assert_allclose(union, alpha, atol=1e-3)
    assert (alpha == 1.0).sum() > union.size // 2
    assert np.abs(union[alpha == 1.0] - 1.0).max() < 1e-5


@pytest.mark.parametrize(("file_name", "layer", "suffixes"), ARNOLD_LAYERS)
def test_union_of_all_names_is_one_where_there_is_geometry(cryptomatte_fixtures, file_name, layer, suffixes):
    """Arnold writes background as ID 0: names plus background fill every pixel exactly."""
    path = cryptomatte_fixtures / file_name
    background = stored_coverage(raw_rank_planes(raw_channels(path), layer, suffixes), 0)
    union = extract_matte(path, layer, list(manifests_in(path)[layer]))
    geometry = background == 0.0
    assert geometry.sum() > 0
    assert np.abs(union[geometry] - 1.0).max() < 1e-5
    np.testing.assert_allclose(union + background, 1.0, atol=1e-5)


# --- encoding, through a real EXR ----------------------------------------------------------------


def smooth_blob(shape: tuple[int, int], center: tuple[float, float], radius: float, peak: float):
    """A soft disc: `peak` in the middle, smoothstep falloff, exactly 0 beyond `radius`."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    t = np.clip(1.0 - np.hypot(rows - center[0], cols - center[1]) / radius, 0.0, 1.0)
    return (peak * t * t * (3.0 - 2.0 * t)).astype(np.float32)


def overlapping_blobs(count: int, seed: int, shape=(72, 96)) -> dict[str, np.ndarray]:
    """`count` blobs all covering the image centre, so exactly `count` overlap there."""
    rng = np.random.default_rng(seed)
    middle = np.array(shape) / 2
    return {
        f"instance_{index}/part": smooth_blob(
            shape,
            tuple(middle + rng.uniform(-10, 10, size=2)),
            radius=rng.uniform(20, 34),
            peak=rng.uniform(0.3, 1.0),
        )
        for index in range(count)
    }


def floored(mattes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The coverage a Cryptomatte stores: below `COVERAGE_FLOOR` is none."""
    return {name: np.where(matte < COVERAGE_FLOOR, 0.0, matte) for name, matte in mattes.items()}


def normalised(mattes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    mattes = floored(mattes)
    total = np.sum(list(mattes.values()), axis=0)
    scale = 1.0 / np.maximum(total, 1.0)
    return {name: matte * scale for name, matte in mattes.items()}


def write_exr(
    path: Path, channels: dict[str, np.ndarray], metadata: dict[str, str], channel_format, compression: str
) -> None:
    height, width = next(iter(channels.values())).shape
    spec = oiio.ImageSpec(width, height, len(channels), channel_format)
    spec.channelnames = list(channels)
    spec.attribute("compression", compression)
    for name, value in metadata.items():
        spec.attribute(name, value)
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec), output.geterror()
    assert output.write_image(np.stack(list(channels.values()), axis=-1)), output.geterror()
    output.close()


def encode_to_exr(path: Path, mattes: dict[str, np.ndarray]) -> Path:
    validate_output_format("float", "zip")
    layers = encode(mattes)
    write_exr(path, layers.channels, layers.metadata, oiio.FLOAT, "zip")
    return path


def decoded(path: Path, names) -> dict[str, np.ndarray]:
    return {name: extract_matte(path, "CryptoObject", [name]) for name in names}


def test_encoded_exr_is_float_zip_with_our_manifest(tmp_path):
    mattes = overlapping_blobs(4, seed=3)
    path = encode_to_exr(tmp_path / "crypto.exr", mattes)
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    image.close()
    assert spec.format == oiio.TypeFloat and not spec.channelformats
    assert spec.getattribute("compression") == "zip"
    assert list(spec.channelnames) == [
        f"CryptoObject{number:02d}.{suffix}" for number in range(3) for suffix in RENDERER_SUFFIXES
    ]
    (info,) = find_layers(path)
    assert info.key == layer_key("CryptoObject")
    assert info.manifest == {name: name_to_id(name).hex for name in mattes}


def test_up_to_six_overlapping_mattes_decode_back(tmp_path):
    mattes = floored(overlapping_blobs(6, seed=1))
    overlaps = np.sum([matte > 0 for matte in mattes.values()], axis=0)
    totals = np.sum(list(mattes.values()), axis=0)
    assert overlaps.max() == 6 and totals.max() > 1.0 and (totals[totals > 0] < 1.0).any()

    path = encode_to_exr(tmp_path / "crypto.exr", mattes)
    result = decoded(path, mattes)
    expected = normalised(mattes)
    for name in mattes:
        np.testing.assert_allclose(result[name], expected[name], atol=1e-3, err_msg=name)
        under_one = totals <= 1.0
        np.testing.assert_allclose(result[name][under_one], mattes[name][under_one], atol=1e-6, err_msg=name)
    decoded_total = np.sum(list(result.values()), axis=0)
    assert decoded_total.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(decoded_total[totals > 1.0], 1.0, atol=1e-6)


def test_more_than_six_overlapping_mattes_keep_the_six_largest(tmp_path):
    mattes = floored(overlapping_blobs(9, seed=2))
    overlaps = np.sum([matte > 0 for matte in mattes.values()], axis=0)
    assert overlaps.max() == 9

    path = encode_to_exr(tmp_path / "crypto.exr", mattes)
    result = decoded(path, mattes)
    expected = normalised(mattes)
    few = overlaps <= 6
    for name in mattes:
        np.testing.assert_allclose(result[name][few], expected[name][few], atol=1e-3, err_msg=name)
        kept = result[name] > 0
        np.testing.assert_allclose(result[name][kept], expected[name][kept], atol=1e-6, err_msg=name)

    crowded = ~few
    kept_count = np.sum([result[name] > 0 for name in mattes], axis=0)
    assert (kept_count[crowded] == 6).all()
    six_largest = np.sort(np.stack(list(expected.values())), axis=0)[-6:].sum(axis=0)
    decoded_total = np.sum(list(result.values()), axis=0)
    np.testing.assert_allclose(decoded_total[crowded], six_largest[crowded], atol=1e-5)
    assert decoded_total.max() <= 1.0 + 1e-6


def test_rank_channels_are_sorted_and_empty_ranks_are_id_zero(tmp_path):
    mattes = overlapping_blobs(5, seed=4)
    path = encode_to_exr(tmp_path / "crypto.exr", mattes)
    channels = raw_channels(path)
    ranks = raw_rank_planes(channels, "CryptoObject", RENDERER_SUFFIXES)
    coverages = np.stack([coverage for _, coverage in ranks])
    assert (np.diff(coverages, axis=0) <= 0.0).all()
    for ids, coverage in ranks:
        assert (ids[coverage == 0.0] == 0).all()
        assert set(np.unique(ids[coverage > 0.0])) <= {name_to_id(name).hash for name in mattes}
    assert (coverages[:, 0, 0] == 0.0).all(), "a corner no blob reaches must be empty"


@pytest.mark.parametrize("seed", range(6))
def test_ranks_equal_a_per_pixel_stable_sort_even_with_ties(seed):
    """The vectorised ranking against the plainest definition: each pixel's coverages sorted
    descending, ties to the matte given first, IDs zero where the coverage is."""
    rng = np.random.default_rng(seed)
    count, levels = int(rng.integers(2, 8)), int(rng.choice([2, 4, 6]))
    coverage = rng.choice(np.array([0.0, 0.0, 0.125, 0.25, 0.5], np.float32), size=(count, 9, 11))  # many ties
    ids = rng.random(count).astype(np.float32) + 0.5
    rank_ids, rank_coverage = cryptomatte_encoder._rank(coverage, ids, levels)
    for y, x in np.ndindex(coverage.shape[1:]):
        order = sorted(range(count), key=lambda index: -coverage[index, y, x])[:levels]  # sorted() is stable
        expected = [coverage[index, y, x] for index in order] + [0.0] * (levels - len(order))
        expected_ids = [ids[index] if coverage[index, y, x] > 0 else 0.0 for index in order] + [0.0] * (levels - len(order))
        assert list(rank_coverage[:, y, x]) == expected and list(rank_ids[:, y, x]) == expected_ids, (y, x)


def test_ranking_the_covered_box_alone_gives_the_whole_frames_bits():
    """Encoding works on the box the mattes cover; outside it, every rank is id 0 and coverage 0."""
    blobs = overlapping_blobs(3, seed=8, shape=(40, 50))
    mattes = {}
    for index, (name, blob) in enumerate(blobs.items()):
        frame = np.zeros((120, 160), np.float32)
        frame[30 + index:70 + index, 60:110] = blob
        mattes[name] = frame
    mattes["a_sliver"] = np.zeros((120, 160), np.float32)
    mattes["a_sliver"][5, 150] = 0.75  # widens the box to a far corner: the box spans every matte
    mattes["a_sliver"][110:, :] = cryptomatte_encoder.COVERAGE_FLOOR / 2  # a sigmoid's tail: no coverage, no box
    id_values = np.array([name_to_id(name).value for name in mattes], np.float32)
    whole_ids, whole_coverage = cryptomatte_encoder._rank(cryptomatte_encoder._normalised_coverage(mattes), id_values, 4)
    channels = encode(mattes, levels=4).channels
    for rank in range(4):
        layer, (id_channel, coverage_channel) = rank // 2, ("RG", "BA")[rank % 2]
        assert channels[f"CryptoObject0{layer}.{id_channel}"].tobytes() == whole_ids[rank].tobytes()
        assert channels[f"CryptoObject0{layer}.{coverage_channel}"].tobytes() == whole_coverage[rank].tobytes()
    empty = encode({"nobody": np.zeros((8, 8), np.float32)}, levels=2).channels
    assert all(not plane.any() and plane.shape == (8, 8) for plane in empty.values())
    with_nan = {"car": np.zeros((8, 8), np.float32)}
    with_nan["car"][7, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        encode(with_nan)


def test_half_float_storage_destroys_ids_which_is_why_it_is_refused(tmp_path):
    mattes = overlapping_blobs(3, seed=5)
    layers = encode(mattes)
    path = tmp_path / "half.exr"
    write_exr(path, layers.channels, layers.metadata, oiio.HALF, "zip")
    for name, matte in mattes.items():
        assert extract_matte(path, "CryptoObject", [name]).max() < 0.5 * matte.max()
    with pytest.raises(ValueError, match="32-bit float"):
        validate_output_format(oiio.HALF, "zip")


@pytest.mark.parametrize("channel_format", ["half", oiio.TypeHalf, oiio.HALF, np.float16, "uint32", "uint8"])
def test_validate_output_format_refuses_formats_other_than_float(channel_format):
    with pytest.raises(ValueError, match="32-bit float"):
        validate_output_format(channel_format, "zip")


@pytest.mark.parametrize("compression", ["dwaa", "dwab:45", "b44", "b44a", "pxr24", "jpeg"])
def test_validate_output_format_refuses_lossy_compression(compression):
    with pytest.raises(ValueError, match="lossless"):
        validate_output_format("float", compression)


@pytest.mark.parametrize(
    ("channel_format", "compression"),
    [
        ("float", "zip"),
        (oiio.TypeFloat, "zips"),
        (oiio.FLOAT, "piz"),
        (np.float32, "none"),
        ("float", "zip:4"),
        ("float", "RLE"),
    ],
)
def test_validate_output_format_accepts_lossless_float(channel_format, compression):
    validate_output_format(channel_format, compression)


def test_encode_refuses_inputs_it_cannot_store_faithfully():
    plane = np.zeros((4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="one size"):
        encode({"a": plane, "b": np.zeros((4, 5), dtype=np.float32)})
    with pytest.raises(ValueError, match="even"):
        encode({"a": plane}, levels=5)
    with pytest.raises(ValueError, match="renamed by Nuke"):
        encode({"a": plane}, layer_name="crypto object")
    with pytest.raises(ValueError, match="NaN"):
        encode({"a": np.full((4, 4), np.nan, dtype=np.float32)})
    with pytest.raises(ValueError, match="no mattes"):
        encode({})


def test_encode_clips_and_honours_levels():
    mattes = overlapping_blobs(3, seed=6)
    overshoot = {name: matte * 1.5 - 0.1 for name, matte in mattes.items()}
    layers = encode(overshoot, layer_name="CryptoAsset", levels=2)
    assert list(layers.channels) == [f"CryptoAsset00.{suffix}" for suffix in RENDERER_SUFFIXES]
    assert all(plane.dtype == np.float32 for plane in layers.channels.values())
    coverage = layers.channels["CryptoAsset00.G"] + layers.channels["CryptoAsset00.A"]
    assert coverage.min() >= 0.0 and coverage.max() <= 1.0 + 1e-6
    assert f"cryptomatte/{layer_key('CryptoAsset')}/name" in layers.metadata


def test_ranks_beyond_the_instance_count_share_one_empty_read_only_plane():
    """Two instances fill at most two ranks: the other four of six are one zero plane that nothing
    can write into (the EXR writer scans and compresses it once)."""
    hero = np.zeros((6, 8), np.float32)
    hero[:, :5] = 1.0
    car = np.zeros((6, 8), np.float32)
    car[:, 3:] = 0.5
    channels = encode({"hero": hero, "car": car}, "CryptoObject", 6).channels
    empty = [channels[f"CryptoObject{layer:02d}.{c}"] for layer in (1, 2) for c in "RGBA"]
    assert all(plane is empty[0] for plane in empty)
    assert not empty[0].any() and not empty[0].flags.writeable and empty[0].shape == (6, 8)
    assert channels["CryptoObject00.A"][0, 4] == np.float32(0.5 / 1.5)  # rank 1 still holds the smaller share
