"""The Submit-to-farm button's command: `rmpsam-matte farm <manager> ... --json`, run like `run`.

The manager is the node's `farm manager` knob, else $RMPSAM_FARM_MANAGER: `openjd` writes an
Open Job Description template (and its parameter file) for the studio's submitter, `opencue`
submits through pycue to the configured Cuebot, `deadline` writes the job files and submits them
when `deadlinecommand` is on PATH. Job files go beside the output as `<node>.<manager>...`. The
tool does all the work (planning, estimates, files, submission); this module only names it.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

ENV_VAR = "RMPSAM_FARM_MANAGER"
MANAGERS = ("openjd", "opencue", "deadline")


def configured_manager(knob_value: str, environ: Optional[dict] = None) -> str:
    """The knob, else the environment variable; ValueError naming the choices when neither is a manager."""
    environ = os.environ if environ is None else environ
    manager = (knob_value or "").strip() or environ.get(ENV_VAR, "").strip()
    if manager not in MANAGERS:
        raise ValueError("farm manager %r is not one of %s; set the node's farm manager knob or $%s"
                         % (manager, ", ".join(MANAGERS), ENV_VAR))
    return manager


def farm_command(prefix: Sequence[str], manager: str, node_name: str, plate: str, prompts: str, output: str,
                 frames: Sequence[int], weights: str = "", threads: int = 0, cryptomatte: bool = True,
                 extra: str = "") -> List[str]:
    """The argv of the submission; run options beyond the knobs go through `--run-args`."""
    command = list(prefix) + ["farm", manager, plate, "--prompts", prompts, "--output", output,
                              "--frames", "%d-%d" % (frames[0], frames[1]), "--json"]
    if weights:
        command += ["--weights", weights]
    if threads:
        command += ["--threads", str(int(threads))]
    run_args = ([] if cryptomatte else ["--no-cryptomatte"]) + ([extra] if extra.strip() else [])
    if run_args:
        command += ["--run-args", " ".join(run_args)]
    jobs = os.path.join(os.path.dirname(os.path.abspath(output)), "%s.%s" % (node_name, manager))
    if manager == "openjd":
        command += ["--template", jobs + ".job.yaml"]
    elif manager == "opencue":
        command += ["--submit", "--xml", jobs + ".xml"]
    else:
        command += ["--job-dir", jobs]
    return command
