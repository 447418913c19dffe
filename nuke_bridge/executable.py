"""How to start the tool from Nuke: the node's `executable` knob, else $RMPSAM_MATTE_EXECUTABLE,
else `rmpsam-matte` on PATH.

Nuke's own Python cannot import the tool (no torch), so the tool lives in another environment and
the bridge only needs a command that starts it. Studios name that command in one of two ways:
the `rmpsam-matte` script of a virtual environment, or that environment's Python (some sites wrap
interpreters rather than scripts); a Python gets `-c` to call the CLI's entry point. A value that
is not an existing path is split like a shell line, so `"/opt/env/bin/python" -X utf8` works.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from typing import List, Optional

ENV_VAR = "RMPSAM_MATTE_EXECUTABLE"
DEFAULT = "rmpsam-matte"
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$", re.IGNORECASE)
_ENTRY_POINT = "import sys; from rmpsam_cli.main import main; sys.exit(main(prog_name='rmpsam-matte'))"


class ExecutableError(Exception):
    pass


def configured(knob_value: Optional[str] = None, environ: Optional[dict] = None) -> str:
    """The configured command line: the knob, else the environment variable, else the default."""
    environ = os.environ if environ is None else environ
    for candidate in (knob_value, environ.get(ENV_VAR)):
        if candidate and candidate.strip():
            return candidate.strip()
    return DEFAULT


def command_prefix(setting: str) -> List[str]:
    """The argv that starts `rmpsam-matte` (subcommand and options follow)."""
    parts = [setting] if os.path.exists(setting) else shlex.split(setting, posix=(os.name != "nt"))
    if not parts:
        raise ExecutableError("the rmpsam-matte executable setting is empty")
    program = parts[0]
    if os.sep not in program and (os.altsep is None or os.altsep not in program):
        found = shutil.which(program)
        if found is None:
            raise ExecutableError("cannot find %r on PATH; set the node's executable knob or $%s"
                                  % (program, ENV_VAR))
        program = found
    elif not os.path.exists(program):
        raise ExecutableError("the rmpsam-matte executable %s does not exist" % program)
    parts[0] = program
    if _PYTHON.match(os.path.basename(program)) and "-c" not in parts and "-m" not in parts:
        parts += ["-c", _ENTRY_POINT]
    return parts
