"""Reading checkpoint files safely and loading state dicts with precise mismatch reports."""

from __future__ import annotations

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


def add_backbone_deltas(state: dict[str, torch.Tensor], deltas: Mapping, source: str) -> None:
    """Add a fine-tune's ``deltas`` (trained - official, any float dtype) to the official ``state`` in place.

    Each delta must name a tensor of ``state`` and have its shape: a broadcastable one would otherwise
    shift the whole tensor silently.
    """
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
