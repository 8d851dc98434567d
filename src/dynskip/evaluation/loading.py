"""Building a model for inference from a registry name, built-in weights or a trained checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dynskip.models import build_model, get_entry
from dynskip.skip.protocol import SkippingModel, execution_mode
from dynskip.zoo.checkpoint import CheckpointMismatchError, load_state_dict_strict, read_checkpoint


def default_weights(name: str) -> str | None:
    """The first built-in weights of a model (its canonical pretrained release), if any."""
    pretrained = get_entry(name).pretrained
    return next(iter(pretrained), None)


# What results name as their weights when the network was never trained (``--allow-random-weights``).
RANDOM_WEIGHTS = "random"


class RandomWeightsError(ValueError):
    """Inference was asked of a model that has no trained weights."""


CLI_REMEDY = (
    "Pass --weights FILE or --ckpt FILE (a trained run), or --allow-random-weights to run it untrained"
)


def refuse_random_weights(
    name: str, weights: str | None, ckpt: str | Path | None, remedy: str = CLI_REMEDY
) -> None:
    """Raise :class:`RandomWeightsError` unless ``weights``, ``ckpt`` or built-in weights give ``name``
    trained parameters: a randomly initialised network's numbers look like results but are not."""
    if weights is None and ckpt is None and default_weights(name) is None:
        raise RandomWeightsError(
            f"model '{name}' has no built-in weights and none were given: it would run with random "
            f"parameters. {remedy} (every result is then marked weights: {RANDOM_WEIGHTS})"
        )


def _is_lightning_checkpoint(path: Path) -> bool:
    try:
        obj = read_checkpoint(path)
    except (RuntimeError, CheckpointMismatchError):
        return False
    return "pytorch-lightning_version" in obj or (isinstance(obj.get("state_dict"), dict) and "epoch" in obj)


def build_with_weights(name: str, weights: str | None, model_args: dict | None) -> nn.Module:
    """``build_model``; a weights file that does not fit and is a Lightning checkpoint gets a --ckpt hint."""
    try:
        return build_model(name, weights=weights, **(model_args or {}))
    except (CheckpointMismatchError, KeyError) as err:
        path = Path(str(weights)).expanduser() if weights is not None else None
        if path is not None and path.is_file() and _is_lightning_checkpoint(path):
            raise CheckpointMismatchError(
                f"{weights} is a Lightning checkpoint of a training run, not weights of '{name}': "
                f"pass it as --ckpt {weights} ({str(err).splitlines()[0]})"
            ) from err
        raise


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
    allow_random_weights: bool = False,
) -> nn.Module:
    """An eval-mode model on ``device``; skipping models run hard masks through the sparse engine.

    ``model_args`` go to the model's constructor (e.g. ``{"active_halo_tiles": 1}`` for ugsp-rife). A
    model with no trained weights is refused unless ``allow_random_weights``.
    """
    if not allow_random_weights:
        refuse_random_weights(name, weights, ckpt)
    if weights is None and ckpt is None:
        weights = default_weights(name)
    model = build_with_weights(name, weights, model_args)
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
