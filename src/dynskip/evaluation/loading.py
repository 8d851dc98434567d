"""Building a model for inference from a registry name, built-in weights or a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dynskip.models import build_model, get_entry
from dynskip.models.checkpoint import load_state_dict_strict, read_checkpoint
from dynskip.skip.protocol import SkippingModel, execution_mode


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


class _DenseMode(nn.Module):
    """Runs ``inner`` with every skippable unit on."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        with execution_mode(self.inner, "dense"):
            return self.inner(*args, **kwargs)


class BuiltDenseBaseline:
    """Dense baseline of a model loaded from a training checkpoint: the model as built from its weights,
    before the checkpoint, with every unit on. A run that fine-tuned the backbone is then compared with
    the network it started from, not with its own dense mode (``model.dense_reference`` protocol)."""

    def __init__(self, model: nn.Module, label: str) -> None:
        self.model, self.label = model, label

    def __call__(self) -> nn.Module:
        return _DenseMode(self.model)

    def __str__(self) -> str:
        return self.label


def _checkpoint_baseline(name: str, weights: str | None, ckpt: str | Path, model_args: dict | None):
    """The dense baseline for a skipping model trained into ``ckpt``: the network built from ``weights``
    (the registry default when none are given, as the training recipes start from), every unit on, or
    the official network those weights name when they carry backbone deltas themselves."""
    start = weights if weights is not None else default_weights(name)
    built = build_model(name, weights=start, **(model_args or {})).eval()
    if built.dense_reference is not None:
        return built.dense_reference
    label = f"{name} (weights {start}) with every unit active, before loading {ckpt}"
    return BuiltDenseBaseline(built, label)


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
        if isinstance(model, SkippingModel):
            model.dense_reference = _checkpoint_baseline(name, weights, ckpt, model_args)
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
