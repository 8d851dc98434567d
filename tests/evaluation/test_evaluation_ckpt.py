"""Evaluating a model from a training checkpoint (``dynskip evaluate --ckpt``): the dense baseline."""

from __future__ import annotations

import pytest
import torch

from dynskip.data.synthetic import SyntheticClips
from dynskip.evaluation.footage import evaluate_clip
from dynskip.evaluation.loading import load_model
from dynskip.models import build_model


def _clip() -> torch.Tensor:
    frames = SyntheticClips("vsr", num_samples=1, size=64, num_frames=3, seed=2, max_speed=2)[0]["gt"]
    return frames  # (3, 3, 64, 64)


def test_a_fine_tuned_checkpoint_is_compared_with_the_network_it_started_from(tmp_path) -> None:
    trained = build_model("ugsp-rife", weights="rife-v3.9")
    with torch.no_grad():
        trained.block3.lastconv.bias.add_(0.05)  # a fine-tuned backbone: its own dense mode has changed
    ckpt = tmp_path / "run.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in trained.state_dict().items()}}, ckpt)

    model = load_model("ugsp-rife", ckpt=ckpt)
    assert torch.equal(model.block3.lastconv.bias, trained.block3.lastconv.bias)
    out = evaluate_clip(model, "vfi", _clip(), "synthetic", compare_dense=True, repeats=1)
    official = evaluate_clip(build_model("rife", weights="rife-v3.9"), "vfi", _clip(), "synthetic", repeats=1)
    assert out["dense"]["psnr"] == pytest.approx(official["psnr"], abs=1e-9)
    assert "before loading" in out["dense"]["baseline"] and str(ckpt) in out["dense"]["baseline"]


def test_a_checkpoint_without_a_state_dict_is_named(tmp_path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"block3.lastconv.bias": torch.zeros(1)}, path)
    with pytest.raises(KeyError, match=r"weights\.pt is not a Lightning checkpoint"):
        load_model("ugsp-rife", ckpt=path)


def test_counted_macs_leave_out_a_models_first_pass_calibration() -> None:
    # SkipVSR times trial blocks on its first sparse forward; those are not part of an evaluated pass.
    clip = SyntheticClips("vsr", num_samples=1, size=64, num_frames=3, seed=4, max_speed=2)[0]["gt"]
    model = load_model("skipvsr")
    first = evaluate_clip(model, "vsr", clip, "synthetic", repeats=1)["gmacs_per_frame"]
    again = evaluate_clip(model, "vsr", clip, "synthetic", repeats=1)["gmacs_per_frame"]
    assert first == again
