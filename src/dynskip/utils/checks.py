"""Input checks for the whole package, in one place: arguments, image pairs, masks, loss and metric inputs.

Imports only ``torch``, so every layer can use it without climbing up: ``skip/``, ``archs/``,
``losses/``, ``metrics/`` and the method homes. Each check raises ``TypeError`` (wrong kind of value) or
``ValueError`` (wrong shape or value) with a message naming the argument, and, where given, the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import Tensor

T = TypeVar("T")

SCORING_CHANNELS = ("rgb", "y")


# ------------------------------------------------------------------------------------------- values
def check_choice(value: T, name: str, choices: Sequence[T]) -> T:
    """``value`` if it is one of ``choices``; the error lists them: ``mode must be 'a', 'b' or 'c'``."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices[:-1])
        listed = f"{listed} or {choices[-1]!r}" if listed else repr(choices[-1])
        raise ValueError(f"{name} must be {listed}, got {value!r}")
    return value


def check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_size(size: object) -> tuple[int, int]:
    """``size`` as ``(H, W)``, two positive ints."""
    if not isinstance(size, tuple | list | torch.Size) or len(size) != 2:
        raise ValueError(f"size must be (H, W), got {size!r}")
    return check_positive_int(size[0], "size[0] (H)"), check_positive_int(size[1], "size[1] (W)")


def check_tensor(value: object, name: str, caller: str | None = None) -> Tensor:
    """``value`` if it is a tensor; the error reads ``[caller: ]name must be a torch.Tensor``."""
    if not isinstance(value, Tensor):
        prefix = f"{caller}: " if caller else ""
        raise TypeError(f"{prefix}{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


# ------------------------------------------------------------------------------------------- masks
def _check_mask_kind(mask: Tensor, name: str, allow_soft: bool) -> None:
    if mask.dtype != torch.bool and not (allow_soft and mask.is_floating_point()):
        expected = "bool or floating" if allow_soft else "bool"
        raise TypeError(f"{name} must be {expected}, got dtype {mask.dtype}")
    if min(mask.shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(mask.shape)}")


def check_tile_mask(tile_mask: Tensor, name: str = "tile_mask", allow_soft: bool = True) -> Tensor:
    """Raise unless ``tile_mask`` is a ``(B, Ht, Wt)`` bool (or, if ``allow_soft``, floating) tensor."""
    check_tensor(tile_mask, name)
    if tile_mask.dim() != 3:
        raise ValueError(f"{name} must have shape (B, Ht, Wt), got {tuple(tile_mask.shape)}")
    _check_mask_kind(tile_mask, name, allow_soft)
    return tile_mask


def as_pixel_mask(mask: Tensor) -> Tensor:
    """``(B, H, W)`` or ``(B, 1, H, W)`` bool/float mask as ``(B, 1, H, W)``."""
    check_tensor(mask, "mask")
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must have shape (B, H, W) or (B, 1, H, W), got {tuple(mask.shape)}")
    _check_mask_kind(mask, "mask", allow_soft=True)
    return mask


def check_pixel_mask(mask: Tensor, x: Tensor) -> None:
    """``mask`` is ``(B or 1, 1, H, W)`` on ``x``'s device, for an input ``x`` of ``(B, C, H, W)``."""
    if not isinstance(mask, Tensor) or mask.dim() != 4 or mask.shape[1] != 1:
        got = getattr(mask, "shape", type(mask).__name__)
        raise ValueError(f"pixel_mask must be (B, 1, H, W), got {got}")
    if mask.shape[0] not in (1, x.shape[0]) or mask.shape[2:] != x.shape[2:]:
        raise ValueError(
            f"pixel_mask {tuple(mask.shape)} does not match input {tuple(x.shape)}: "
            "expected (B or 1, 1, H, W)"
        )
    if mask.device != x.device:
        raise ValueError(f"pixel_mask is on {mask.device} but the input is on {x.device}")


# --------------------------------------------------------------------------------- network inputs
def check_image_pair(img0: Tensor, img1: Tensor, values: str = "float images in [0, 1]") -> None:
    """Two frames ``(B, 3, H, W)`` of one shape and one float dtype (an interpolation network's input)."""
    if img0.dim() != 4 or img0.shape[1] != 3 or img0.shape != img1.shape:
        raise ValueError(
            f"img0 and img1 must both be (B, 3, H, W) with equal shapes, got {tuple(img0.shape)} and "
            f"{tuple(img1.shape)}"
        )
    if not img0.is_floating_point() or img0.dtype != img1.dtype:
        raise ValueError(f"img0 and img1 must be {values} of one dtype, got {img0.dtype}, {img1.dtype}")


def check_flow_pair(caller: str, x: Tensor, flow: Tensor) -> None:
    """``x`` ``(B, C, H, W)`` and a flow ``(B, 2, H, W)`` of its batch and spatial size."""
    if x.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(
            f"{caller} expects x (B,C,H,W) and flow (B,2,H,W), got {tuple(x.shape)}, {tuple(flow.shape)}"
        )
    if x.shape[0] != flow.shape[0] or x.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"x {tuple(x.shape)} and flow {tuple(flow.shape)} differ in batch or spatial size")


# ------------------------------------------------------------------------------------------ losses
def as_image_batch(x: Tensor, name: str, caller: str) -> Tensor:
    """``x`` as ``(N, C, H, W)``: a 5-D clip batch has its time axis folded into the batch axis."""
    check_tensor(x, name, caller)
    if x.dim() == 5:
        return x.flatten(0, 1)
    if x.dim() == 4:
        return x
    raise ValueError(f"{caller}: {name} must be (B, C, H, W) or (B, T, C, H, W), got {tuple(x.shape)}")


def check_same_shape(caller: str, **tensors: Tensor) -> None:
    """All named tensors share one shape; the error lists every name with its shape."""
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"{caller}: expected equal shapes, got {listed}")


# ----------------------------------------------------------------------------------------- metrics
def check_float_image(image: Tensor, caller: str) -> None:
    if not isinstance(image, Tensor):
        raise TypeError(f"{caller} expects a torch.Tensor, got {type(image).__name__}")
    if not image.is_floating_point():
        raise TypeError(f"{caller} expects floating-point values in [0, 1], got dtype {image.dtype}")


def check_frame_pair(pred: Tensor, target: Tensor, caller: str, channels: int | None = 3) -> None:
    """Both float tensors of one shape ``(..., C, H, W)``; ``C`` must equal ``channels`` unless it is None."""
    for name, value in (("pred", pred), ("target", target)):
        check_tensor(value, name, caller)
        if not value.is_floating_point():
            raise TypeError(f"{caller}: {name} must be floating point in [0, 1], got dtype {value.dtype}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{caller}: pred and target must have the same shape, got pred {tuple(pred.shape)} "
            f"and target {tuple(target.shape)}"
        )
    if pred.dim() < 3 or (channels is not None and pred.shape[-3] != channels):
        expected = f"(..., {channels}, H, W)" if channels is not None else "(..., C, H, W)"
        raise ValueError(f"{caller}: expected frames of shape {expected}, got {tuple(pred.shape)}")


def check_scoring_options(channel: str, crop_border: int, caller: str) -> None:
    """``channel`` is one of :data:`SCORING_CHANNELS`; ``crop_border`` is a non-negative int."""
    if channel not in SCORING_CHANNELS:
        raise ValueError(f"{caller}: channel must be one of {SCORING_CHANNELS}, got {channel!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"{caller}: crop_border must be an int >= 0, got {crop_border!r}")


def check_metric_batch(preds: Tensor, target: Tensor, caller: str, channels: int | None = 3) -> None:
    """A metric ``update`` batch: a valid frame pair of shape ``(B, C, H, W)`` or ``(B, T, C, H, W)``."""
    check_frame_pair(preds, target, caller, channels)
    if preds.dim() not in (4, 5):
        c = channels if channels is not None else "C"
        raise ValueError(f"{caller}: expected (B, {c}, H, W) or (B, T, {c}, H, W), got {tuple(preds.shape)}")
