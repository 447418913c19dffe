"""Prompt-free mode for a job: find the instances, save them as a prompt file, plan the job on it.

The prompt file lands beside the mattes (`<output name>.auto_prompts.json`): a compositor can
open it in the prompt editor or Nuke, fix a track, and rerun with `--prompts`. Detection is
deterministic, so rerunning the same `--auto` command finds the same instances, writes the same
file, and resumes from the frames already written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from rmpsam_model.loading import LoadedModel
from rmpsam_model.predictor import RMPSAMPredictor
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.images.geometry import PlateGeometry
from rmpsam_plugin.job.plan import JobPlan, plan_info_for, plan_job
from rmpsam_plugin.job.plate_schedule import plan_plates
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.prompts import save_prompts
from rmpsam_plugin.propagation.auto_instances import (
    UnknownClassError,
    class_indices,
    detect_instances,
)


def auto_prompt_path(plan: JobPlan) -> Path:
    name = Path(plan.settings.output).name.split(".")[0] or "mattes"
    return plan.output_dir / f"{name}.auto_prompts.json"


def check_classes(plan: JobPlan, weights: LoadedModel) -> list[int]:
    try:
        return class_indices(plan.settings.auto_classes or (), weights.class_names)
    except UnknownClassError as error:
        raise InputError(str(error)) from None


def plan_with_found_instances(plan: JobPlan, weights: LoadedModel, progress: ProgressReporter,
                              predictor: RMPSAMPredictor) -> JobPlan:
    """Detect and link instances over the shot, save them as prompts, and plan the job on them.

    `predictor` (from `job_predictor`) is the one the job then runs: the features computed here
    stay in its cache, so frames that fit its budget go through the backbone once, not twice.
    """
    settings = plan.settings
    wanted = check_classes(plan, weights)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    geometry = PlateGeometry.for_plate(plan.header.display_window, plan.header.pixel_aspect, predictor.size)
    plates = plan_plates(plan, geometry)
    frames = list(range(plan.shot_range[0], plan.shot_range[1] + 1))
    try:
        prompts = detect_instances(predictor, frames, plates.network_image, weights.class_names, wanted, geometry,
                                   plan_info_for(plan), settings.min_score,
                                   on_frame=lambda frame, count: progress.detected(frame, count, len(frames)))
    finally:
        plates.close()
    if not prompts.instances:
        raise InputError(f"--auto found no instance of {', '.join(settings.auto_classes or ())} scoring at least "
                         f"{settings.min_score} in frames {plan.shot_range[0]}-{plan.shot_range[1]}; "
                         "try a lower --min-score")
    path = auto_prompt_path(plan)
    save_prompts(prompts, path)
    return plan_job(replace(settings, prompts=path))
