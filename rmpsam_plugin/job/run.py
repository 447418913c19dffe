"""`run_job`: the whole job, as `rmpsam-matte run` runs it, for scripts and for the CLI itself.

The command is a thin shell around this function: a TD's script gets the same checks, the same
progress events (as dicts, through `on_progress`) and the same refusals, raised as the
exceptions whose `exit_code` the command would exit with (3 bad input, 4 output problem).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

from rmpsam_model.checkpoint_errors import CheckpointError
from rmpsam_model.loading import LoadedModel
from rmpsam_plugin.errors import MatteToolError, WeightsError
from rmpsam_plugin.job.plan import JobPlan, plan_job
from rmpsam_plugin.job.precision import model_in_precision
from rmpsam_plugin.job.progress import ProgressReporter
from rmpsam_plugin.job.settings import RunSettings


@dataclass(frozen=True)
class JobResult:
    """What a job did: frames written and skipped (already done by an earlier run), and its plan
    (`JobPlan.summary()`: frames, instances, keyframes, segments, output)."""

    written: int
    skipped: int
    plan: dict


def job_settings(settings: RunSettings | None = None, **options: object) -> RunSettings:
    """`RunSettings` from keyword options named as the CLI's (`plate`, `prompts`, `output`,
    `segment`, `auto_classes`...), or `settings` with some options replaced; lists become tuples."""
    known = {field.name for field in fields(RunSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown job option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for name in ("instances", "auto_classes", "frames", "segment"):
        if isinstance(options.get(name), list):
            options[name] = tuple(options[name])
    for name in ("prompts", "weights"):
        if isinstance(options.get(name), str):
            options[name] = Path(options[name])
    for name in ("plate", "output"):
        if isinstance(options.get(name), Path):
            options[name] = str(options[name])
    return replace(settings, **options) if settings is not None else RunSettings(**options)


def run_job(settings: RunSettings | None = None, *, on_progress: Callable[[dict], None] | None = None,
            progress: str = "none", model: LoadedModel | None = None, dry_run: bool = False,
            **options: object) -> JobResult:
    """Matte a shot: plan it (every check), then propagate, refine and write every frame.

    `settings` or keyword options (`job_settings`); `on_progress(event)` receives the events of
    `--progress json` as dicts; `progress="bar"` also draws the bar on stderr; `model` is a
    network from `load_model` already in memory (default: `settings.weights`, else the
    configured weights, else the shipped model); `precision="int8"` runs its backbone in int8 on
    the CPU (`rmpsam_plugin.job.precision`; default float32): a `model` given must already be in
    that precision (`with_precision(load_model(...), "int8")`), else `InputError`; `dry_run` checks and plans only (with `--auto`,
    also loads the weights and checks the classes). Raises `InputError` (exit code 3) or
    `OutputError` (4), after an `error` event; Ctrl-C raises `KeyboardInterrupt` as usual (the
    command exits 5 for it: rerunning resumes).
    """
    settings = job_settings(settings, **options)
    reporter = ProgressReporter(progress, listener=on_progress)
    try:
        plan = plan_job(settings)
        if dry_run and not settings.auto_classes:
            return JobResult(0, 0, plan.summary())
        loaded = model_in_precision(model, settings.precision, settings.weights)
        plan, predictor = _with_found_instances(plan, loaded, reporter, dry_run)
        if dry_run:
            return JobResult(0, 0, plan.summary())
        from rmpsam_plugin.job.runner import JobRunner

        runner = JobRunner(plan, loaded, reporter, predictor)
        written = runner.run()
        last = plan.write_range[1] - plan.write_range[0] + 1
        return JobResult(written, last - written, plan.summary())
    except CheckpointError as error:  # weights that fail while the network is built or run
        reporter.error(str(error))
        raise WeightsError(str(error), path=settings.weights) from None
    except MatteToolError as error:
        reporter.error(str(error) or type(error).__name__)
        raise
    except KeyboardInterrupt:
        reporter.error("interrupted; rerun the same command to resume")
        raise


def _with_found_instances(plan: JobPlan, weights: LoadedModel, reporter: ProgressReporter, dry_run: bool):
    """`--auto`: the plan on the instances detection finds, and the predictor holding the
    detection pass's features (the job reuses them); otherwise the plan as it is."""
    if not plan.settings.auto_classes:
        return plan, None
    from rmpsam_plugin.job.auto import check_classes, plan_with_found_instances
    from rmpsam_plugin.job.runner import job_predictor

    check_classes(plan, weights)
    if dry_run:  # instances are only known after detection, which is computing
        return plan, None
    predictor = job_predictor(plan.settings, weights)
    return plan_with_found_instances(plan, weights, reporter, predictor), predictor
