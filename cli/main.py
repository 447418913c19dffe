"""Entry point of `rmpsam-matte`: a click group whose subcommands live in sibling modules.

The command layer is thin: it parses and validates arguments and calls `rmpsam_plugin`.
Exit codes a farm can act on are defined in `rmpsam_cli.exit_codes`.
"""

import os
import signal
import threading


def _let_interrupts_through() -> None:
    """An interrupt (Ctrl-C, Nuke's Cancel, a farm manager's SIGINT) must stop a command even when
    its parent started it with SIGINT ignored, as a non-interactive shell does for a background
    job: Python keeps an inherited SIG_IGN, and a cancelled run would then write the whole shot.
    Done before the imports below, which take seconds (torch), so a Cancel pressed while the
    command starts is not lost either. Each command turns KeyboardInterrupt into its exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _opencv_workers_sleep_when_idle() -> None:
    """OpenCV's pool threads spin for thousands of iterations after each parallel call before
    they sleep (`OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER` 2000 and `_MAIN` 10000 by default). A job
    makes hundreds of short OpenCV calls a frame from several threads beside the network's, and
    that spinning cost about a sixth of the CPU side's CPU a frame on the 2-core development
    machine (`rmpsam-matte bench pipeline --network none`; README, "The CPU side"). OpenCV reads
    the settings when it loads, so they are set here, before the imports below load it, and only
    where the user has not set them."""
    for name in ("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN"):
        os.environ.setdefault(name, "0")


_let_interrupts_through()
_opencv_workers_sleep_when_idle()

import click  # noqa: E402

from rmpsam_cli.allocator import keep_freed_memory  # noqa: E402
from rmpsam_plugin import __version__  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rmpsam-matte")
def main() -> None:
    """RMP-SAM roto mattes for image sequences."""
    keep_freed_memory()


def _register_subcommands() -> None:
    """Import each subcommand module and attach its command; a module missing here is a bug."""
    from rmpsam_cli import commands

    for command in commands.all_commands():
        main.add_command(command)


_register_subcommands()
