"""Inputs and checks shared by the reliability battery (imported by its test files)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dynskip.cli.main import main


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``root`` (hidden ones included)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary outputs still in ``folder`` (see ``dynskip.utils.atomic``)."""
    return sorted(p.name for p in folder.iterdir() if ".dynskip-tmp-" in p.name)


def cli_ok(argv: list[str]) -> None:
    """``main(argv)`` succeeds; ``--debug`` lets a failure show its own traceback, not just exit code 2."""
    assert main(["--debug", *argv]) == 0
