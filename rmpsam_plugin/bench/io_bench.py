"""How much the image path costs against OpenImageIO copying the same frames.

The job's I/O per frame is: read a plate, write a matte file holding the plate, four instance
layers and a Cryptomatte. The baseline is the least any tool can do with those frames: OpenImageIO
reading each file and writing it back unchanged (and `oiiotool` doing the same, where installed).
Ours does strictly more work (more channels, float Cryptomatte, ranking coverage), so it overlaps
reads and writes of different frames on a few threads; OpenImageIO releases the GIL while it
decodes and compresses. Both are timed in the same run, on the same files, and quoted as a ratio.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from rmpsam_plugin import cryptomatte
from rmpsam_plugin.images.exr_output import write_with_openexr
from rmpsam_plugin.images.exr_zip_writer import write_zip_exr
from rmpsam_plugin.images.geometry import Window
from rmpsam_plugin.images.reader import read_plate
from rmpsam_plugin.mattes.writer import MatteWriter, Provenance

INSTANCES = ("hero", "car", "tree_left", "sign")


@dataclass
class Timing:
    name: str
    seconds: float
    frames: int
    cpu_seconds: float  # the process's CPU time, every thread: what the row takes from a network beside it

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds


def make_plates(directory: Path, count: int, width: int, height: int) -> list[Path]:
    """`count` half-float RGBA EXR frames (ZIP) that compress like a plate: gradients plus grain."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xs / width, ys / height, 0.5 + 0.5 * np.sin(xs / 97.0) * np.cos(ys / 53.0)], axis=-1)
    spec = oiio.ImageSpec(width, height, 4, oiio.HALF)
    spec.attribute("compression", "zip")
    paths = []
    for index in range(count):
        rgb = np.roll(base, 8 * index, axis=1) + rng.normal(0.0, 0.01, base.shape).astype(np.float32)
        pixels = np.concatenate([rgb, np.ones((height, width, 1), np.float32)], axis=-1)
        path = directory / f"plate.{1001 + index:04d}.exr"
        output = oiio.ImageOutput.create(str(path))
        output.open(str(path), spec)
        output.write_image(pixels)
        output.close()
        paths.append(path)
    return paths


def soft_mattes(width: int, height: int) -> dict[str, np.ndarray]:
    """Four overlapping soft-edged ellipses: instance mattes with realistic edges and overlaps."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mattes = {}
    for index, name in enumerate(INSTANCES):
        cx, cy = width * (0.3 + 0.15 * index), height * (0.4 + 0.05 * index)
        distance = np.hypot((xs - cx) / (0.2 * width), (ys - cy) / (0.25 * height))
        mattes[name] = np.clip((1.0 - distance) * 8.0, 0.0, 1.0)
    return mattes


def _timed(name: str, function, frames: int) -> Timing:
    start, cpu_start = time.perf_counter(), time.process_time()
    function()
    return Timing(name, time.perf_counter() - start, frames, time.process_time() - cpu_start)


def oiio_copy(paths: list[Path], out_dir: Path) -> None:
    """The baseline: OpenImageIO's plain read/write loop, native pixel type, same spec."""
    for path in paths:
        image_input = oiio.ImageInput.open(str(path))
        spec = image_input.spec()
        pixels = image_input.read_image(oiio.UNKNOWN)
        image_input.close()
        target = str(out_dir / path.name)
        output = oiio.ImageOutput.create(target)
        output.open(target, spec)
        output.write_image(pixels)
        output.close()


def oiio_reads(paths: list[Path]) -> None:
    """Reading alone, as the job needs it: every channel of each plate as float32, through OpenImageIO."""
    for path in paths:
        image_input = oiio.ImageInput.open(str(path))
        image_input.read_image(oiio.FLOAT)
        image_input.close()


def plate_reads(paths: list[Path]) -> None:
    """Reading alone through `read_plate` (OpenEXR's bindings for plates like these, see `exr_input`)."""
    for frame, path in enumerate(paths, start=1001):
        read_plate(path, frame=frame)


def oiiotool_copy(oiiotool: str, paths: list[Path], out_dir: Path) -> None:
    for path in paths:
        subprocess.run([oiiotool, str(path), "-o", str(out_dir / path.name)], check=True)


def matte_pipeline(paths: list[Path], out_dir: Path, workers: int, cryptomatte: bool = True) -> None:
    """Ours: read each plate, write plate + four mattes (+ Cryptomatte), frames on `workers` threads."""
    plate_window = read_plate(paths[0]).window
    mattes = soft_mattes(plate_window.width, plate_window.height)
    writer = MatteWriter(out_dir / "matte.####.exr", INSTANCES, Provenance("bench", "bench"),
                         cryptomatte_layer="CryptoObject" if cryptomatte else None, passthrough_layer="rgba")

    def process(frame_and_path: tuple[int, Path]) -> Path:
        frame, path = frame_and_path
        plate = read_plate(path, frame=frame)
        return writer.write(frame, mattes, plate.window, plate)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(process, enumerate(paths, start=1001)))


def matte_files(out_dir: Path, count: int, width: int, height: int, write) -> None:
    """Only the writing: `count` ZIP files of four half mattes and their Cryptomatte through `write`
    (`write_zip_exr` or OpenEXR's writer), one after another, the planes made once beforehand."""
    halves = {name: matte.astype(np.float16) for name, matte in soft_mattes(width, height).items()}
    planes = {f"{name}.A": plane for name, plane in halves.items()}
    planes.update(cryptomatte.encode(halves, "CryptoObject", len(INSTANCES)).channels)
    window = Window(0, 0, width, height)
    for index in range(count):
        write(str(out_dir / f"matte.{1001 + index:04d}.exr"), planes, compression="zip", data_window=window,
              display_window=window, pixel_aspect=1.0, metadata={"rmpsam/frame": 1001 + index})


def run_io_benchmark(count: int, width: int, height: int, workers: int, work_dir: Path) -> list[Timing]:
    """Time the baseline(s) and ours on `count` generated frames; the first row is the baseline."""
    plates_dir, copies_dir, tool_dir, mattes_dir, plain_dir, matte_copies_dir = (
        work_dir / name for name in ("plates", "copy", "oiiotool", "mattes", "mattes_plain", "matte_copies"))
    for directory in (plates_dir, copies_dir, tool_dir, mattes_dir, plain_dir, matte_copies_dir):
        directory.mkdir(parents=True, exist_ok=True)
    paths = make_plates(plates_dir, count, width, height)
    timings = [_timed("OpenImageIO read/write loop", lambda: oiio_copy(paths, copies_dir), count)]
    oiiotool = shutil.which("oiiotool")
    if oiiotool:
        timings.append(_timed("oiiotool copy", lambda: oiiotool_copy(oiiotool, paths, tool_dir), count))
    timings.append(_timed(f"ours: plate + 4 mattes + Cryptomatte, {workers} threads",
                          lambda: matte_pipeline(paths, mattes_dir, workers), count))
    # Where the time goes: the same without the Cryptomatte's eight 32-bit float channels.
    timings.append(_timed(f"ours without the Cryptomatte, {workers} threads",
                          lambda: matte_pipeline(paths, plain_dir, workers, cryptomatte=False), count))
    # Reading alone, one frame at a time as the job's reader thread does: ours against OpenImageIO.
    timings.append(_timed("reads only: OpenImageIO, as float", lambda: oiio_reads(paths), count))
    timings.append(_timed("reads only: ours (read_plate)", lambda: plate_reads(paths), count))
    # Like for like: OpenImageIO's same loop copying the files we wrote (plate + mattes + float
    # Cryptomatte, about six times the bytes of a half RGBA plate). The gap between the first row
    # and this one is the format's cost, not ours.
    # The matte file's writer alone, both ways: OpenEXR's own (the baseline for this pair) and ours.
    for label, write, folder in (("OpenEXR's writer", write_with_openexr, "written_openexr"),
                                 ("ours (exr_zip_writer)", write_zip_exr, "written_ours")):
        (work_dir / folder).mkdir()
        timings.append(_timed(f"writes only, 4 mattes + Cryptomatte: {label}",
                              lambda: matte_files(work_dir / folder, count, width, height, write), count))
    written = sorted(mattes_dir.glob("matte.*.exr"))
    timings.append(_timed("OpenImageIO read/write loop on our output files",
                          lambda: oiio_copy(written, matte_copies_dir), count))
    return timings
