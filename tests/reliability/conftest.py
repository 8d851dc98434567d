"""Fixtures of the reliability battery: running ``dynskip`` as a user does and reading its one-line errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from dynskip.cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, CLIError
from dynskip.cli.main import main


def _subcommand(argv: list[str]) -> str:
    """``upscale`` of ``["upscale", ...]`` and ``bench model`` of ``["bench", "model", ...]``."""
    words = [a for a in argv if not a.startswith("-")]
    return " ".join(words[:2]) if words[0] in ("bench", "footage") else words[0]


@pytest.fixture
def cli_fails(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``cli_fails(argv, error, match)``: ``main(argv)`` exits 2 with one ``dynskip CMD: error: ...`` line.

    The line must name ``error`` (its ``[Type; --debug ...]`` hint; a ``CLIError`` has none, nor has
    ``SystemExit``, which stands for the parser's own refusal of an option) and
    ``re.search`` ``match``, the text the old ``pytest.raises(error, match=...)`` checked. With
    ``alone`` (the default) it is all of stderr: the run stopped before any progress output. The line
    comes back for further checks.
    """

    def run(argv: list[str], error: type[BaseException], match: str, alone: bool = True) -> str:
        capsys.readouterr()  # what earlier runs of the test printed
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse refused an option before main ran anything
            code = exit_.code
        err = capsys.readouterr().err
        assert code == EXIT_USAGE, f"exit code {code}, stderr:\n{err}"
        assert "Traceback" not in err, err
        lines = err.strip().splitlines()
        if alone:
            assert len(lines) == 1, err
        line = lines[-1]
        assert [x for x in lines if ": error: " in x] == [line], err
        assert line.startswith(f"dynskip {_subcommand(argv)}: error: "), line
        if issubclass(error, (CLIError, SystemExit)):
            assert not line.endswith("--debug shows the traceback]"), line
        else:
            assert line.endswith(f" [{error.__name__}; --debug shows the traceback]"), line
        assert re.search(match, line), f"{match!r} not in {line!r}"
        return line

    return run


@pytest.fixture
def cli_interrupted(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``cli_interrupted(argv, match)``: ``main(argv)`` stopped by Ctrl-C / SIGTERM exits 130 and says so."""

    def run(argv: list[str], match: str) -> str:
        capsys.readouterr()
        code = main(argv)
        err = capsys.readouterr().err
        assert code == EXIT_INTERRUPTED, f"exit code {code}, stderr:\n{err}"
        assert "Traceback" not in err, err
        line = err.strip().splitlines()[-1]
        assert line.startswith(f"dynskip {_subcommand(argv)}: interrupted"), line
        assert re.search(match, line), f"{match!r} not in {line!r}"
        return line

    return run


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model (``load_model``, or ``exportable_module`` for ``export``) means the refusal came
    too late: either raises ``AssertionError("the model was loaded ...")``."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the run was checked")

    monkeypatch.setattr("dynskip.evaluation.loading.load_model", refuse)
    monkeypatch.setattr("dynskip.cli.export.exportable_module", refuse)
