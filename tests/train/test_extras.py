"""Optional loggers are pyproject extras: a logger config whose package is missing fails before anything
is built, naming the logger and the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dynskip.config import compose_config
from dynskip.train import build_components


def hide_modules(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``names`` unimportable, as on an install without the extra (None in sys.modules)."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    ("logger", "modules", "extra"),
    [("wandb", ("wandb",), "wandb"), ("tensorboard", ("tensorboard", "tensorboardX"), "tensorboard")],
)
def test_a_logger_without_its_extra_names_the_extra(
    logger: str, modules: tuple[str, ...], extra: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = compose_config("train", [f"logger={logger}", "data.train.num_samples=2"], tmp_path / "run")
    hide_modules(monkeypatch, *modules)
    with pytest.raises(
        ModuleNotFoundError,
        match=rf"logger\.{logger} \(.*\) needs the {modules[0]} package: "
        rf"pip install 'dynskip\[{extra}\]'",
    ):
        build_components(cfg)
    assert not (tmp_path / "run").exists()  # failed before any logger or trainer wrote anything


def test_csv_logger_needs_no_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = compose_config("train", ["logger=csv", "trainer.max_steps=1"], tmp_path)
    hide_modules(monkeypatch, "wandb", "tensorboard", "tensorboardX")
    _, _, trainer = build_components(cfg)
    from pytorch_lightning.loggers import CSVLogger

    assert len(trainer.loggers) == 1 and isinstance(trainer.loggers[0], CSVLogger)
