"""Plain-text tables for benchmark output: readable in a farm log, no terminal features needed."""

from __future__ import annotations

from rmpsam_plugin.bench.machine import this_machine


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-align the first column, right-align the numbers, one header rule. The first line names
    the machine (`bench.machine`): every bench prints its table through here, so no figure leaves
    without the CPU it was measured on."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join([str(first).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(rest, widths[1:])])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([this_machine().line(), line(headers), rule] + [line(row) for row in rows])
