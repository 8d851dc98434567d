"""SkipVSR in the registry: official BasicVSR backbone + the shipped estimator (and backbone deltas).

Checkpoint formats ``load_skipvsr_weights`` reads (all with ``weights_only=True``):

- The shipped / exported SkipVSR format (``{"format": "skipvsr-v1", ...}``, see
  :func:`export_skipvsr_checkpoint`): the official backbone named by ``"backbone"`` (an asset of the
  ``basicvsr`` entry, e.g. ``"reds4"``), ``"estimator"`` (the two confidence estimators' tensors) and
  ``"backbone_delta"`` (fp16 differences of the fine-tuned backbone tensors, possibly empty), plus
  ``"config"`` (the architecture kwargs the weights need; a mismatch raises).
- A full SkipVSR state dict, plain or wrapped (``state_dict`` of a Lightning checkpoint with the
  ``model.`` prefix of the task).
- A BasicVSR checkpoint (BasicSR / mmagic / plain): loads the backbone; the estimators keep their
  initialisation (all-active), which is where training starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dynskip.methods.skipvsr.v1.arch import SkipVSR
from dynskip.zoo.basicvsr import PRETRAINED_ASSETS, convert_basicvsr_state_dict
from dynskip.zoo.checkpoint import (
    CheckpointMismatchError,
    add_backbone_deltas,
    load_state_dict_strict,
    read_checkpoint,
)
from dynskip.zoo.registry import PretrainedModel, register_model, resolve_weights

FORMAT = "skipvsr-v1"
ESTIMATOR_PREFIXES = ("backward_estimator.", "forward_estimator.")
CONFIG_KEYS = ("num_feat", "num_block", "num_groups", "tile", "hidden", "temporal_align")
CHECKPOINT_DIR = Path(__file__).resolve().parents[3] / "checkpoints"
SHIPPED = {"reds4": CHECKPOINT_DIR / "skipvsr_reds4.pt"}


def model_config(model: SkipVSR) -> dict[str, Any]:
    """The architecture kwargs a SkipVSR checkpoint depends on."""
    est = model.backward_estimator
    return {
        "num_feat": model.num_feat,
        "num_block": len(model.backward_trunk.residual_blocks),
        "num_groups": model.num_groups,
        "tile": model.tile,
        "hidden": est.hidden,
        "temporal_align": model.temporal_align,
    }


def export_skipvsr_checkpoint(
    model: SkipVSR, path: str | Path, backbone: str = "reds4", extra: Mapping[str, Any] | None = None
) -> Path:
    """Write the small SkipVSR format: estimators (fp32) + fp16 deltas of changed backbone tensors.

    The deltas are taken against the official BasicVSR ``backbone`` weights; unchanged tensors are left
    out, so a checkpoint of a frozen-backbone run holds the estimators only.
    """
    official = convert_basicvsr_state_dict(read_checkpoint(resolve_weights("basicvsr", backbone)))
    state = model.state_dict()
    estimator = {k: v.detach().clone() for k, v in state.items() if k.startswith(ESTIMATOR_PREFIXES)}
    delta = {}
    for key, ref in official.items():
        diff = state[key].detach().float() - ref.float()
        if diff.abs().max() > 0:
            delta[key] = diff.half()
    obj = {
        "format": FORMAT,
        "backbone": backbone,
        "config": model_config(model),
        "estimator": estimator,
        "backbone_delta": delta,
        "extra": dict(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def _load_skipvsr_format(model: SkipVSR, obj: Mapping[str, Any], source: str) -> None:
    config = obj.get("config", {})
    own = model_config(model)
    wrong = {k: (config[k], own[k]) for k in CONFIG_KEYS if k in config and config[k] != own[k]}
    if wrong:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in wrong.items())
        raise CheckpointMismatchError(f"{source} was trained for another SkipVSR configuration: {detail}")
    backbone = obj.get("backbone", "reds4")
    if backbone not in PRETRAINED_ASSETS:
        raise CheckpointMismatchError(
            f"{source}: unknown backbone {backbone!r}; known {sorted(PRETRAINED_ASSETS)}"
        )
    official = convert_basicvsr_state_dict(read_checkpoint(resolve_weights("basicvsr", backbone)))
    state: dict[str, Tensor] = dict(official)
    add_backbone_deltas(state, obj.get("backbone_delta", {}), source)
    if not isinstance(obj.get("estimator"), Mapping):
        raise CheckpointMismatchError(f"{source}: no 'estimator' tensors (a {FORMAT} checkpoint holds them)")
    state.update(obj["estimator"])
    load_state_dict_strict(model, state, source=source)
    if obj.get("backbone_delta"):  # its all-active mode is no longer the official network
        model.dense_reference = PretrainedModel("basicvsr", backbone)


def load_skipvsr_weights(model: SkipVSR, path: Path) -> None:
    """Load any of the formats of the module docstring strictly into ``model``."""
    obj = read_checkpoint(path)
    source = str(path)
    model.dense_reference = None  # set again below for a checkpoint with backbone deltas
    if obj.get("format") == FORMAT:
        _load_skipvsr_format(model, obj, source)
        return
    state = obj.get("state_dict", obj)
    if isinstance(state, Mapping) and any(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    if isinstance(state, Mapping) and any(k.startswith(ESTIMATOR_PREFIXES) for k in state):
        load_state_dict_strict(model, state, source=source)
        return
    # A BasicVSR checkpoint: backbone only, estimators untouched.
    est = {k: v for k, v in model.state_dict().items() if k.startswith(ESTIMATOR_PREFIXES)}
    backbone = convert_basicvsr_state_dict(obj, source=source)
    load_state_dict_strict(model, {**backbone, **est}, source=source)


def load_backbone(model: SkipVSR, weights: str | Path = "reds4") -> None:
    """Load only the BasicVSR backbone (official name or BasicVSR checkpoint); estimators untouched."""
    est = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(ESTIMATOR_PREFIXES)}
    path = resolve_weights("basicvsr", weights)
    state = convert_basicvsr_state_dict(read_checkpoint(path), source=str(path))
    load_state_dict_strict(model, {**state, **est}, source=str(path))


def _shipped(name: str):
    def locate() -> Path:
        path = SHIPPED[name]
        if not path.is_file():
            raise FileNotFoundError(f"the shipped SkipVSR checkpoint {path} is missing from this install")
        return path

    return locate


@register_model(
    "skipvsr",
    task="vsr",
    load_weights=load_skipvsr_weights,
    pretrained={name: _shipped(name) for name in SHIPPED},
)
def skipvsr(backbone: str | None = None, **kwargs: Any) -> SkipVSR:
    """SkipVSR x4 (:class:`~dynskip.methods.skipvsr.v1.arch.SkipVSR`); keyword arguments pass through.

    ``backbone`` (e.g. ``"reds4"``) loads official BasicVSR weights into the backbone when no SkipVSR
    ``weights`` are given (training start).
    """
    model = SkipVSR(**kwargs)
    if backbone is not None:
        load_backbone(model, backbone)
    return model


__all__ = ["export_skipvsr_checkpoint", "load_backbone", "load_skipvsr_weights", "skipvsr"]
