"""The registry entries of both UGSP backbones (task ``vfi``): ``ugsp`` and ``ugsp-rife``.

``ugsp``: the UGSP paper network, trained from scratch; no official weights ship.
``build_model("ugsp", weights=PATH)`` reads, strictly:

- a Lightning checkpoint of a ``ugsp`` run (``state_dict`` with ``model.`` prefixes), e.g. phase 1's
  ``last.ckpt`` to start phase 2 from;
- a full state dict of :class:`~dynskip.methods.ugsp.arch.UGSP`;
- an official ``flownet_*.pkl`` (``module.`` prefixes or not): the backbone is renamed key by key
  (:func:`~dynskip.methods.ugsp.arch.official_key`) and loaded strictly; the official pixel-level
  ``conv_mask`` heads have no twin here, so the shared mask heads and the uncertainty head keep their
  initialisation.

``ugsp-rife``: UGSP spatial pruning on the official RIFE v3.9 backbone.
``build_model("ugsp-rife", weights="rife-v3.9")`` loads the official RIFE weights and the heads
(plus backbone deltas, when trained) shipped in ``dynskip/checkpoints/ugsp_rife_v3.9.pt``.

Checkpoint format (plain tensors and strings; ``weights_only=True``)::

    {"format": "dynskip.ugsp_rife/1", "backbone": "rife-v3.9",
     "heads": {"mask_heads.block2.body.0.weight": ..., "uncertainty_head....": ...},
     "backbone_deltas": {"block3.convblock.0.0.weight": trained - official, ...}}   # may be empty

``weights`` may also be an official RIFE file (backbone only; heads stay at their all-keep
initialisation) or a full state dict of :class:`UGSPRIFE`.

Exporting a trained run: ``python -m dynskip.cli.ugsp_export RUN/checkpoints/last.ckpt OUT.pt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from dynskip.assets import asset_path
from dynskip.methods.ugsp.arch import UGSP, official_key
from dynskip.methods.ugsp.rife_arch import UGSPRIFE
from dynskip.zoo.checkpoint import (
    CheckpointMismatchError,
    add_backbone_deltas,
    load_state_dict_strict,
    read_checkpoint,
)
from dynskip.zoo.registry import PretrainedModel, register_model
from dynskip.zoo.rife import read_rife_state

HEAD_PREFIXES = ("mask_heads.", "uncertainty_head.")

# ---------------------------------------------------------------------------------------------- ugsp


def _is_official(state: Mapping[str, Tensor]) -> bool:
    return any(k.removeprefix("module.").startswith(("context.", "glblock_")) for k in state)


def convert_official_state(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """An official ``IFNet`` state dict renamed to ours, its ``conv_mask`` heads dropped."""
    out = {}
    for key, value in state.items():
        ours = official_key(key)
        if ours is not None:
            out[ours] = value
    return out


def load_ugsp_weights(model: UGSP, path: Path) -> None:
    """Load a Lightning checkpoint, a full state dict or an official file into ``model``, strictly."""
    state = read_checkpoint(path)
    if isinstance(state.get("state_dict"), Mapping):  # Lightning: the task holds the network as `model`
        lightning = state["state_dict"]
        state = {k.removeprefix("model."): v for k, v in lightning.items() if k.startswith("model.")}
        if not state:
            raise CheckpointMismatchError(f"{path}: Lightning checkpoint without `model.` weights")
    if _is_official(state):
        heads = {k: v for k, v in model.state_dict().items() if k.startswith(HEAD_PREFIXES)}
        load_state_dict_strict(model, {**convert_official_state(state), **heads}, source=str(path))
        return
    load_state_dict_strict(model, state, source=str(path))


@register_model("ugsp", task="vfi", pretrained={}, load_weights=load_ugsp_weights)
def ugsp(**kwargs) -> UGSP:
    return UGSP(**kwargs)


# ----------------------------------------------------------------------------------------- ugsp-rife

FORMAT = "dynskip.ugsp_rife/1"
SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "ugsp_rife_v3.9.pt"


def shipped_checkpoint() -> Path:
    if not SHIPPED.is_file():
        raise FileNotFoundError(f"the shipped ugsp-rife checkpoint is missing at {SHIPPED}")
    return SHIPPED


def _backbone_state(model: UGSPRIFE) -> dict[str, Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(HEAD_PREFIXES)}


def load_ugsp_rife_weights(model: UGSPRIFE, path: Path) -> None:
    """Load a UGSP-RIFE checkpoint (our format), an official RIFE file, or a full state dict, strictly."""
    state = read_checkpoint(path)
    model.dense_reference = None  # set again below for a checkpoint with backbone deltas
    if state.get("format") == FORMAT:
        backbone_name = str(state.get("backbone", "rife-v3.9"))
        backbone = read_rife_state(asset_path(backbone_name))
        add_backbone_deltas(backbone, dict(state.get("backbone_deltas", {})), str(path))
        load_state_dict_strict(model, {**backbone, **dict(state["heads"])}, source=str(path))
        if state.get("backbone_deltas"):  # its own dense mode is no longer the official RIFE
            model.dense_reference = PretrainedModel("rife", backbone_name)
        return
    if any(k.startswith(HEAD_PREFIXES) for k in state):
        load_state_dict_strict(model, state, source=str(path))
        return
    # Official RIFE file: the backbone strictly, heads keep their initialisation.
    own = model.state_dict()
    heads = {k: v for k, v in own.items() if k.startswith(HEAD_PREFIXES)}
    load_state_dict_strict(model, {**read_rife_state(path), **heads}, source=str(path))


DELTA_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_checkpoint(
    model: UGSPRIFE, out: str | Path, delta_tolerance: float = 0.0, delta_dtype: str = "float32"
) -> Path:
    """Write ``model``'s heads and its backbone's differences from the official weights to ``out``.

    ``delta_dtype="float16"`` halves a fine-tune's file. Only the deltas are rounded (relative error
    at most 2**-11, absolute at most 3e-8 below float16's normal range); loading adds them to the
    float32 official weights, so the model stays float32.
    """
    if delta_dtype not in DELTA_DTYPES:
        raise ValueError(f"delta_dtype must be one of {sorted(DELTA_DTYPES)}, got {delta_dtype!r}")
    official = read_rife_state(asset_path("rife-v3.9"))
    state = model.state_dict()
    deltas = {}
    for key, value in _backbone_state(model).items():
        delta = value.detach() - official[key]
        if float(delta.abs().max()) > delta_tolerance:
            if delta.is_floating_point():  # integer buffers are stored as they are
                delta = delta.to(DELTA_DTYPES[delta_dtype])
                if not torch.isfinite(delta).all():
                    raise ValueError(f"backbone delta {key} does not fit in {delta_dtype}; use float32")
            deltas[key] = delta.clone()
    payload = {
        "format": FORMAT,
        "backbone": "rife-v3.9",
        "heads": {k: v.detach().clone() for k, v in state.items() if k.startswith(HEAD_PREFIXES)},
        "backbone_deltas": deltas,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, out)
    return out


def _state_from_lightning(path: str | Path) -> dict[str, Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    state = ckpt.get("state_dict", ckpt)
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")} or dict(state)


@register_model(
    "ugsp-rife",
    task="vfi",
    # rife-v3.9: the shipped heads on official RIFE; rife-v3.9-backbone: official RIFE, untrained heads.
    pretrained={"rife-v3.9": shipped_checkpoint, "rife-v3.9-backbone": lambda: asset_path("rife-v3.9")},
    load_weights=load_ugsp_rife_weights,
)
def ugsp_rife(**kwargs) -> UGSPRIFE:
    return UGSPRIFE(**kwargs)
