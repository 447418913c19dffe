"""`POST /decode` over loopback: the matte is the plate's size and agrees with the same prompts
decoded without the server (the predictor in-process, and `rmpsam-matte run` on the keyframe);
warm frames skip the backbone; concurrent clients each get their own right answer."""

from __future__ import annotations

import threading

import numpy as np
import OpenImageIO as oiio
import pytest
import torch
from preview_client import FIRST_FRAME, HEIGHT, NUM_FRAMES, WIDTH, run_cli

from rmpsam_model.loading import load_model
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.images.colour import to_network_rgb
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.server.matte_encoding import decode_matte


def matte_of(response) -> np.ndarray:
    assert response.status == 200, response
    body = response.json()
    return decode_matte(body["matte"], body["encoding"], body["width"], body["height"])


def decode(server, frame: int, prompts: dict, encoding: str = "float16"):
    return server.request("POST", "/decode", {"frame": frame, **prompts, "encoding": encoding})


def read_layer(path, channel: str) -> np.ndarray:
    image = oiio.ImageInput.open(str(path))
    spec = image.spec()
    pixels = image.read_image(oiio.FLOAT).reshape(spec.height, spec.width, spec.nchannels)
    image.close()
    return pixels[..., spec.channelnames.index(channel)]


def test_a_click_is_answered_with_a_matte_of_the_plates_size(server):
    response = decode(server, FIRST_FRAME + 2, {"positive_clicks": [[80, 48]]}, encoding="png")
    body = response.json()
    assert (body["width"], body["height"], body["frame"]) == (WIDTH, HEIGHT, FIRST_FRAME + 2)
    matte = matte_of(response)
    assert matte.shape == (HEIGHT, WIDTH) and matte.dtype == np.float32
    assert 0.0 <= matte.min() and matte.max() <= 1.0
    assert isinstance(body["iou"], float) and np.isfinite(body["iou"])
    assert {"decode", "encode", "total"} <= set(body["timing_ms"])


def test_png_and_float16_answers_agree_to_8_bits(server):
    prompts = {"positive_clicks": [[64.5, 50.5]], "boxes": [[50, 35, 79, 69]]}
    as_png = matte_of(decode(server, FIRST_FRAME + 3, prompts, "png"))
    as_half = matte_of(decode(server, FIRST_FRAME + 3, prompts, "float16"))
    np.testing.assert_allclose(as_png, as_half, atol=0.5 / 255 + 1e-3)


def test_the_first_click_on_a_frame_extracts_features_and_later_ones_reuse_them(server):
    frame = FIRST_FRAME + NUM_FRAMES - 1
    assert frame not in server.request("GET", "/health").json()["cached_frames"]
    first = decode(server, frame, {"positive_clicks": [[30, 30]]}).json()
    second = decode(server, frame, {"positive_clicks": [[90, 60]]}).json()
    assert first["features_cached"] is False and "features" in first["timing_ms"]
    assert second["features_cached"] is True and "features" not in second["timing_ms"]
    assert frame in server.request("GET", "/health").json()["cached_frames"]


def test_a_click_agrees_with_the_predictor_in_process(server, plate_pattern, tiny_weights):
    """The server's matte for one click == sigmoid of the predictor's own logits for that click
    (the plate is already at the weights' inference size, so no resampling is involved)."""
    frame, click = FIRST_FRAME + 1, [70.0, 40.0]
    served = matte_of(decode(server, frame, {"positive_clicks": [click]}))
    loaded = load_model(tiny_weights)  # fused, as the server runs it
    predictor = RMPSAMPredictor(loaded.model, loaded.inference_size)
    plate = read_plate(plate_pattern.replace("####", str(frame)), frame=frame)
    predictor.set_image(to_network_rgb(plate))
    with torch.inference_mode():
        logits = predictor.predict_prompts(points=[click]).logits[0].numpy()
    direct = 1.0 / (1.0 + np.exp(-logits))
    assert direct.shape == served.shape == (HEIGHT, WIDTH)
    np.testing.assert_allclose(served, direct, atol=2e-3)  # float16 on the wire
    assert ((served > 0.5) == (direct > 0.5)).mean() > 0.999


@pytest.mark.slow
def test_a_keyframe_decode_agrees_with_what_run_writes_on_that_keyframe(server, shot_dir, tiny_weights,
                                                                        keyframe_prompts, tmp_path):
    """Every instance's keyframe prompts (clicks, negative clicks, boxes) decoded by the server ==
    the matte `rmpsam-matte run` writes on that keyframe (edge refinement and temporal filtering,
    which a single-frame preview does not do, switched off)."""
    result = run_cli("run", shot_dir / "plate.####.exr", "--prompts", shot_dir / "prompts.json",
                     "-o", tmp_path / "m.####.exr", "--weights", tiny_weights, "--threads", "1",
                     "--no-temporal", "--no-refine-edges", "--no-cryptomatte", "--progress", "none")
    assert result.returncode == 0, result.stderr
    compared = 0
    for name, keyframes in keyframe_prompts.items():
        for frame, prompts in keyframes.items():
            served = matte_of(decode(server, frame, prompts))
            written = read_layer(tmp_path / f"m.{frame}.exr", f"{name}.A")
            np.testing.assert_allclose(served, written, atol=3e-3, err_msg=f"{name} on {frame}")
            compared += 1
    assert compared == 4


def test_concurrent_clients_each_get_their_own_answer(server, keyframe_prompts):
    """4 clients at once, over warm and cold frames and different prompts: every answer equals
    the one the same request gets alone (the network is shared, the answers must not be)."""
    cases = []
    for name, keyframes in keyframe_prompts.items():
        for frame, prompts in keyframes.items():
            cases.append((frame, prompts))
    cases += [(FIRST_FRAME + 4, {"positive_clicks": [[20, 20]]}), (FIRST_FRAME + 6, {"boxes": [[10, 10, 90, 80]]})]
    requests = [(client, cases[(client + k) % len(cases)]) for client in range(4) for k in range(3)]
    answers: dict[int, list] = {client: [] for client in range(4)}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def client(index: int) -> None:
        try:
            start.wait(timeout=30)
            for who, (frame, prompts) in requests:
                if who == index:
                    answers[index].append(((frame, prompts), decode(server, frame, prompts)))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"
    assert not errors, errors
    assert sum(len(a) for a in answers.values()) == len(requests)
    for client_answers in answers.values():
        for (frame, prompts), response in client_answers:
            alone = decode(server, frame, prompts)
            assert response.json()["frame"] == frame
            np.testing.assert_array_equal(matte_of(response), matte_of(alone), err_msg=f"frame {frame} {prompts}")


def test_clients_on_more_frames_than_the_cache_holds_are_all_answered(start_server):
    """With room for one frame's features, four clients on four frames keep evicting each other's
    features between reading a frame and decoding on it: every click must still be answered."""
    server = start_server("--cache-frames", "1")
    frames = [FIRST_FRAME + index for index in range(4)]
    reference = {frame: matte_of(decode(server, frame, {"positive_clicks": [[80, 48]]})) for frame in frames}
    results: dict[int, list] = {frame: [] for frame in frames}
    start = threading.Barrier(len(frames))

    def client(frame: int) -> None:
        start.wait(timeout=30)
        for _ in range(3):
            results[frame].append(decode(server, frame, {"positive_clicks": [[80, 48]]}))

    threads = [threading.Thread(target=client, args=(frame,)) for frame in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish"
    for frame, responses in results.items():
        assert len(responses) == 3
        for response in responses:
            np.testing.assert_array_equal(matte_of(response), reference[frame], err_msg=f"frame {frame}")
    assert len(server.request("GET", "/health").json()["cached_frames"]) == 1
