"""`rmpsam-matte farm`: a shot as a job for the render manager the studio already runs.

    farm plan      the tasks (one per keyframe segment), their estimates and the check task
    farm openjd    an Open Job Description 2023-09 template (`openjd run`, AWS Deadline Cloud)
    farm opencue   an OpenCue job through pyoutline: `--xml FILE` and/or `--submit`
    farm deadline  Deadline 10 CommandLine job files, submitted when `deadlinecommand` is on PATH
    farm check     every frame present, with the job's digests and every layer (also alone)
    farm segment   what an OpenCue or Deadline task runs: frame number -> that segment's `run`

Exit codes (rmpsam_cli.exit_codes): 0 done, 2 usage, 3 bad input (plate, prompts, weights, an
output over an input, nothing left to submit), 4 output problem (files cannot be written, a
submission refused; for `check`, frames missing, stale or lacking a layer), 1 a bug. Every
problem is found before any file of the job is written.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import shlex
import sys
from pathlib import Path

import click

from rmpsam_cli import exit_codes
from rmpsam_cli.options import frame_range
from rmpsam_cli.run_cmd import run as run_command
from rmpsam_model.checkpoint_errors import CheckpointError
from rmpsam_plugin.errors import InputError, OutputError
from rmpsam_plugin.job.settings import RunSettings

EXECUTABLE_VARIABLE = "RMPSAM_MATTE_EXECUTABLE"
# Set by the farm options themselves, or by each task: not allowed inside --run-args.
_FARM_OWNED = ("--prompts", "--output", "-o", "--frames", "--weights", "--device", "--threads", "--segment",
               "--progress", "--dry-run", "--auto", "--classes")


@click.group("farm")
def farm() -> None:
    """Render-farm jobs: Open Job Description, OpenCue, Deadline; and the check of their output."""


def shot_options(command):
    """PLATE and the run options a farm job is planned with; the command gets a `RunSettings`."""

    @click.argument("plate")
    @click.option("--prompts", "prompts_path", required=True, type=click.Path(path_type=Path), help="Prompt file.")
    @click.option("--output", "-o", required=True, help="Output pattern, e.g. mattes/shot.####.exr.")
    @click.option("--frames", callback=frame_range, help="Frames of the shot, FIRST-LAST (default: all).")
    @click.option("--weights", type=click.Path(path_type=Path),
                  help="Weights file (default: configured, else shipped); tasks get its resolved path.")
    @click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (cuda asks for a GPU).")
    @click.option("--threads", type=int, help="CPU threads per task (also the vCPUs asked for; default 2).")
    @click.option("--run-args", default="", help="More `run` options for every task, e.g. '--no-temporal --size 1024'.")
    @functools.wraps(command)
    def wrapper(plate, prompts_path, output, frames, weights, device, threads, run_args, **rest):
        arguments = _run_args(run_args)
        settings = _settings(plate, prompts_path, output, frames, weights, device, threads, arguments)
        return command(settings=settings, run_args=arguments, **rest)

    return wrapper


def job_options(command):
    """How farm nodes start the tool, and the job's name."""

    @click.option("--executable", envvar=EXECUTABLE_VARIABLE, default="rmpsam-matte", show_default=True,
                  help=f"Command line that starts rmpsam-matte on a farm node (or ${EXECUTABLE_VARIABLE}): a venv's "
                       "rmpsam-matte, or a wrapper such as 'rez env rmpsam -- rmpsam-matte'.")
    @click.option("--name", help="Job name (default: rmpsam_<output name>).")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout, for scripts and the Nuke node.")
    @functools.wraps(command)
    def wrapper(settings, run_args, executable, name, as_json, **rest):
        parts = tuple(shlex.split(executable))
        if not parts:
            raise click.UsageError("--executable is empty")
        job = _plan(settings, run_args, parts, name, command.__name__)
        return command(job=job, as_json=as_json, **rest)

    return wrapper


@farm.command("plan")
@shot_options
@job_options
def plan(job, as_json) -> None:
    """Print the tasks of PLATE's job: one per keyframe segment with its estimates, then the check."""
    summary = job.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"job       {summary['job']}  frames {job.shot_frames}  ({summary['finished_frames']} already finished)")
    for task in summary["tasks"]:
        click.echo(f"task      {task['name']:<22} {task['frame_count']:>4} frames  peak {task['peak_memory_mib']} MiB  "
                   f"{task['core_seconds']:.0f} core-s  {task['vcpus']} vCPU" + (f"  {task['gpus']} GPU" if task["gpus"] else ""))
    click.echo(f"check     frames {job.shot_frames}, after every task")
    click.echo(f"command   {shlex.join(summary['tasks'][0]['command'])}")


@farm.command("openjd")
@shot_options
@job_options
@click.option("--template", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Job template to write (JSON, which is also YAML: job.yaml or job.json).")
def openjd(job, as_json, template) -> None:
    """Write an Open Job Description job template of PLATE's job (`openjd check`, `openjd run`)."""
    from rmpsam_plugin.farm.openjd import write_template

    written, values = _writing(write_template, job, template)
    command = ["openjd", "run", str(written), "-p", f"file://{values}"]
    _report(as_json, "openjd", [written, values], None, command,
            f"wrote {written} ({len(job.tasks)} segment tasks and a check) and its parameters {values.name}; "
            f"run it with: {shlex.join(command)}")


@farm.command("opencue")
@shot_options
@job_options
@click.option("--xml", "xml_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the job spec XML here.")
@click.option("--submit", is_flag=True, help="Submit to the Cuebot configured for pycue (CUEBOT_HOSTS, OPENCUE_CONFIG_FILE).")
@click.option("--show", help="OpenCue show (default: $SHOW, else pyoutline's configured show).")
@click.option("--shot", help="OpenCue shot (default: $SHOT, else pyoutline's configured shot).")
@click.option("--user", default=getpass.getuser, help="OpenCue user (default: you).")
def opencue(job, as_json, xml_path, submit, show, shot, user) -> None:
    """Build PLATE's job with OpenCue's pyoutline: write its spec (--xml) and/or submit it."""
    if xml_path is None and not submit:
        raise click.UsageError("give --xml FILE, --submit, or both")
    from rmpsam_plugin.farm import opencue as cue

    show, shot = show or os.environ.get("SHOW"), shot or os.environ.get("SHOT")
    if submit:  # before anything is written
        _failing(cue.require_cuebot)
    files, submitted, done = [], None, []
    if xml_path is not None:
        files.append(_writing(_write_text, xml_path, cue.job_spec(job, show, shot, user)))
        done.append(f"wrote {xml_path}")
    if submit:
        submitted = _failing(cue.submit, job, show, shot, user)
        done.append(f"submitted {', '.join(submitted)}")
    _report(as_json, "opencue", files, submitted, None, "; ".join(done))


@farm.command("deadline")
@shot_options
@job_options
@click.option("--job-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the job-info and plugin-info files.")
def deadline(job, as_json, job_dir) -> None:
    """Write Deadline 10 CommandLine job files for PLATE's job; submit them if deadlinecommand is on PATH."""
    from rmpsam_plugin.farm import deadline as dl

    files = _writing(dl.write_job_files, job, job_dir)
    written = [path for job_files in files for path in (job_files.job_info, job_files.plugin_info)]
    found = dl.find_deadlinecommand()
    if found is None:
        command = dl.submission_command(files)
        _report(as_json, "deadline", written, None, command,
                f"wrote {job_dir}; deadlinecommand is not on PATH, submit with:\n{shlex.join(command)}")
        return
    ids = _failing(dl.submit, files, found)
    _report(as_json, "deadline", written, ids, dl.submission_command(files, found),
            f"wrote {job_dir}; submitted jobs {', '.join(ids)} (the check job depends on the segments job)")


@farm.command("check")
@shot_options
def check(settings, run_args) -> None:
    """Verify every frame of PLATE's output: present, written with these weights and prompts, every layer.

    Exit code 0 when all are, 4 naming the missing, stale or incomplete frames otherwise."""
    from rmpsam_model.loading import load_model
    from rmpsam_plugin.farm.check import expected_writer, shot_status
    from rmpsam_plugin.job.plan import plan_job

    try:
        shot_plan = plan_job(settings)
        weights = load_model(settings.weights)
    except (InputError, CheckpointError) as error:
        _fail("check", error, exit_codes.BAD_INPUT)
    writer = expected_writer(shot_plan, weights.digest, settings.cryptomatte)
    first, last = shot_plan.shot_range
    status = shot_status(writer, range(first, last + 1))
    if not status.ok:
        for line in status.problems(writer):
            click.echo(f"rmpsam-matte farm check: {line}", err=True)
        sys.exit(exit_codes.OUTPUT_ERROR)
    click.echo(f"all {last - first + 1} frames {first}-{last} of {settings.output} are finished")


@farm.command("segment", context_settings={"ignore_unknown_options": True})
@click.option("--segments", required=True, help="The job's segments, FIRST-LAST,FIRST-LAST,...")
@click.argument("first_frame", type=int)
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def segment(segments, first_frame, run_args) -> None:
    """Run the segment of --segments that starts on FIRST_FRAME: `run RUN_ARGS --segment A-B --progress json`.

    For OpenCue and Deadline, whose tasks are numbered frames: each task's frame is its segment's first."""
    spans = {}
    for text in segments.split(","):
        first, last = frame_range(None, None, text)
        spans[first] = last
    if first_frame not in spans:
        raise click.BadParameter(f"no segment of {segments} starts on frame {first_frame}", param_hint="FIRST_FRAME")
    run_command.main(args=[*run_args, "--segment", f"{first_frame}-{spans[first_frame]}", "--progress", "json"],
                     prog_name="rmpsam-matte run")


def _run_args(text: str) -> tuple[str, ...]:
    arguments = tuple(shlex.split(text))
    for argument in arguments:
        if argument.split("=", 1)[0] in _FARM_OWNED:
            raise click.UsageError(f"--run-args: {argument.split('=', 1)[0]} is set by the farm job itself "
                                   f"(give --prompts/-o/--frames/--weights/--device/--threads as farm options)")
    return arguments


def _settings(plate, prompts, output, frames, weights, device, threads, run_args) -> RunSettings:
    """The run's settings exactly as `run` parses them, --run-args included (a bad one is exit 2 here)."""
    try:
        context = run_command.make_context("run", [plate, "--prompts", str(prompts), "-o", output, *run_args])
    except click.ClickException as error:
        raise click.UsageError(f"--run-args: {error.format_message()}") from None
    p = context.params
    return RunSettings(
        plate=plate, prompts=prompts, output=output, frames=frames, weights=weights, device=device, threads=threads,
        instances=tuple(name.strip() for name in p["instances"].split(",")) if p["instances"] else None,
        size=p["size"], feature_cache_gib=p["feature_cache_gib"], layer=p["layer"], colour_space=p["colour_space"],
        cryptomatte=p["cryptomatte"], passthrough=p["passthrough"], tracker=p["tracker"], blend=p["blend"],
        refine_edges=p["refine_edges"], temporal=p["temporal"], overlap=p["overlap"], compression=p["compression"],
        pixel_type=p["pixel_type"], precision=p["precision"],
    )


def _plan(settings, run_args, executable, name, command_name):
    from rmpsam_plugin.farm.plan import FarmRequest, plan_farm_job

    try:
        return plan_farm_job(FarmRequest(settings, run_args, executable, name))
    except (InputError, CheckpointError) as error:
        _fail(command_name, error, exit_codes.BAD_INPUT)
    except OutputError as error:
        _fail(command_name, error, exit_codes.OUTPUT_ERROR)


def _writing(write, *args):
    """Call a writer of job files; an OS error is exit 4 naming the file."""
    try:
        return write(*args)
    except OSError as error:
        _fail(click.get_current_context().info_name, f"cannot write {error.filename}: {error.strerror}",
              exit_codes.OUTPUT_ERROR)


def _failing(submit, *args):
    try:
        return submit(*args)
    except OutputError as error:
        _fail(click.get_current_context().info_name, error, exit_codes.OUTPUT_ERROR)


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _report(as_json: bool, manager: str, files, submitted, command, message: str) -> None:
    if as_json:
        click.echo(json.dumps({"event": "done", "manager": manager, "files": [str(f) for f in files],
                               "submitted": submitted, "command": command, "message": message}))
    else:
        click.echo(message)


def _fail(command_name: str, error: object, code: int) -> None:
    click.echo(f"rmpsam-matte farm {command_name}: error: {str(error) or type(error).__name__}", err=True)
    sys.exit(code)
