"""Reading checkpoint files safely and loading state dicts with precise mismatch reports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn


class CheckpointMismatchError(RuntimeError):
    """A state dict does not fit a model; the message lists every offending key."""


def read_checkpoint(path: str | Path) -> dict:
    """``torch.load`` with ``weights_only=True`` on CPU; a clear error for unreadable files."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise RuntimeError(f"cannot read checkpoint {path}: the file is empty (0 bytes)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt / unsafe files
        # Some (EOFError on a cut-off file) carry no message: the type is then the reason.
        reason = str(err) or f"{type(err).__name__} (truncated or not a checkpoint)"
        raise RuntimeError(f"cannot read checkpoint {path}: {reason}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointMismatchError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict")
    return dict(obj)


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "") -> None:
    """Load ``state`` into ``model`` strictly, listing missing, unexpected and wrong-shape keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if tuple(state[k].shape) != tuple(own[k].shape)
    )
    if missing or unexpected or wrong:
        where = f" from {source}" if source else ""
        parts = [f"state dict{where} does not match {type(model).__name__}:"]
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
                parts.append(f"  {label} keys ({len(keys)}): {shown}")
        raise CheckpointMismatchError("\n".join(parts))
    model.load_state_dict(state, strict=True)


PACKED_INT8 = "packed_int8"  # the key that marks :func:`pack_int8_deltas`'s form


def pack_int8_deltas(deltas: Mapping[str, torch.Tensor]) -> dict[str, object]:
    """All ``deltas`` in one int8 buffer with one float32 scale per output channel (dim 0).

    A quarter of float32's bytes, and two file records instead of one per tensor (a zip record costs
    about 0.4 kB, which for BasicVSR's 254 tensors would outweigh the savings of fp16 scales). Rounding
    error: at most ``max |delta| / 254`` of each channel. :func:`unpack_int8_deltas` inverts it.
    """
    keys, shapes, values, scales = [], [], [], []
    for key, delta in deltas.items():
        if delta.dim() == 0:
            raise ValueError(f"delta {key!r} is a scalar; int8 packing needs an output-channel dimension")
        flat = delta.detach().float().reshape(delta.shape[0], -1)
        scale = (flat.abs().amax(1, keepdim=True) / 127.0).clamp_min(torch.finfo(torch.float32).tiny)
        values.append(torch.round(flat / scale).clamp(-127, 127).to(torch.int8).flatten())
        scales.append(scale.flatten())
        keys.append(key)
        shapes.append(list(delta.shape))
    return {PACKED_INT8: torch.cat(values), "scale": torch.cat(scales), "keys": keys, "shapes": shapes}


def unpack_int8_deltas(packed: Mapping, source: str) -> dict[str, torch.Tensor]:
    """:func:`pack_int8_deltas`'s form back to ``{key: float32 delta}``; a clear error if malformed."""
    values, scales = packed.get(PACKED_INT8), packed.get("scale")
    keys, shapes = packed.get("keys"), packed.get("shapes")
    sizes = [math.prod(shape) for shape in shapes] if isinstance(shapes, list) else []
    ok = isinstance(values, torch.Tensor) and values.dtype == torch.int8 and isinstance(scales, torch.Tensor)
    ok = ok and isinstance(keys, list) and len(keys) == len(sizes) and values.numel() == sum(sizes)
    ok = ok and scales.numel() == sum(shape[0] for shape in shapes if shape)
    if not ok:
        raise CheckpointMismatchError(
            f"{source}: packed int8 deltas must hold '{PACKED_INT8}' (int8), 'scale' (one float per output "
            "channel), 'keys' and 'shapes' of matching sizes"
        )
    out = {}
    for key, shape, q, scale in zip(
        keys, shapes, values.split(sizes), scales.split([shape[0] for shape in shapes]), strict=True
    ):
        out[key] = (q.float().reshape(shape[0], -1) * scale[:, None]).reshape(shape)
    return out


def add_backbone_deltas(state: dict[str, torch.Tensor], deltas: Mapping, source: str) -> None:
    """Add a fine-tune's ``deltas`` (trained - official: any float dtype, or :func:`pack_int8_deltas`'s
    form) to the official ``state`` in place.

    Each delta must name a tensor of ``state`` and have its shape: a broadcastable one would otherwise
    shift the whole tensor silently.
    """
    if PACKED_INT8 in deltas:
        deltas = unpack_int8_deltas(deltas, source)
    for key, delta in deltas.items():
        if key not in state:
            raise CheckpointMismatchError(f"{source}: backbone delta for unknown key {key!r}")
        if not isinstance(delta, torch.Tensor) or delta.shape != state[key].shape:
            got = tuple(delta.shape) if isinstance(delta, torch.Tensor) else type(delta).__name__
            raise CheckpointMismatchError(
                f"{source}: backbone delta {key!r} is {got}, "
                f"expected a tensor of shape {tuple(state[key].shape)}"
            )
        state[key] = (state[key].float() + delta.float()).to(state[key].dtype)
