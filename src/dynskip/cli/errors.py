"""How the ``dynskip`` command reports problems: one line on stderr, exit code 2, and deprecations.

A user error (a missing file, a wrong value, a model of the wrong task) is one line naming what was
wrong and what was expected; ``--debug`` re-raises it so the traceback shows.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

EXIT_USAGE = 2  # argparse's code for bad input; every user error exits with it
EXIT_INTERRUPTED = 130


class CLIError(ValueError):
    """Bad command-line input detected by the CLI itself (a value the parser could not check)."""


class DeprecatedSpelling(FutureWarning):
    """An old option spelling that still works (FutureWarning: shown to end users by default)."""


def warn_deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; {new}", DeprecatedSpelling, stacklevel=2)


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line (no usage block), exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def error_message(err: BaseException) -> str:
    """The exception's own text; ``KeyError`` would otherwise come back quoted."""
    text = str(err.args[0] if isinstance(err, KeyError) and err.args else err)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"dynskip: warning: {message}\n"


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings print as ``dynskip: warning: ...`` (no source line) while the command runs."""
    previous = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        yield
    finally:
        warnings.formatwarning = previous


def run_reporting_errors(func: Callable[[], object], prog: str, debug: bool) -> int:
    """Run ``func``; an exception becomes one ``prog: error: ...`` line and exit code 2.

    ``debug`` re-raises instead, so the traceback shows.
    """
    try:
        func()
    except KeyboardInterrupt as err:
        if debug:
            raise
        reason = f" ({err})" if str(err) else ""  # SIGTERM: "terminated by signal 15" (utils.atomic)
        print(f"{prog}: interrupted{reason}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug:
            raise
        hint = "" if isinstance(err, CLIError) else f" [{type(err).__name__}; --debug shows the traceback]"
        print(f"{prog}: error: {error_message(err)}{hint}", file=sys.stderr)
        return EXIT_USAGE
    return 0
