"""Image logging that works with every logger the framework supports (CSV, TensorBoard, W&B)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from dynskip.utils.atomic import atomic_file


def to_uint8_image(img: Tensor) -> np.ndarray:
    """``(3, H, W)`` or ``(1, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 array."""
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"expected an image (1|3, H, W), got shape {tuple(img.shape)}")
    img = img.detach().float().clamp(0, 1).cpu()
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return (img.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)


def make_row(images: list[Tensor], pad: int = 2) -> Tensor:
    """Concatenate ``(C, H_i, W_i)`` images side by side, each resized to the tallest by nearest."""
    height = max(im.shape[-2] for im in images)
    tiles = []
    for im in images:
        im = im.detach().float().cpu()
        if im.shape[0] == 1:
            im = im.expand(3, -1, -1)
        if im.shape[-2] != height:
            width = round(im.shape[-1] * height / im.shape[-2])
            im = torch.nn.functional.interpolate(im[None], size=(height, width), mode="nearest")[0]
        tiles.append(torch.nn.functional.pad(im, (pad, pad, pad, pad), value=1.0))
    return torch.cat(tiles, dim=-1)


def save_png(img: Tensor, path: str | Path) -> Path:
    """Save ``img`` as a PNG atomically (replacing ``path``: logged pictures are refreshed by design)."""
    with atomic_file(path, overwrite=True) as temp:
        Image.fromarray(to_uint8_image(img)).save(temp, format="PNG")
    return Path(path)


def log_image(trainer, key: str, img: Tensor, step: int | None = None) -> list[Path]:
    """Send ``img`` ``(3, H, W)`` to every attached logger that takes images; always save a PNG.

    The PNG lands in the first logger's ``log_dir`` (or the trainer's ``default_root_dir``), so runs
    with the plain CSV logger still keep their pictures.
    """
    step = trainer.global_step if step is None else step
    saved: list[Path] = []
    root = None
    for logger in trainer.loggers:
        experiment = getattr(logger, "experiment", None)
        name = type(logger).__name__
        if name == "WandbLogger":
            logger.log_image(key=key, images=[to_uint8_image(img)], step=step)
        elif name == "TensorBoardLogger":
            experiment.add_image(key, img.detach().float().clamp(0, 1).cpu(), global_step=step)
        if root is None and getattr(logger, "log_dir", None):
            root = Path(logger.log_dir)
    root = root or Path(trainer.default_root_dir)
    saved.append(save_png(img, root / "images" / f"{key.replace('/', '_')}_step{step:07d}.png"))
    return saved


def normalise_map(values: Tensor) -> Tensor:
    """A ``(1, h, w)`` map in [0, 1]: kept as is when already there (masks), else min-max scaled."""
    values = values.detach().float()
    low, high = values.min(), values.max()
    if low >= 0 and high <= 1:
        return values
    return (values - low) / (high - low).clamp_min(1e-12)


def overlay_map(frame: Tensor | None, heat: Tensor) -> Tensor:
    """``(3, H, W)`` picture of a [0, 1] ``(1, h, w)`` map: red where high, blue where low, over ``frame``."""
    if frame is not None:
        heat = F.interpolate(heat[None], size=frame.shape[-2:], mode="nearest")[0]
    colour = torch.cat([heat, torch.zeros_like(heat), 1.0 - heat], dim=0)
    if frame is None:
        return colour
    return 0.5 * frame.detach().float().cpu().clamp(0, 1) + 0.5 * colour
