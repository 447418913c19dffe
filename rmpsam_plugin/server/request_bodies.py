"""JSON request bodies -> checked requests; every refusal names the field at fault.

Checked here, before anything touches the network or starts a process: types (a JSON `true` is not
a number, although Python's `bool` is an `int`), shapes ([x, y], [x1, y1, x2, y2]), ranges
(coordinates inside the display window, as in the prompt-file schema: 0 <= x <= width), unknown
fields (a typo such as `postive_clicks` would otherwise silently decode nothing), that a
decode has something positive to decode, and sizes: at most `MAX_DECODE_PROMPTS` prompts in one
decode (each is its own query through the decoder, with its own logit plane: 40 000 clicks once held
the network for 115 s), and job texts short enough to pass to a process (`MAX_TEXT_CHARS`,
`MAX_INSTANCES`, `MAX_INSTANCE_NAME_CHARS`), without NUL and encodable as file names. Values are
quoted in messages through `shown`, cut short, so a refusal stays small whatever was sent.
"""

from __future__ import annotations

import math
import os
import reprlib
from dataclasses import dataclass

import numpy as np

from rmpsam_plugin.mattes.overlaps import OVERLAPS
from rmpsam_plugin.server.http_errors import bad_request
from rmpsam_plugin.server.matte_encoding import ENCODINGS
from rmpsam_plugin.server.plate_frames import PlateSummary
from rmpsam_plugin.server.sessions import DecodeRequest

_DECODE_FIELDS = {"frame", "positive_clicks", "negative_clicks", "boxes", "encoding"}
_PROMPT_LISTS = ("positive_clicks", "negative_clicks", "boxes")
MAX_DECODE_PROMPTS = 256  # clicks and boxes of one decode, together; an artist uses a handful
MAX_TEXT_CHARS = 4096  # a path (Linux's PATH_MAX) or a frame range; far below what a process argument may hold
MAX_INSTANCES = 256
MAX_INSTANCE_NAME_CHARS = 256

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlong = 40


def shown(value: object) -> str:
    """`repr(value)` cut short (long strings and numbers, long or deep lists), for messages."""
    return _SHOWN.repr(value)


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
        name = unknown[0] if len(unknown[0]) <= 80 else shown(unknown[0])
        raise bad_request(f"unknown field '{name}'; known fields: {', '.join(sorted(known))}", name)


def _coordinates(body: dict, name: str, columns: int, plate: PlateSummary) -> np.ndarray:
    """A list of [x, y] (columns 2) or [x1, y1, x2, y2] (columns 4) inside the display window."""
    value = body.get(name, [])
    shape = "[x, y]" if columns == 2 else "[x1, y1, x2, y2]"
    if not isinstance(value, list):
        raise bad_request(f"{name} must be a list of {shape}", name)
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, list) or len(item) != columns or not all(_is_number(v) for v in item):
            raise bad_request(f"{where} must be {shape} with {columns} finite numbers, got {shown(item)}", where)
        xs, ys = item[0::2], item[1::2]
        if not all(0 <= x <= plate.width for x in xs) or not all(0 <= y <= plate.height for y in ys):
            raise bad_request(f"{where} = {item} lies outside the frame (0..{plate.width} x 0..{plate.height}; "
                              f"display-window pixels, origin top-left, y down)", where)
        if columns == 4 and not (item[0] < item[2] and item[1] < item[3]):
            raise bad_request(f"{where} = {item} needs x1 < x2 and y1 < y2", where)
    return np.array(value, dtype=np.float64).reshape(-1, columns)


def _check_prompt_count(body: dict, max_prompts: int) -> None:
    """Refused before any prompt is looked at: counting is all a huge list costs."""
    total = 0
    for name in _PROMPT_LISTS:
        value = body.get(name)
        if isinstance(value, list):
            total += len(value)
            if total > max_prompts:
                counts = ", ".join(f"{len(body[key])} {key}" for key in _PROMPT_LISTS if isinstance(body.get(key), list))
                raise bad_request(f"too many prompts: {counts}; a decode takes at most {max_prompts} clicks and "
                                  f"boxes together", name)


def parse_decode_request(body: dict, plate: PlateSummary, max_prompts: int = MAX_DECODE_PROMPTS) -> DecodeRequest:
    """A `POST /decode` body -> `DecodeRequest` (frame existence is checked by the caller: 404)."""
    _reject_unknown(body, _DECODE_FIELDS)
    if "frame" not in body:
        raise bad_request("missing field 'frame' (the frame number, as in the plate's file names)", "frame")
    if not _is_integer(body["frame"]):
        raise bad_request(f"frame must be an integer, got {shown(body['frame'])}", "frame")
    encoding = body.get("encoding", "png")
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise bad_request(f"encoding must be one of {', '.join(ENCODINGS)}, got {shown(encoding)}", "encoding")
    _check_prompt_count(body, max_prompts)
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
    match the preview); a client names the prompt file and where the mattes go. The server makes
    both paths absolute (relative ones are taken from its output root), keeps the output inside
    that root, and caps `threads` (`JobManager.start`); the command checks the rest and reports
    (exit 3/4).
    """

    prompts: str
    output: str
    frames: str | None = None
    instances: tuple[str, ...] = ()
    cryptomatte: bool | None = None
    passthrough: bool = False
    threads: int | None = None
    overlap: str | None = None  # `run --overlap`: independent or exclusive; None: run's default

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
        if self.overlap is not None:
            arguments += ["--overlap", self.overlap]
        return arguments


_JOB_FIELDS = {"prompts", "output", "frames", "instances", "cryptomatte", "passthrough", "threads", "overlap"}


def _text(body: dict, name: str, required: bool) -> str | None:
    if name not in body:
        if required:
            raise bad_request(f"missing field '{name}'", name)
        return None
    value = body[name]
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{name} must be a non-empty string, got {shown(value)}", name)
    _check_argument(value, name, MAX_TEXT_CHARS)
    return value


def _check_argument(value: str, name: str, max_chars: int) -> None:
    """A text the job's command line will carry: short, no NUL, encodable as a file name."""
    if len(value) > max_chars:
        raise bad_request(f"{name} is {len(value)} characters long; at most {max_chars} are accepted", name)
    if "\0" in value:
        raise bad_request(f"{name} contains a NUL character: {shown(value)}", name)
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        raise bad_request(f"{name} cannot be encoded as a file name on this system: {shown(value)}", name) from None


def _positive_integer(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is not None and (not _is_integer(value) or value < 1):
        raise bad_request(f"{name} must be a positive integer, got {shown(value)}", name)
    return value


def _flag(body: dict, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"{name} must be true or false, got {shown(value)}", name)
    return value


def parse_job_request(body: dict) -> JobRequest:
    """A `POST /jobs` body -> `JobRequest`."""
    _reject_unknown(body, _JOB_FIELDS)
    instances = body.get("instances", [])
    if not isinstance(instances, list) or not all(isinstance(name, str) and name for name in instances):
        raise bad_request(f"instances must be a list of instance names, got {shown(instances)}", "instances")
    if len(instances) > MAX_INSTANCES:
        raise bad_request(f"instances names {len(instances)} instances; a job takes at most {MAX_INSTANCES}", "instances")
    if any("," in name for name in instances):
        raise bad_request("instance names passed to a job cannot contain ','", "instances")
    for name in instances:
        _check_argument(name, "instances", MAX_INSTANCE_NAME_CHARS)
    return JobRequest(
        prompts=_text(body, "prompts", required=True),
        output=_text(body, "output", required=True),
        frames=_text(body, "frames", required=False),
        instances=tuple(instances),
        cryptomatte=_flag(body, "cryptomatte"),
        passthrough=bool(_flag(body, "passthrough")),
        threads=_positive_integer(body, "threads"),
        overlap=_choice(body, "overlap", OVERLAPS),
    )


def _choice(body: dict, name: str, choices: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is not None and value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}, got {shown(value)}", name)
    return value
