"""``skipvsr-v2`` in the registry: official BasicVSR weights (plus fine-tuned deltas) under the reuse policy.

Checkpoints ``load_skipvsr_v2_weights`` reads (``weights_only=True``):

- the SkipVSR v2 format ``{"format": "skipvsr-v2", "backbone": "reds4", "config": {...},
  "policy": {...}, "backbone_delta": packed int8 or {key: fp16 tensor}}``
  (:func:`export_skipvsr_v2_checkpoint`):
  the official backbone named by ``backbone`` plus the deltas a fine-tune made, and the fitted policy;
- a SkipVSR v2 state dict, plain or inside a Lightning checkpoint (``model.`` prefix);
- a BasicVSR checkpoint (BasicSR / mmagic / plain), including the built-in ``reds4`` and ``vimeo90k-*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dynskip.methods.skipvsr.arch import SkipVSRv2
from dynskip.zoo.basicvsr import PRETRAINED_ASSETS, convert_basicvsr_state_dict
from dynskip.zoo.checkpoint import (
    CheckpointMismatchError,
    add_backbone_deltas,
    load_state_dict_strict,
    pack_int8_deltas,
    read_checkpoint,
)
from dynskip.zoo.registry import PretrainedModel, register_model, resolve_weights

FORMAT = "skipvsr-v2"
CONFIG_KEYS = ("num_feat", "num_block", "patch")


def model_config(model: SkipVSRv2) -> dict[str, Any]:
    """The architecture values a v2 checkpoint was trained for."""
    return {
        "num_feat": model.num_feat,
        "num_block": len(model.backward_trunk.residual_blocks),
        "patch": model.patch,
    }


def official_state(backbone: str) -> dict[str, torch.Tensor]:
    if backbone not in PRETRAINED_ASSETS:
        raise CheckpointMismatchError(
            f"unknown BasicVSR backbone {backbone!r}; known {sorted(PRETRAINED_ASSETS)}"
        )
    path = resolve_weights("basicvsr", backbone)
    return convert_basicvsr_state_dict(read_checkpoint(path), source=str(path))


DELTA_FORMATS = ("int8", "float16")


def export_skipvsr_v2_checkpoint(
    model: SkipVSRv2,
    path: str | Path,
    backbone: str = "reds4",
    extra: Mapping[str, Any] | None = None,
    delta_format: str = "int8",
) -> Path:
    """Write the deltas of every backbone tensor that differs from the official ``backbone``.

    ``delta_format``: ``"int8"`` (one buffer, per-output-channel scales, :func:`pack_int8_deltas`; a
    BasicVSR fine-tune fits in under 5 MB) or ``"float16"`` (one tensor per key, twice the bytes).
    """
    if delta_format not in DELTA_FORMATS:
        raise ValueError(f"delta_format must be one of {DELTA_FORMATS}, got {delta_format!r}")
    state = model.state_dict()
    delta = {}
    for key, ref in official_state(backbone).items():
        diff = state[key].detach().float() - ref.float()
        if diff.abs().max() > 0:
            delta[key] = diff if delta_format == "int8" else diff.half()
    if delta_format == "int8" and delta:  # no fine-tune: nothing to pack
        delta = pack_int8_deltas(delta)
    policy = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
    obj = {"format": FORMAT, "backbone": backbone, "config": model_config(model), "policy": policy}
    obj["backbone_delta"] = delta
    obj["extra"] = dict(extra or {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def _load_v2_format(model: SkipVSRv2, obj: Mapping[str, Any], source: str) -> None:
    config, own = obj.get("config", {}), model_config(model)
    wrong = {k: (config[k], own[k]) for k in CONFIG_KEYS if k in config and config[k] != own[k]}
    if wrong:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in wrong.items())
        fix = " ".join(f"--model-arg {k}={a!r}" for k, (a, _) in wrong.items())
        raise CheckpointMismatchError(
            f"{source} was fine-tuned for another SkipVSR v2 configuration: {detail}; build the model "
            f"with the checkpoint's values ({fix}, or model.<key>=<value> in a Hydra config)"
        )
    backbone = obj.get("backbone", "reds4")
    state = official_state(backbone)
    add_backbone_deltas(state, obj.get("backbone_delta", {}), source)
    if not isinstance(obj.get("policy"), Mapping):
        raise CheckpointMismatchError(f"{source}: no 'policy' tensors (a {FORMAT} checkpoint holds them)")
    state.update({f"policy.{k}": v for k, v in obj["policy"].items()})
    load_state_dict_strict(model, state, source=source)
    if obj.get("backbone_delta"):  # every patch running is no longer the official network
        model.dense_reference = PretrainedModel("basicvsr", backbone)


def load_skipvsr_v2_weights(model: SkipVSRv2, path: Path) -> None:
    """Load any format of the module docstring strictly into ``model``."""
    obj = read_checkpoint(path)
    model.dense_reference = None
    if obj.get("format") == FORMAT:
        _load_v2_format(model, obj, str(path))
        return
    state = obj.get("state_dict", obj)
    if isinstance(state, Mapping) and any(k.startswith("model.") for k in state):
        state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
        load_state_dict_strict(model, state, source=str(path))
        return
    # A BasicVSR checkpoint: the backbone; the policy keeps the model's own (fitted default) values.
    policy = {f"policy.{k}": v for k, v in model.policy.state_dict().items()}
    state = convert_basicvsr_state_dict(obj, source=str(path))
    load_state_dict_strict(model, {**state, **policy}, source=str(path))


# Round 2's selection (experiments/skipvsr/v2/README.md): REDS4 backbone + int8 deltas of phase 2 on
# the footage pool. Since round 6 the default is the official backbone under the class's policy (the
# first built-in weights, "reds4"); round 2's setting is patch=16 (the checkpoint holds it, a model of
# another patch refuses it), change_reference="frame", halo_ring=0, threshold 0.3.
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "skipvsr_v2_footage.pt"


def _official(asset: str):
    return lambda: resolve_weights("basicvsr", asset)


@register_model(
    "skipvsr-v2",
    task="vsr",
    load_weights=load_skipvsr_v2_weights,
    pretrained={**{name: _official(name) for name in PRETRAINED_ASSETS}, "footage": lambda: SHIPPED},
)
def skipvsr_v2(**kwargs: Any) -> SkipVSRv2:
    """SkipVSR v2 x4 (:class:`~dynskip.methods.skipvsr.arch.SkipVSRv2`); keyword arguments pass through."""
    return SkipVSRv2(**kwargs)
