"""Where a job started through the server may write: inside the output root, never over the plate.

Whoever holds the token can start jobs, and a job writes files. So the server is given one output
root when it starts (`serve --output-root`, by default the folder holding the plate) and a job
whose output would land anywhere else is refused with 403 before any process starts. Every
frame's output file is checked after resolving links (`os.path.realpath`): `../` climbing out,
an absolute path elsewhere, or a symlinked folder or file inside the root pointing out of it are
all refused, naming the path and the root. (A link made inside the root after the check is not
seen: the root is the artist's own folder.)

Inside the root, the plate itself is still off limits: an output whose frames are the plate's
files (`plate.####.exr` beside the plate, another spelling, a hard link) is refused with 403
naming both paths, as is one over the prompt file, through the same check `run` makes
(`job.output_safety`), so not even the job's process is started.

Relative paths in a job request, the output and the prompt file, are taken from the output root
(not from the server's working directory, which the client cannot know); the job is given both
as absolute paths.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.sequences import Sequence
from rmpsam_plugin.job.output_safety import (
    OutputOverwritesInputError,
    refuse_outputs_over_inputs,
)
from rmpsam_plugin.mattes.writer import output_template
from rmpsam_plugin.server.http_errors import bad_request, forbidden
from rmpsam_plugin.server.request_bodies import JobRequest


def default_output_root(plate: Sequence) -> Path:
    """The folder holding the plate's frames."""
    return Path(plate.pattern).parent


class JobPaths:
    """Checks and completes the paths of job requests for one plate and one output root."""

    def __init__(self, root: str | os.PathLike, plate: Sequence) -> None:
        self.root = Path(os.path.realpath(root))
        self.plate = plate

    def absolute(self, path: str) -> Path:
        expanded = Path(path).expanduser()
        return Path(os.path.normpath(expanded if expanded.is_absolute() else self.root / expanded))

    def inside_root(self, path: str | os.PathLike) -> bool:
        real = os.path.realpath(path)
        return os.path.commonpath([str(self.root), real]) == str(self.root)

    def checked(self, request: JobRequest) -> JobRequest:
        """`request` with absolute paths; HttpError 400 (not an output pattern) or 403 (outside the
        root, or over the plate or the prompt file)."""
        prompts = self.absolute(request.prompts)
        output = self.absolute(request.output)
        try:
            template = output_template(str(output))
        except InputError as error:
            raise bad_request(str(error), "output") from None
        outputs = [(frame, Path(template.frame(frame))) for frame in self.plate.requested]
        # The frame number is in the file name only: one folder to resolve, then the frame files
        # that exist already (a link among them may point anywhere).
        for frame, path in [(None, outputs[0][1].parent)] + [(f, p) for f, p in outputs if os.path.lexists(p)]:
            if not self.inside_root(path):
                what = "its folder" if frame is None else f"frame {frame}"
                raise forbidden(f"output {request.output} would write {what} to {os.path.realpath(path)}, outside the "
                                f"output root {self.root}: jobs write only inside it (serve --output-root)", "output")
        inputs = [(f"plate frame {frame}", self.plate.path(frame)) for frame in self.plate.present]
        inputs.append(("prompt file", prompts))
        try:
            refuse_outputs_over_inputs(outputs, inputs)
        except OutputOverwritesInputError as error:
            raise forbidden(str(error), "output") from None
        return dataclasses.replace(request, prompts=str(prompts), output=str(output))
