"""Click-to-matte latency through the preview server, against the predictor's own decode.

What an artist feels is the time from a click to the matte being back in their tool. This
benchmark starts the real `rmpsam-matte serve` in its own process on loopback, on a synthetic
2K plate written to a temporary folder, with full-size (released layout) random weights unless
real ones are given, and asks over HTTP as a client would:

- the first click on a cold frame right after start-up (plate read, backbone and neck, decode);
- the first click on another cold frame (the same, with the process already warmed up);
- N clicks on the now warm frame (features cached: only the prompt decode, bringing the matte to
  the plate's size, PNG encoding and the HTTP exchange).

The baseline, measured in the same run after the server has stopped (so the two never share the
cores): the predictor's own prompt decode on cached features in-process, and the server's decode
path called in-process without HTTP. The difference between those and the warm click is what the
server adds (matte to plate size, encoding, JSON, loopback).
"""

from __future__ import annotations

import base64
import http.client
import json
import queue
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rmpsam_model.config import RMPSAMConfig
from rmpsam_model.loading import load_model
from rmpsam_model.network import RMPSAM
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_model.training.export import save_weights
from rmpsam_plugin.server.jobs import DEFAULT_CLI
from rmpsam_plugin.server.matte_encoding import encode_matte
from rmpsam_plugin.server.plate_frames import PlateFrames
from rmpsam_plugin.server.sessions import DecodeRequest, PreviewSession
from rmpsam_plugin.synthetic import artist_prompts, generate_shot, write_shot

FIRST_FRAME = 1
PLATE_FRAMES = 3
START_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 300.0


@dataclass
class Samples:
    """Milliseconds of one measured step."""

    name: str
    ms: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.ms)
        return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


@dataclass
class ServeBenchmark:
    plate_wh: tuple[int, int]
    network_hw: tuple[int, int]
    weights: str
    threads: int  # torch threads of the in-process baseline
    server_threads: int
    encoding: str
    server_start_s: float
    cold_first: Samples
    cold_other: Samples
    warm: Samples
    warm_server_ms: dict[str, float]  # medians of the server's own timing_ms for the warm clicks
    cold_server_ms: dict[str, float]  # the server's timing_ms of the first cold click
    baselines: list[Samples] = field(default_factory=list)
    matte_bytes: int = 0

    TARGET_MS = 100.0

    @property
    def meets_target(self) -> bool:
        return self.warm.median < self.TARGET_MS

    def rows(self) -> list[list[str]]:
        rows = []
        for samples in [*self.baselines, self.warm, self.cold_other, self.cold_first]:
            single = len(samples.ms) == 1
            rows.append([samples.name, str(len(samples.ms)), f"{samples.median:.1f}",
                         "" if single else f"{samples.p90:.1f}", samples.note])
        return rows

    def as_dict(self) -> dict:
        def entry(samples: Samples) -> dict:
            return {"n": len(samples.ms), "median_ms": round(samples.median, 3), "p90_ms": round(samples.p90, 3),
                    "samples_ms": [round(v, 3) for v in samples.ms]}

        return {
            "plate": {"width": self.plate_wh[0], "height": self.plate_wh[1]},
            "network_hw": list(self.network_hw),
            "weights": self.weights,
            "threads": self.threads,
            "server_threads": self.server_threads,
            "encoding": self.encoding,
            "server_start_s": round(self.server_start_s, 3),
            "warm_click": entry(self.warm),
            "cold_click_first": entry(self.cold_first),
            "cold_click_other_frame": entry(self.cold_other),
            "warm_server_timing_ms": self.warm_server_ms,
            "cold_server_timing_ms": self.cold_server_ms,
            "baselines": {samples.name: entry(samples) for samples in self.baselines},
            "matte_bytes": self.matte_bytes,
            "target_ms": self.TARGET_MS,
            "meets_target": self.meets_target,
        }


# ---- set-up ------------------------------------------------------------------------------------

def write_random_weights(path: Path, config: RMPSAMConfig, size: InferenceSize, seed: int = 0) -> Path:
    """The network in `config`'s layout with random weights, as a weights file the CLI loads."""
    torch.manual_seed(seed)
    model = RMPSAM(config).eval()
    table = torch.nn.functional.normalize(torch.randn(config.num_classes, 1, config.text_dim), dim=-1)
    return save_weights(model, table, [f"class{i}" for i in range(config.num_classes)], path, size)


def write_plate(directory: Path, width: int, height: int, seed: int = 5) -> tuple[str, dict[int, list[list[float]]]]:
    """A short synthetic plate -> (pattern, frame -> positive clicks on its objects)."""
    shot = generate_shot(seed, num_frames=PLATE_FRAMES, height=height, width=width, num_objects=3, blur_samples=1)
    write_shot(shot, directory, "plate", first_frame=FIRST_FRAME)
    prompts = artist_prompts(shot, list(range(PLATE_FRAMES)), first_frame=FIRST_FRAME)
    clicks: dict[int, list[list[float]]] = {}
    for frames in prompts.values():
        for frame, keyframe in frames.items():
            clicks.setdefault(int(frame), []).extend([list(map(float, p)) for p in keyframe["positive"]])
    return str(directory / "plate.####.exr"), clicks


def click_sequence(clicks: list[list[float]], count: int, width: int, height: int, seed: int = 0) -> list[list[float]]:
    """`count` clicks near the objects' own clicks (a few pixels of jitter, as a hand would)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for index in range(count):
        x, y = clicks[index % len(clicks)]
        jitter = rng.uniform(-6, 6, 2)
        chosen.append([float(np.clip(x + jitter[0], 0, width)), float(np.clip(y + jitter[1], 0, height))])
    return chosen


# ---- the server --------------------------------------------------------------------------------

class ServerUnderTest:
    """`rmpsam-matte serve` as a child process, spoken to as the Nuke bridge would."""

    def __init__(self, arguments: list[str]) -> None:
        self.process = subprocess.Popen([*DEFAULT_CLI, "serve", *arguments], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        self.port = 0
        self.token = ""

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr = (self._stderr + [line])[-20:]

    def wait_listening(self) -> None:
        try:
            line = self._lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            line = None
        if not line:
            self.stop()
            raise RuntimeError("the server did not start: " + "".join(self._stderr).strip())
        announcement = json.loads(line)
        self.port, self.token = announcement["port"], announcement["token"]

    def post(self, path: str, body: dict | None = None) -> dict:
        return self._ask("POST", path, b"" if body is None else json.dumps(body).encode("utf-8"))

    def get(self, path: str) -> dict:
        return self._ask("GET", path, None)

    def _ask(self, method: str, path: str, data: bytes | None) -> dict:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request(method, path, body=data, headers={"Authorization": f"Bearer {self.token}",
                                                                 "Content-Type": "application/json"})
            answer = connection.getresponse()
            payload = json.loads(answer.read())
        finally:
            connection.close()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path} answered {answer.status}: {payload}")
        return payload

    def click(self, frame: int, point: list[float], encoding: str) -> tuple[float, dict]:
        """One click, timed from sending the request to holding the matte's bytes."""
        start = time.perf_counter()
        answer = self.post("/decode", {"frame": frame, "positive_clicks": [point], "encoding": encoding})
        answer["matte_bytes"] = len(base64.b64decode(answer["matte"]))
        return (time.perf_counter() - start) * 1e3, answer

    def stop(self) -> None:
        if self.process.poll() is None and self.port:
            try:
                self.post("/shutdown")
            except (OSError, RuntimeError):
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


# ---- the in-process baseline -------------------------------------------------------------------

def time_in_process(weights: Path, plate: str, size: InferenceSize, frame: int, points: list[list[float]],
                    encoding: str) -> list[Samples]:
    """The predictor's own decode on cached features, and the server's decode path without HTTP."""
    loaded = load_model(weights)
    predictor = RMPSAMPredictor(loaded.model, size)
    frames = PlateFrames(plate, size)
    other = next(f for f in frames.sequence.present if f != frame)
    predictor.add_frame(other, frames.network_image(other))  # the process's first run pays one-time set-up
    image = frames.network_image(frame)
    start = time.perf_counter()
    predictor.add_frame(frame, image)
    features_ms = (time.perf_counter() - start) * 1e3
    network_points = frames.geometry.points_to_network(np.array(points))

    predictor.predict_prompts(points=network_points[:1], frame_index=frame)  # warm-up
    predictor_ms = []
    for point in network_points:
        start = time.perf_counter()
        predictor.predict_prompts(points=point[None], frame_index=frame)
        predictor_ms.append((time.perf_counter() - start) * 1e3)

    session = PreviewSession(predictor, frames)
    empty = np.zeros((0, 2))
    session_ms, encoded_ms = [], []
    for point in points:
        request = DecodeRequest(frame, np.array([point]), empty, np.zeros((0, 4)), encoding)
        start = time.perf_counter()
        matte = session.decode(request).matte
        session_ms.append((time.perf_counter() - start) * 1e3)
        encode_matte(matte, encoding)
        encoded_ms.append((time.perf_counter() - start) * 1e3)
    height, width = frames.geometry.network_hw
    plate_w, plate_h = frames.summary.width, frames.summary.height
    return [
        Samples("features of one frame, in-process", [features_ms], f"backbone + neck at {width}x{height}, 2nd frame"),
        Samples("predictor click decode, in-process", predictor_ms, f"cached features; logits at {width}x{height}"),
        Samples("server decode path, in-process", session_ms, f"+ union, matte to {plate_w}x{plate_h}, sigmoid"),
        Samples(f"  + {encoding} encode, in-process", encoded_ms, "what the server does, minus HTTP"),
    ]


# ---- the benchmark -----------------------------------------------------------------------------

def run_serve_benchmark(weights: Path | None = None, plate_width: int = 2048, plate_height: int = 1080,
                        long_side: int = 1024, clicks: int = 20, threads: int | None = None,
                        encoding: str = "png") -> ServeBenchmark:
    if threads is not None:
        torch.set_num_threads(threads)
    size = InferenceSize(long_side, long_side)  # `--size`: the network image's long side
    with tempfile.TemporaryDirectory(prefix="rmpsam-bench-serve-") as temporary:
        directory = Path(temporary)
        plate, plate_clicks = write_plate(directory / "plate", plate_width, plate_height)
        if weights is None:
            weights = write_random_weights(directory / "released-random.safetensors", RMPSAMConfig.released(), size)
            weights_name = "released layout, random"
        else:
            weights_name = str(weights)
        arguments = ["--plate", plate, "--weights", str(weights), "--size", str(long_side), "--idle-timeout", "600"]
        if threads is not None:
            arguments += ["--threads", str(threads)]

        cold_frame, warm_frame = FIRST_FRAME, FIRST_FRAME + 1
        warm_points = click_sequence(plate_clicks[warm_frame], clicks, plate_width, plate_height)
        start = time.perf_counter()
        server = ServerUnderTest(arguments)
        try:
            server.wait_listening()
            server_start_s = time.perf_counter() - start
            server_threads = server.get("/health")["threads"]
            cold_first_ms, cold_answer = server.click(cold_frame, plate_clicks[cold_frame][0], encoding)
            cold_other_ms, _ = server.click(warm_frame, warm_points[0], encoding)
            warm_ms, warm_timings, matte_bytes = [], [], 0
            for point in warm_points:
                elapsed, answer = server.click(warm_frame, point, encoding)
                if not answer["features_cached"]:
                    raise RuntimeError(f"frame {warm_frame} was not warm on a later click")
                warm_ms.append(elapsed)
                warm_timings.append(answer["timing_ms"])
                matte_bytes = answer["matte_bytes"]
        finally:
            server.stop()
        baselines = time_in_process(weights, plate, size, warm_frame, warm_points, encoding)
        network_hw = PlateFrames(plate, size).geometry.network_hw

    warm_server = {key: round(statistics.median(t[key] for t in warm_timings), 3) for key in warm_timings[0]}
    warm_server["http_and_json"] = round(statistics.median(warm_ms) - warm_server["total"] - warm_server.get("encode", 0), 3)
    return ServeBenchmark(
        plate_wh=(plate_width, plate_height),
        network_hw=tuple(network_hw),
        weights=weights_name,
        threads=torch.get_num_threads(),
        server_threads=server_threads,
        encoding=encoding,
        server_start_s=server_start_s,
        cold_first=Samples("server click, cold frame (first after start)", [cold_first_ms],
                           "plate read + features + decode"),
        cold_other=Samples("server click, another cold frame", [cold_other_ms], "plate read + features + decode"),
        warm=Samples("server click, warm frame", warm_ms, f"HTTP round trip, {encoding} matte"),
        warm_server_ms=warm_server,
        cold_server_ms=cold_answer["timing_ms"],
        baselines=baselines,
        matte_bytes=matte_bytes,
    )
