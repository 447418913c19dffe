"""The shot as an Open Job Description job template (specification 2023-09), which the
`openjd` CLI runs locally and AWS Deadline Cloud runs on its farms.

Shape: four PATH job parameters (Plate, Prompts, Output, Weights; PATH so a render manager's path
mapping rewrites them for a node on another OS), a `Segments` step whose STRING task parameter
`Segment` takes one value per keyframe segment and whose task is the ordinary
`run ... --segment {{Task.Param.Segment}} --progress json`, and a `Check` step that depends on
it. Host requirements come from the plan's estimates: `amount.worker.vcpu`,
`amount.worker.memory` (MiB), and with `--device cuda` `amount.worker.gpu` and
`amount.worker.gpu.memory` (MiB), the capability names and units of the specification's
section 3.3.1.1.

The template is written as JSON, which is YAML 1.2 as well: `openjd check job.yaml` reads it,
and no YAML library is needed to write it. The paths are not defaults inside it: OpenJD refuses
an absolute default for a PATH parameter (it joins defaults to the template's folder), so they
go to a parameter file beside it, `job.parameters.json`, in the form `openjd run job.yaml -p
file://job.parameters.json` reads (and a submitter maps to its own parameter values).
"""

from __future__ import annotations

import json
from pathlib import Path

from rmpsam_plugin.farm.plan import CHECK_MEMORY_MIB, FarmJob, Paths

SPECIFICATION = "jobtemplate-2023-09"
PARAMETERS = Paths("{{Param.Plate}}", "{{Param.Prompts}}", "{{Param.Output}}", "{{Param.Weights}}")


def job_template(job: FarmJob) -> dict:
    paths = job.paths()
    estimates = [job.estimate(task) for task in job.tasks]
    amounts = [
        {"name": "amount.worker.vcpu", "min": max(e.vcpus for e in estimates)},
        {"name": "amount.worker.memory", "min": max(e.peak_memory_mib for e in estimates)},
    ]
    if any(e.gpus for e in estimates):
        amounts += [{"name": "amount.worker.gpu", "min": max(e.gpus for e in estimates)},
                    {"name": "amount.worker.gpu.memory", "min": max(e.gpu_memory_mib for e in estimates)}]
    executable, *prefix = job.request.executable
    return {
        "specificationVersion": SPECIFICATION,
        "name": job.name,
        "description": f"RMP-SAM mattes of {paths.plate}, frames {job.shot_frames}: one task per keyframe "
                       f"segment, then a check of every frame",
        "parameterDefinitions": [
            _path_parameter("Plate", "IN", "The plate sequence (####-padded pattern)."),
            _path_parameter("Prompts", "IN", "The prompt file."),
            _path_parameter("Output", "OUT", "The matte sequence to write (####-padded .exr)."),
            _path_parameter("Weights", "IN", "The network weights the job was planned with."),
        ],
        "steps": [
            {
                "name": "Segments",
                "parameterSpace": {"taskParameterDefinitions": [
                    {"name": "Segment", "type": "STRING", "range": [task.segment for task in job.tasks]},
                ]},
                "script": {"actions": {"onRun": {
                    "command": executable,
                    "args": [*prefix, *job.task_arguments("{{Task.Param.Segment}}", PARAMETERS)],
                }}},
                "hostRequirements": {"amounts": amounts},
            },
            {
                "name": "Check",
                "dependencies": [{"dependsOn": "Segments"}],
                "script": {"actions": {"onRun": {
                    "command": executable,
                    "args": [*prefix, *job.check_arguments(PARAMETERS)],
                }}},
                "hostRequirements": {"amounts": [{"name": "amount.worker.vcpu", "min": 1},
                                                 {"name": "amount.worker.memory", "min": CHECK_MEMORY_MIB}]},
            },
        ],
    }


def parameter_values(job: FarmJob) -> dict[str, str]:
    return dict(zip(("Plate", "Prompts", "Output", "Weights"), job.paths()))


def parameters_path(template: Path) -> Path:
    return template.with_name(template.name.split(".")[0] + ".parameters.json")


def write_template(job: FarmJob, path: Path) -> list[Path]:
    """The template and its parameter file; returns both paths."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(job_template(job), indent=2) + "\n", encoding="utf-8")
    values = parameters_path(path)
    values.write_text(json.dumps(parameter_values(job), indent=2) + "\n", encoding="utf-8")
    return [path, values]


def _path_parameter(name: str, flow: str, description: str) -> dict:
    return {"name": name, "type": "PATH", "objectType": "FILE", "dataFlow": flow, "description": description}
