"""Result tables for the terminal (rich)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from dynskip.evaluation.loading import RANDOM_WEIGHTS

_COLUMNS = [
    ("model", "model", "{}"),
    ("threshold", "thr", "{}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("psnr_y", "PSNR-Y", "{:.2f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("psnr_drop", "PSNR drop", "{:+.3f}"),
    ("active_fraction", "active", "{:.3f}"),
    ("macs_saved_fraction", "MACs saved", "{:.1%}"),
    ("gmacs_per_frame", "GMACs/frame", "{:.2f}"),
    ("seconds_per_frame", "s/frame", "{:.4f}"),
    ("speedup", "speed-up", "{:.2f}x"),
    ("frames", "frames", "{}"),
]


def _fmt(fmt: str, value: object) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _console() -> Console:
    # Logs and CI are not terminals: rich would squeeze the tables to 80 columns there.
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _result_columns(results: Sequence[dict]) -> list[tuple[str, str, str]]:
    cols = [c for c in _COLUMNS if any(c[0] in r for r in results)]
    # An untrained network's numbers are not results: such rows say so in the table too.
    if any(r.get("weights") == RANDOM_WEIGHTS for r in results):
        cols.insert(1, ("weights", "weights", "{}"))
    return cols


def print_results(results: Sequence[dict], title: str = "") -> None:
    """A table of footage results; columns absent from every row are left out."""
    cols = _result_columns(results)
    table = Table(title=title)
    for _, header, _ in cols:
        table.add_column(header, justify="right")
    for r in results:
        table.add_row(*[_fmt(fmt, r.get(key)) for key, _, fmt in cols])
    _console().print(table)


def results_markdown(results: Sequence[dict], title: str = "") -> str:
    """The same table as :func:`print_results`, as markdown."""
    cols = _result_columns(results)
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(header for _, header, _ in cols) + " |")
    lines.append("| " + " | ".join("---" for _ in cols) + " |")
    lines += ["| " + " | ".join(_fmt(fmt, r.get(key)) for key, _, fmt in cols) + " |" for r in results]
    return "\n".join(lines) + "\n"


def print_rows(rows: Sequence[dict], title: str = "") -> None:
    """A plain table of homogeneous dict rows (benchmarks)."""
    if not rows:
        return
    table = Table(title=title)
    keys = list(rows[0])
    for key in keys:
        table.add_column(key, justify="right")
    for row in rows:
        table.add_row(*[_fmt("{:.4g}", row[k]) if isinstance(row[k], float) else str(row[k]) for k in keys])
    _console().print(table)
