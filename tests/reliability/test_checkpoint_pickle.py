"""Pickle payloads are still refused by every checkpoint loader: the model registry's weights
(``zoo/checkpoint.py``), a Lightning checkpoint given to ``--ckpt``, ``ckpt_path=PATH`` and
``ckpt_path=last`` in training, and ``ckpt_path`` in evaluation. The payload would create a file if
it ever ran; no test may find that file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dynskip.config import compose_config
from dynskip.eval import evaluate
from dynskip.evaluation.loading import load_lightning_checkpoint
from dynskip.models import build_model
from dynskip.train import train
from dynskip.zoo.checkpoint import read_checkpoint
from helpers.training import TINY_VSR


class Payload:
    """Unpickling this runs code: it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def write_payload(path: Path, marker: Path) -> Path:
    """A Lightning-shaped checkpoint whose state dict carries the payload."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"model.w": Payload(marker)}, "global_step": 2, "epoch": 0}, path)
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "payload-ran"
    yield path
    assert not path.exists(), "the pickle payload ran"


def test_the_payload_is_live(tmp_path: Path, marker: Path) -> None:
    """Control: loading without weights_only really runs it (so the other tests can fail)."""
    torch.load(write_payload(tmp_path / "x.ckpt", marker), weights_only=False)
    assert marker.exists()
    marker.unlink()


def test_registry_reader_refuses(tmp_path: Path, marker: Path) -> None:
    path = write_payload(tmp_path / "w.pth", marker)
    with pytest.raises(RuntimeError, match=f"cannot read checkpoint {path}"):
        read_checkpoint(path)


@pytest.mark.parametrize("name", ["basicvsr", "rife", "ugsp", "skipvsr", "ugsp-rife"])
def test_registry_weights_refuse(name: str, tmp_path: Path, marker: Path) -> None:
    path = write_payload(tmp_path / "w.pth", marker)
    with pytest.raises(RuntimeError, match="cannot read checkpoint"):
        build_model(name, weights=str(path))


def test_cli_ckpt_loader_refuses(tmp_path: Path, marker: Path) -> None:
    """``dynskip evaluate / upscale / interpolate --ckpt`` load through this function."""
    path = write_payload(tmp_path / "run.ckpt", marker)
    with pytest.raises(RuntimeError, match="cannot read checkpoint"):
        load_lightning_checkpoint(nn.Linear(1, 1), path)


def test_training_ckpt_path_refuses(tmp_path: Path, marker: Path) -> None:
    path = write_payload(tmp_path / "elsewhere" / "run.ckpt", marker)
    with pytest.raises(Exception, match="Weights only load failed"):
        train(compose_config("train", [*TINY_VSR, f"ckpt_path={path}"], tmp_path / "run"))


def test_training_ckpt_path_last_skips_it_and_says_why(tmp_path: Path, marker: Path) -> None:
    out = tmp_path / "run"
    write_payload(out / "checkpoints" / "last.ckpt", marker)
    with pytest.raises(
        RuntimeError, match=r"no checkpoint in .* loads: last\.ckpt: .*Weights only load failed"
    ):
        train(compose_config("train", [*TINY_VSR, "ckpt_path=last"], out))


def test_evaluation_ckpt_path_refuses(tmp_path: Path, marker: Path) -> None:
    path = write_payload(tmp_path / "run.ckpt", marker)
    overrides = ["task=vsr", "model=basicvsr", *TINY_VSR[:4], f"ckpt_path={path}"]
    cfg = compose_config("eval", overrides, tmp_path / "eval")
    with pytest.raises(Exception, match="Weights only load failed"):
        evaluate(cfg)
