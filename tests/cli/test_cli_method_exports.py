"""The methods' export commands (``python -m dynskip.cli.ugsp_export`` / ``skipvsr_export``): a Lightning
checkpoint of a run -> the shipped format, which loads back into the same network."""

from __future__ import annotations

from pathlib import Path

import torch

from dynskip.cli import skipvsr_export, ugsp_export
from dynskip.models import build_model


def _lightning_checkpoint(model: torch.nn.Module, path, step: int) -> str:
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "global_step": step}, path)
    return str(path)


def test_ugsp_export_writes_a_checkpoint_that_loads_back(tmp_path, capsys) -> None:
    model = build_model("ugsp-rife", weights="rife-v3.9").eval()
    with torch.no_grad():
        model.block3.lastconv.bias.add_(0.01)  # a fine-tuned backbone tensor
    ckpt = _lightning_checkpoint(model, tmp_path / "last.ckpt", step=3)
    assert ugsp_export.main([ckpt, str(tmp_path / "out.pt")]) == 0
    assert "wrote" in capsys.readouterr().out
    again = build_model("ugsp-rife", weights=str(tmp_path / "out.pt"))
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_skipvsr_export_writes_a_checkpoint_that_loads_back(tmp_path, capsys) -> None:
    model = build_model("skipvsr-v2", weights="reds4", patch=16).eval()
    ckpt = _lightning_checkpoint(model, tmp_path / "last.ckpt", step=7)
    assert skipvsr_export.main([ckpt, str(tmp_path / "out.pt"), "--patch", "16"]) == 0
    assert "patch 16" in capsys.readouterr().out
    stored = torch.load(tmp_path / "out.pt", weights_only=True)
    assert stored["extra"] == {"source_step": 7}
    again = build_model("skipvsr-v2", weights=str(tmp_path / "out.pt"), patch=16)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)


def test_skipvsr_export_of_the_first_design(tmp_path, capsys) -> None:
    model = build_model("skipvsr", weights="reds4").eval()
    with torch.no_grad():
        model.forward_trunk.residual_blocks[0].conv1.bias.add_(0.01)  # a fine-tuned backbone tensor
    ckpt = _lightning_checkpoint(model, tmp_path / "last.ckpt", step=5)
    assert skipvsr_export.main([ckpt, str(tmp_path / "out.pt"), "--model", "skipvsr"]) == 0
    assert "wrote" in capsys.readouterr().out
    again = build_model("skipvsr", weights=str(tmp_path / "out.pt"))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value, atol=1e-3, rtol=0)  # fp16 deltas


def _hydra_run(tmp_path, config: str) -> Path:
    """A run directory as Hydra writes it: ``.hydra/config.yaml`` beside ``checkpoints/``."""
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(config)
    (tmp_path / "checkpoints").mkdir()
    return tmp_path / "checkpoints" / "last.ckpt"


def test_skipvsr_export_reads_the_patch_the_run_trained_with(tmp_path, capsys) -> None:
    ckpt = _hydra_run(tmp_path, "model:\n  name: skipvsr-v2\n  patch: 16\n")
    assert skipvsr_export.run_patch(ckpt) == 16
    model = build_model("skipvsr-v2", weights="reds4", patch=16).eval()
    _lightning_checkpoint(model, ckpt, step=1)
    assert skipvsr_export.main([str(ckpt), str(tmp_path / "out.pt")]) == 0
    assert "patch 16, from the run's .hydra/config.yaml" in capsys.readouterr().out
    stored = torch.load(tmp_path / "out.pt", weights_only=True)
    assert stored["config"]["patch"] == 16


def test_skipvsr_export_without_a_patch_in_the_run_config_uses_the_model_default(tmp_path) -> None:
    assert skipvsr_export.run_patch(_hydra_run(tmp_path, "model:\n  name: skipvsr-v2\n")) is None
    assert skipvsr_export.run_patch(tmp_path / "elsewhere" / "last.ckpt") is None
