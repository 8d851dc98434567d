"""Building a model for inference from a registry name, built-in weights or a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dynskip.models import build_model, get_entry
from dynskip.models.checkpoint import load_state_dict_strict, read_checkpoint
from dynskip.skip.protocol import SkippingModel


def default_weights(name: str) -> str | None:
    """The first built-in weights of a model (its canonical pretrained release), if any."""
    pretrained = get_entry(name).pretrained
    return next(iter(pretrained), None)


def load_lightning_checkpoint(model: nn.Module, path: str | Path) -> None:
    """Load the ``model.*`` weights of a ``RestorationTask`` checkpoint (weights_only)."""
    obj = read_checkpoint(path)
    state = obj.get("state_dict")
    if state is None:
        raise KeyError(
            f"{path} is not a Lightning checkpoint (no 'state_dict'); pass it as --weights instead"
        )
    model_state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    if not model_state:
        raise KeyError(f"{path}: no 'model.*' keys in its state_dict; keys start with {sorted(state)[:3]}")
    load_state_dict_strict(model, model_state, source=str(path))


def load_model(
    name: str,
    weights: str | None = None,
    ckpt: str | Path | None = None,
    device: str = "cpu",
    threshold: float | None = None,
    model_args: dict | None = None,
) -> nn.Module:
    """An eval-mode model on ``device``; skipping models run hard masks through the sparse engine.

    ``model_args`` go to the model's constructor (e.g. ``{"active_halo_tiles": 1}`` for ugsp-rife).
    """
    if weights is None and ckpt is None:
        weights = default_weights(name)
    model = build_model(name, weights=weights, **(model_args or {}))
    if ckpt is not None:
        load_lightning_checkpoint(model, ckpt)
    model.eval().to(device)
    if isinstance(model, SkippingModel):
        model.execution_mode = "sparse"
        if threshold is not None:
            model.threshold = threshold
    elif threshold is not None:
        raise ValueError(f"--threshold applies to skipping models; '{name}' has no skipping")
    if torch.device(device).type == "cuda":
        model.to(memory_format=torch.channels_last)
    return model
