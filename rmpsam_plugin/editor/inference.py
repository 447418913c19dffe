"""The editor's way to the network: the project's public inference API (`rmpsam_plugin.load_model`,
`rmpsam_plugin.VideoSession`), opened with the options `rmpsam-matte edit` was given.

`VideoSession.set_prompts` answers with a keyframe's matte exactly as the job stores it, so what
the artist sees while clicking is what `run` writes on that keyframe. It blocks for as long as the
network runs: the editor calls it only from its preview worker thread (`preview`).
"""

from __future__ import annotations

from rmpsam_plugin import VideoSession, load_model
from rmpsam_plugin.job.precision import DEFAULT_PRECISION, check_precision, with_precision


def open_session(pattern: str, layer: str, colour_space: str | None, weights: str | None, size: int | None,
                 device: str, precision: str = DEFAULT_PRECISION) -> VideoSession:
    """Load the network `run` would use (`--weights`, else configured, else shipped) in `precision`
    (`edit --precision`, as `run --precision`: the shot run gets the same) and open the plate;
    frames missing on disk are allowed (the editor shows them as missing and takes no prompts
    there), so the preview works on the frames a render has written so far."""
    check_precision(precision, device)  # before seconds of loading
    model = with_precision(load_model(weights, device), precision)
    return VideoSession.open(pattern, layer=layer, colour_space=colour_space, model=model, size=size, device=device,
                             precision=precision, allow_gaps=True)
