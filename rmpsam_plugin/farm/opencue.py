"""The shot as an OpenCue job, built with OpenCue's own `opencue-pyoutline` (the `farm` extra).

Layers: `segments`, one frame per keyframe segment (its first frame, so the layer's range is
e.g. `1001,1005,1009`) whose command `farm segment #IFRAME# --segments ...` runs that segment's
ordinary `run`; and `check`, one frame, with a layer-on-layer dependency on `segments`. Cores
and memory come from the plan's estimates (`cores`, `memory` layer arguments; `gpus` and
`gpu_memory` with `--device cuda`). Commands are given to pyoutline as one shell-quoted string,
since its serialiser joins a list with plain spaces (a path with a space would split) and RQD
runs the command through a shell on a Linux node.

pyoutline insists on a session folder even when nothing uses it (commands here run without its
`pycuerun` wrapper); it is made in a temporary folder and removed, not in the user's home.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path

from rmpsam_plugin.errors import OutputError
from rmpsam_plugin.farm.plan import CHECK_MEMORY_MIB, FarmJob


class CuebotNotConfigured(OutputError):
    """`--submit` with no Cuebot named anywhere pycue looks."""


def build_outline(job: FarmJob, show: str, shot: str, user: str):
    import outline
    from outline.modules.shell import Shell

    estimates = [job.estimate(task) for task in job.tasks]
    first, last = job.plan.shot_range
    job_outline = outline.Outline(job.name, frame_range=f"{first}-{last}", show=show, shot=shot, user=user)
    executable = list(job.request.executable)
    segment_args = {
        "command": shlex.join(executable + job.task_by_first_frame_arguments("#IFRAME#")),
        "range": ",".join(str(task.first) for task in job.tasks),
        "chunk": 1,
        "cores": max(e.vcpus for e in estimates),
        "threadable": True,
        "memory": f"{max(e.peak_memory_mib for e in estimates)}m",
    }
    if any(e.gpus for e in estimates):
        segment_args.update(gpus=max(e.gpus for e in estimates),
                            gpu_memory=f"{max(e.gpu_memory_mib for e in estimates)}m")
    segments = Shell("segments", **segment_args)
    check = Shell("check", command=shlex.join(executable + job.check_arguments()), range=str(first), chunk=1,
                  cores=1, memory=f"{CHECK_MEMORY_MIB}m")
    check.depend_all(segments)
    job_outline.add_layer(segments)
    job_outline.add_layer(check)
    return job_outline


def job_spec(job: FarmJob, show: str, shot: str, user: str) -> str:
    """The job specification XML Cuebot accepts (cjsl-1.15), serialised by pyoutline itself."""
    import outline.cuerun

    with _session_folder():
        launcher = outline.cuerun.OutlineLauncher(build_outline(job, show, shot, user))
        return launcher.serialize(use_pycuerun=False)


def cuebot_configuration() -> str | None:
    """Where pycue would find its Cuebot, or None: $CUEBOT_HOSTS, $OPENCUE_CONFIG_FILE (or the
    older $OPENCUE_CONF) naming a file, or the user's opencue.yaml. Without one pycue silently
    falls back to `localhost`, which would only look like a failed submission."""
    if os.environ.get("CUEBOT_HOSTS"):
        return "$CUEBOT_HOSTS"
    for variable in ("OPENCUE_CONFIG_FILE", "OPENCUE_CONF"):
        if os.environ.get(variable) and os.path.exists(os.environ[variable]):
            return f"${variable}"
    from opencue.config import config_base_directory

    profile = Path(config_base_directory()) / "opencue.yaml"
    return str(profile) if profile.is_file() else None


def require_cuebot() -> str:
    configuration = cuebot_configuration()
    if configuration is None:
        raise CuebotNotConfigured("no Cuebot is configured: set CUEBOT_HOSTS (host:port,...) or OPENCUE_CONFIG_FILE, "
                                  "or write ~/.config/opencue/opencue.yaml; `--xml FILE` writes the job spec instead")
    return configuration


def submit(job: FarmJob, show: str, shot: str, user: str) -> list[str]:
    """Launch the job on the configured Cuebot; returns the names of the jobs it created."""
    configuration = require_cuebot()
    import outline.cuerun
    from opencue.exception import CueException

    with _session_folder():
        try:
            jobs = outline.cuerun.launch(build_outline(job, show, shot, user), use_pycuerun=False)
        except CueException as error:
            raise OutputError(f"OpenCue refused the job or could not be reached ({configuration}): "
                              f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    return [submitted.name() for submitted in jobs]


class _session_folder:
    """Point pyoutline's `session_dir` at a temporary folder for the duration."""

    def __enter__(self) -> None:
        import outline

        self._folder = tempfile.TemporaryDirectory(prefix="rmpsam-opencue-")
        self._previous = outline.config.get("outline", "session_dir", raw=True)
        outline.config.set("outline", "session_dir", self._folder.name)

    def __exit__(self, *exc_info) -> None:
        import outline

        outline.config.set("outline", "session_dir", self._previous)
        self._folder.cleanup()
