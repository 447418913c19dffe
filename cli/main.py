"""Entry point of `rmpsam-matte`: a click group whose subcommands live in sibling modules.

The command layer is thin: it parses and validates arguments and calls `rmpsam_plugin`.
Exit codes a farm can act on are defined in `rmpsam_cli.exit_codes`.
"""

import click

from rmpsam_cli.allocator import keep_freed_memory
from rmpsam_plugin import __version__


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
