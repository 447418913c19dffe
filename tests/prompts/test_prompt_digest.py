"""The prompts digest: the same prompts written differently hash the same; any real change does not."""

import copy
import hashlib
import json

import numpy as np
from prompt_files import GOOD_DOCUMENT, write_image, write_json

from rmpsam_plugin.prompts import load_prompts, prompts_digest


def _digest(tmp_path, document, name="shot.prompts.json", text=None) -> str:
    path = tmp_path / name
    path.write_text(text if text is not None else json.dumps(document))
    return prompts_digest(load_prompts(path))


def _reordered(value):
    """Every object's keys in reverse order (lists keep theirs)."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


# The canonical form of GOOD_DOCUMENT, spelled out by hand from the format the digest module
# documents (`rmpsam-prompts-digest/1`): compact JSON, keys sorted at every level, UTF-8; the
# top level is {"format", "instances"}; an instance is {"class", "keyframes", "name"} in layer
# order (a missing class is null); keyframes are in frame order whatever the file's order; a
# keyframe lists all four prompt kinds as lists of float lists ([] when absent) and
# "mask_sha256" (null without a mask). The `plate` block is not part of it.
GOOD_DOCUMENT_CANONICAL = (
    '{"format":"rmpsam-prompts-digest/1","instances":['
    '{"class":"vehicle","keyframes":['
    '{"boxes":[],"frame":1012,"mask_sha256":null,'
    '"negative_clicks":[[10.0,20.0]],"positive_clicks":[[1024.5,540.25],[1100.0,560.0]]},'
    '{"boxes":[[100.0,200.0,400.0,500.0]],"frame":1040,"mask_sha256":null,'
    '"negative_clicks":[],"positive_clicks":[]}'
    '],"name":"car"},'
    '{"class":null,"keyframes":['
    '{"boxes":[],"frame":1030,"mask_sha256":null,"negative_clicks":[],"positive_clicks":[[5.5,7.25]]}'
    '],"name":"tree"}'
    ']}'
)
# Its SHA-256, pinned: every rendered EXR carries the digest in its header and resume compares it,
# so a change here must be a deliberate format bump (new "format" string), never an accident.
GOOD_DOCUMENT_DIGEST = "f85a85a6bcb317a653500c618e81ebddb9b9fe969dab8305b65201684c960fa8"


def test_hand_written_canonical_form_hashes_to_the_pinned_digest():
    """Guards the pin itself: the constant is the SHA-256 of the documented canonical text."""
    assert hashlib.sha256(GOOD_DOCUMENT_CANONICAL.encode("utf-8")).hexdigest() == GOOD_DOCUMENT_DIGEST


def test_digest_ignores_key_order_whitespace_number_spelling_keyframe_order_and_plate(tmp_path):
    reference = _digest(tmp_path, GOOD_DOCUMENT)
    assert reference == GOOD_DOCUMENT_DIGEST
    assert _digest(tmp_path, _reordered(GOOD_DOCUMENT)) == reference
    assert _digest(tmp_path, None, text=json.dumps(GOOD_DOCUMENT, indent=7, separators=(" ,", " :  "))) == reference
    spelled = json.dumps(GOOD_DOCUMENT).replace("1100.0, 560.0", "1100, 5.6e2").replace("[10.0, 20.0]", "[10, -0.0e0]")
    zeroed = copy.deepcopy(GOOD_DOCUMENT)
    zeroed["instances"][0]["keyframes"][0]["negative_clicks"] = [[10.0, 0.0]]
    assert _digest(tmp_path, None, text=spelled) == _digest(tmp_path, zeroed)
    swapped = copy.deepcopy(GOOD_DOCUMENT)
    swapped["instances"][0]["keyframes"].reverse()
    swapped["plate"]["pattern"] = "/elsewhere/shot.%04d.exr"
    assert _digest(tmp_path, swapped) == reference


def test_digest_changes_when_a_click_moves_or_an_instance_is_renamed(tmp_path):
    reference = _digest(tmp_path, GOOD_DOCUMENT)
    moved = copy.deepcopy(GOOD_DOCUMENT)
    moved["instances"][0]["keyframes"][0]["positive_clicks"][1] = [1100.0, 560.5]
    renamed = copy.deepcopy(GOOD_DOCUMENT)
    renamed["instances"][1]["name"] = "bush"
    flipped = copy.deepcopy(GOOD_DOCUMENT)
    flipped["instances"][0]["keyframes"][0]["negative_clicks"] = [[1024.5, 540.25]]
    flipped["instances"][0]["keyframes"][0]["positive_clicks"] = [[10.0, 20.0], [1100.0, 560.0]]
    digests = {reference, _digest(tmp_path, moved), _digest(tmp_path, renamed), _digest(tmp_path, flipped)}
    assert len(digests) == 4


def test_digest_follows_the_matte_not_where_or_how_it_is_stored(tmp_path):
    """Same matte as a float EXR in one folder and an 8-bit PNG in another: same digest."""
    matte = np.zeros((1080, 2048, 1))
    matte[100:200, 100:300] = 1.0
    digests = []
    for folder, name, pixel_type in (("a", "matte.exr", "float"), ("b", "matte.png", "uint8")):
        (tmp_path / folder).mkdir()
        write_image(tmp_path / folder / name, matte, ["Y"], pixel_type=pixel_type)
        document = copy.deepcopy(GOOD_DOCUMENT)
        document["instances"][1]["keyframes"][0]["mask"] = name
        digests.append(prompts_digest(load_prompts(write_json(tmp_path / folder / "shot.prompts.json", document))))
    assert digests[0] == digests[1]
    # The mask enters the canonical form as SHA-256 of "HxW:" and the matte's float32
    # little-endian pixels (a 0/1 matte survives 8-bit PNG exactly).
    mask_sha = hashlib.sha256(b"1080x2048:" + matte[:, :, 0].astype("<f4").tobytes()).hexdigest()
    tree_key = '{"boxes":[],"frame":1030,"mask_sha256":null,"negative_clicks":[],"positive_clicks":[[5.5,7.25]]}'
    tree_mask = f'{{"boxes":[],"frame":1030,"mask_sha256":"{mask_sha}","negative_clicks":[],"positive_clicks":[[5.5,7.25]]}}'
    assert tree_key in GOOD_DOCUMENT_CANONICAL
    expected = hashlib.sha256(GOOD_DOCUMENT_CANONICAL.replace(tree_key, tree_mask).encode("utf-8")).hexdigest()
    assert digests[0] == expected
    matte[150, 150] = 0.5
    write_image(tmp_path / "b" / "matte.png", matte, ["Y"], pixel_type="uint8")
    assert prompts_digest(load_prompts(tmp_path / "b" / "shot.prompts.json")) != digests[0]
