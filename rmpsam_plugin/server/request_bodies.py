"""JSON request bodies -> checked requests; every refusal names the field at fault.

Checked here, before anything touches the network or starts a process: types (a JSON `true` is not
a number, although Python's `bool` is an `int`), shapes ([x, y], [x1, y1, x2, y2]), ranges
(coordinates inside the display window, as in the prompt-file schema: 0 <= x <= width), unknown
fields (a typo such as `postive_clicks` would otherwise silently decode nothing), and that a
decode has something positive to decode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rmpsam_plugin.server.http_errors import bad_request
from rmpsam_plugin.server.matte_encoding import ENCODINGS
from rmpsam_plugin.server.plate_frames import PlateSummary
from rmpsam_plugin.server.sessions import DecodeRequest

_DECODE_FIELDS = {"frame", "positive_clicks", "negative_clicks", "boxes", "encoding"}


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float is no coordinate
        return False


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _reject_unknown(body: dict, known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(f"unknown field '{unknown[0]}'; known fields: {', '.join(sorted(known))}", unknown[0])


def _coordinates(body: dict, name: str, columns: int, plate: PlateSummary) -> np.ndarray:
    """A list of [x, y] (columns 2) or [x1, y1, x2, y2] (columns 4) inside the display window."""
    value = body.get(name, [])
    shape = "[x, y]" if columns == 2 else "[x1, y1, x2, y2]"
    if not isinstance(value, list):
        raise bad_request(f"{name} must be a list of {shape}", name)
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, list) or len(item) != columns or not all(_is_number(v) for v in item):
            raise bad_request(f"{where} must be {shape} with {columns} finite numbers, got {item!r}", where)
        xs, ys = item[0::2], item[1::2]
        if not all(0 <= x <= plate.width for x in xs) or not all(0 <= y <= plate.height for y in ys):
            raise bad_request(f"{where} = {item} lies outside the frame (0..{plate.width} x 0..{plate.height}; "
                              f"display-window pixels, origin top-left, y down)", where)
        if columns == 4 and not (item[0] < item[2] and item[1] < item[3]):
            raise bad_request(f"{where} = {item} needs x1 < x2 and y1 < y2", where)
    return np.array(value, dtype=np.float64).reshape(-1, columns)


def parse_decode_request(body: dict, plate: PlateSummary) -> DecodeRequest:
    """A `POST /decode` body -> `DecodeRequest` (frame existence is checked by the caller: 404)."""
    _reject_unknown(body, _DECODE_FIELDS)
    if "frame" not in body:
        raise bad_request("missing field 'frame' (the frame number, as in the plate's file names)", "frame")
    if not _is_integer(body["frame"]):
        raise bad_request(f"frame must be an integer, got {body['frame']!r}", "frame")
    encoding = body.get("encoding", "png")
    if encoding not in ENCODINGS:
        raise bad_request(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}", "encoding")
    positive = _coordinates(body, "positive_clicks", 2, plate)
    negative = _coordinates(body, "negative_clicks", 2, plate)
    boxes = _coordinates(body, "boxes", 4, plate)
    if len(positive) + len(boxes) == 0:
        field = "positive_clicks"
        raise bad_request("nothing to decode: give at least one positive click or box "
                          "(a negative click only removes from a matte)", field)
    return DecodeRequest(body["frame"], positive, negative, boxes, encoding)


@dataclass(frozen=True)
class JobRequest:
    """A whole-shot run: the options of `rmpsam-matte run` a client may choose.

    The plate, weights, inference size, layer and colour space are the server's own (they must
    match the preview); a client names the prompt file and where the mattes go. Paths are passed to the command as they are: it checks them and reports (exit 3/4).
    """

    prompts: str
    output: str
    frames: str | None = None
    instances: tuple[str, ...] = ()
    cryptomatte: bool | None = None
    passthrough: bool = False
    threads: int | None = None

    def run_arguments(self) -> list[str]:
        """The arguments after `run PLATE`, in the CLI's own option names."""
        arguments = ["--prompts", self.prompts, "--output", self.output]
        if self.frames is not None:
            arguments += ["--frames", self.frames]
        if self.instances:
            arguments += ["--instances", ",".join(self.instances)]
        if self.cryptomatte is not None:
            arguments.append("--cryptomatte" if self.cryptomatte else "--no-cryptomatte")
        if self.passthrough:
            arguments.append("--passthrough")
        if self.threads is not None:
            arguments += ["--threads", str(self.threads)]
        return arguments


_JOB_FIELDS = {"prompts", "output", "frames", "instances", "cryptomatte", "passthrough", "threads"}


def _text(body: dict, name: str, required: bool) -> str | None:
    if name not in body:
        if required:
            raise bad_request(f"missing field '{name}'", name)
        return None
    value = body[name]
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} must be a non-empty string, got {value!r}", name)
    return value


def _positive_integer(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is not None and (not _is_integer(value) or value < 1):
        raise bad_request(f"{name} must be a positive integer, got {value!r}", name)
    return value


def _flag(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, got {value!r}", name)
    return value


def parse_job_request(body: dict) -> JobRequest:
    """A `POST /jobs` body -> `JobRequest`."""
    _reject_unknown(body, _JOB_FIELDS)
    instances = body.get("instances", [])
    if not isinstance(instances, list) or not all(isinstance(name, str) and name for name in instances):
        raise bad_request(f"instances must be a list of instance names, got {instances!r}", "instances")
    if any("," in name for name in instances):
        raise bad_request("instance names passed to a job cannot contain ','", "instances")
    return JobRequest(
        prompts=_text(body, "prompts", required=True),
        output=_text(body, "output", required=True),
        frames=_text(body, "frames", required=False),
        instances=tuple(instances),
        cryptomatte=_flag(body, "cryptomatte"),
        passthrough=bool(_flag(body, "passthrough")),
        threads=_positive_integer(body, "threads"),
    )
