"""A stand-in `deadlinecommand` that records its calls and checks them as strictly as Deadline 10's
documentation describes them, for machines without a Deadline repository.

Installed as an executable named `deadlinecommand` on PATH by `install(bin_dir, log)`. Each call
appends {"argv": [...], "files": {path: text}} to the JSON-lines `log` ($DEADLINE_STANDIN_LOG).

What it enforces, and where Deadline says so:
- https://docs.thinkboxsoftware.com/products/deadline/10.1/1_User%20Manual/manual/command.html
  command arguments may be prefixed with -, -- or nothing and are case-insensitive.
- https://docs.thinkboxsoftware.com/products/deadline/10.1/1_User%20Manual/manual/manual-submission.html
  a job is a job info file and a plugin info file of key=value lines (then optional auxiliary
  files); the job info names the `Plugin`, `Frames` is a frame list; the CommandLine plugin's
  info names the `Executable` and its `Arguments` (tokens <STARTFRAME>, <ENDFRAME>, <QUOTE>...).
- `-SubmitMultipleJobs [-dependent] -job <job info> <plugin info> [aux...] -job ...`: several
  jobs in one call, each depending on the previous one with -dependent (the form pipelines use,
  e.g. Deadline's own multi-job submitters); every job prints `Result=Success` and `JobID=<id>`.
Anything else is refused with a non-zero exit code, as Deadline refuses a job it cannot parse.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

FRAME_LIST = re.compile(r"^-?\d+(-\d+(x\d+)?)?(,-?\d+(-\d+(x\d+)?)?)*$")


def install(bin_dir: Path, log: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "deadlinecommand"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      f"import deadlinecommand_standin\nsys.exit(deadlinecommand_standin.main(sys.argv[1:], {str(log)!r}))\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def read_keys(path: Path) -> dict[str, str]:
    keys = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{number}: not a key=value line: {line!r}")
        key, value = line.split("=", 1)
        keys[key] = value
    return keys


def main(argv: list[str], log: str) -> int:
    files: dict[str, str] = {}
    with open(log, "a", encoding="utf-8") as record:
        record.write(json.dumps({"argv": argv, "cwd": os.getcwd()}) + "\n")
    if not argv or argv[0].lstrip("-").lower() != "submitmultiplejobs":
        print(f"Error: not a valid command: {argv[:1]}", file=sys.stderr)
        return 1
    rest = argv[1:]
    dependent = bool(rest) and rest[0].lstrip("-").lower() == "dependent"
    rest = rest[1:] if dependent else rest
    groups: list[list[str]] = []
    for argument in rest:
        if argument.lstrip("-").lower() == "job":
            groups.append([])
        elif not groups:
            print(f"Error: expected -job before {argument!r}", file=sys.stderr)
            return 1
        else:
            groups[-1].append(argument)
    if not groups:
        print("Error: no -job given", file=sys.stderr)
        return 1
    for number, group in enumerate(groups, 1):
        if len(group) < 2 or not all(Path(path).is_file() for path in group):
            print(f"Error: job {number}: needs an existing job info and plugin info file, got {group}", file=sys.stderr)
            return 1
        try:
            job, plugin = read_keys(Path(group[0])), read_keys(Path(group[1]))
        except ValueError as error:
            print(f"Error: {error}", file=sys.stderr)
            return 1
        problems = [key for key in ("Plugin", "Frames") if not job.get(key)]
        if job.get("Plugin") == "CommandLine" and not plugin.get("Executable"):
            problems.append("Executable (plugin info)")
        if job.get("Frames") and not FRAME_LIST.match(job["Frames"]):
            problems.append(f"Frames={job['Frames']} is not a frame list")
        if problems:
            print(f"Error: job {number} ({group[0]}): {', '.join(problems)}", file=sys.stderr)
            return 1
        files.update({path: Path(path).read_text(encoding="utf-8") for path in group})
    with open(log, "a", encoding="utf-8") as record:
        record.write(json.dumps({"argv": argv, "dependent": dependent, "files": files}) + "\n")
    for number, _ in enumerate(groups, 1):
        print("Result=Success")
        print(f"JobID=standin{number:04d}")
    return 0
