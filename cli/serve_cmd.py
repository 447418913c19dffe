"""`rmpsam-matte serve`: the preview server (see `rmpsam_plugin.server`).

Started by a client (the Nuke bridge) that reads the first line of stdout: one JSON object,
`{"event": "listening", "url": ..., "port": ..., "token": ...}` (with `--token-file` the token is
written to that file, mode 0600, and the line names the file instead). The last line is
`{"event": "stopped", "reason": ...}`. Problems before listening are one line on stderr with exit
code 3 (bad plate, weights, output root, token file or option value), like every other command;
a malformed option (click's own check, or a non-loopback --host) is exit 2.

The limits a token holder cannot pass (see `rmpsam_plugin.server`): outputs of jobs inside
--output-root, --max-jobs jobs at once, --max-prompts prompts per decode, --request-timeout
seconds to send a request, a job's threads at most the cores, its data memory --job-memory.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import NoReturn

import click
import torch

from rmpsam_cli.exit_codes import BAD_INPUT
from rmpsam_model.checkpoint_errors import CheckpointError
from rmpsam_model.int8 import PRECISIONS
from rmpsam_model.loading import load_model
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_model.preprocess import InferenceSize
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.reader import DEFAULT_LAYER
from rmpsam_plugin.job.precision import DEFAULT_PRECISION, check_precision, with_precision
from rmpsam_plugin.server.app import (
    DEFAULT_REQUEST_TIMEOUT_S,
    LOOPBACK_HOST,
    PreviewServer,
    check_loopback,
)
from rmpsam_plugin.server.auth import new_token, write_token_file
from rmpsam_plugin.server.child_limits import (
    DEFAULT_JOB_MEMORY_FRACTION,
    default_job_memory_bytes,
)
from rmpsam_plugin.server.job_paths import JobPaths, default_output_root
from rmpsam_plugin.server.jobs import (
    DEFAULT_MAX_RUNNING_JOBS,
    JobManager,
    available_cores,
)
from rmpsam_plugin.server.plate_frames import PlateFrames
from rmpsam_plugin.server.request_bodies import MAX_DECODE_PROMPTS
from rmpsam_plugin.server.sessions import PreviewSession


@click.command("serve")
@click.option("--plate", "plate_pattern", required=True,
              help="The plate sequence to preview (shot.####.exr, shot.%04d.exr, a directory...).")
@click.option("--weights", type=click.Path(path_type=Path),
              help="Weights file (default: $RMPSAM_WEIGHTS, the config file, then the shipped model).")
@click.option("--host", default=LOOPBACK_HOST, show_default=True, help="Only 127.0.0.1 (or localhost) is accepted.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--idle-timeout", "idle_timeout_s", default=600.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Seconds without requests (or running jobs) before exiting.")
@click.option("--token-file", type=click.Path(path_type=Path),
              help="Write the access token here (mode 0600) instead of printing it. A folder, or a file in a "
                   "folder that does not exist, is refused (exit 3).")
@click.option("--output-root", type=click.Path(path_type=Path),
              help="Jobs may write only inside this folder (others: 403); relative job paths start here "
                   "(default: the plate's folder).")
@click.option("--max-jobs", default=DEFAULT_MAX_RUNNING_JOBS, show_default=True, type=click.IntRange(min=1),
              help="Jobs running at once; another start is answered 429 with Retry-After.")
@click.option("--max-prompts", default=MAX_DECODE_PROMPTS, show_default=True, type=click.IntRange(min=1),
              help="Clicks and boxes in one decode, together (more: 400).")
@click.option("--request-timeout", "request_timeout_s", default=DEFAULT_REQUEST_TIMEOUT_S, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Seconds a client has to send its whole request (line, headers, body); then 408.")
@click.option("--job-memory", "job_memory_gib", type=click.FloatRange(min=0),
              help=f"Data-memory limit of each job's process, GiB; 0: none "
                   f"(default: {DEFAULT_JOB_MEMORY_FRACTION:.0%} of RAM). Jobs' threads are capped at the cores.")
@click.option("--size", type=click.IntRange(min=32),
              help="Long side of the network image in pixels, as `run --size` (default: the weights' own).")
@click.option("--layer", default=DEFAULT_LAYER, show_default=True, help="Plate layer to read.")
@click.option("--colour-space", help="Plate colour space (default: from the file, see `rmpsam-matte info`).")
@click.option("--cache-frames", default=8, show_default=True, type=click.IntRange(min=1),
              help="Frames whose features are kept warm (about 40 MB each at 1024x576).")
@click.option("--threads", type=click.IntRange(min=1),
              help="torch intra-op threads, at most the cores (default: torch's choice).")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=DEFAULT_PRECISION, show_default=True,
              help="The network's arithmetic, as `run --precision` (int8, int8-bf16: CPU only, the int8 extra); jobs "
                   "inherit it.")
def serve(plate_pattern: str, weights: Path | None, host: str, port: int, idle_timeout_s: float,
          token_file: Path | None, output_root: Path | None, max_jobs: int, max_prompts: int,
          request_timeout_s: float, job_memory_gib: float | None, size: int | None, layer: str,
          colour_space: str | None, cache_frames: int, threads: int | None, device: str, precision: str) -> None:
    """Keep the network warm and answer clicks on PLATE over loopback HTTP, token-protected.

    Limits: job outputs only inside --output-root, --max-jobs jobs at once (429 beyond),
    --max-prompts per decode, --request-timeout to send a request (408), job threads at most the
    cores, job memory --job-memory. See the README's "Preview server"."""
    try:
        check_loopback(host)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--host") from None
    if token_file is not None:
        _check_token_file(token_file)  # before seconds of loading: a wrong path fails at once
    if threads is not None:
        torch.set_num_threads(min(threads, available_cores()))
    try:
        check_precision(precision, device)  # before seconds of loading
        loaded = with_precision(load_model(weights), precision)  # fused for inference, as `run` runs it
        # The same size rule as `run` (JobRunner): --size is the long side of the network image.
        inference_size = InferenceSize(size, size) if size is not None else loaded.inference_size
        frames = PlateFrames(plate_pattern, inference_size, layer, colour_space)
    except (CheckpointError, InputError) as error:
        _fail(str(error))
    root = output_root if output_root is not None else default_output_root(frames.sequence)
    if not root.is_dir():
        _fail(f"output root {root} is not an existing folder (--output-root)")
    if job_memory_gib is None:
        memory_limit = default_job_memory_bytes()
    else:
        memory_limit = int(job_memory_gib * 2**30) if job_memory_gib > 0 else None
    predictor = RMPSAMPredictor(loaded.model, inference_size, device=device, max_cached_frames=cache_frames)
    token = new_token()
    jobs = JobManager(plate_pattern, _job_arguments(loaded.path, size, layer, colour_space, precision),
                      paths=JobPaths(root, frames.sequence), max_running=max_jobs, memory_limit_bytes=memory_limit)
    try:
        server = PreviewServer(PreviewSession(predictor, frames), jobs, token, host=host, port=port,
                               idle_timeout_s=idle_timeout_s, request_timeout_s=request_timeout_s,
                               max_prompts=max_prompts)
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    announcement = {"event": "listening", "url": server.url, "port": server.port, "pid": os.getpid(),
                    "plate": frames.summary.as_dict(), "weights": str(loaded.path),
                    "precision": precision, "output_root": str(jobs.paths.root)}
    if token_file is not None:
        try:
            announcement["token_file"] = str(write_token_file(token_file, token))
        except OSError as error:
            server.server_close()
            _fail(f"cannot write the token file {token_file}: {error.strerror or error}")
    else:
        announcement["token"] = token
    # Before the announcement: a client may terminate the server as soon as it has read the line.
    signal.signal(signal.SIGTERM, lambda *_: server.stop("terminated"))
    click.echo(json.dumps(announcement), nl=True)
    try:
        reason = server.serve()
    except KeyboardInterrupt:
        reason = "interrupted"
    click.echo(json.dumps({"event": "stopped", "reason": reason}))


def _job_arguments(weights: Path, size: int | None, layer: str, colour_space: str | None,
                   precision: str = DEFAULT_PRECISION) -> list[str]:
    """The `run` options a job inherits from the server, so it computes what the preview showed."""
    arguments = ["--weights", str(weights), "--layer", layer, "--precision", precision]
    if size is not None:
        arguments += ["--size", str(size)]
    if colour_space is not None:
        arguments += ["--colour-space", colour_space]
    return arguments


def _check_token_file(path: Path) -> None:
    """The token file must be a file (or not exist yet) in an existing folder."""
    if path.is_dir():
        _fail(f"--token-file {path} is a folder; give the path of a file to write the token to")
    if not path.parent.is_dir():
        _fail(f"--token-file {path}: the folder {path.parent} does not exist")


def _fail(problem: str) -> NoReturn:
    click.echo(f"rmpsam-matte serve: {problem}", err=True)
    raise SystemExit(BAD_INPUT)
