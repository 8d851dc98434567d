"""Image files <-> tensors (PIL), and frame folders (sorted image files standing in for a video)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from dynskip.data.errors import CorruptDataError, MissingDataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
# PIL modes that convert to RGB without losing range; 16-bit and float modes would be clipped silently
# (16-bit RGB opens as "RGB" too: see _is_16_bit).
_RGB_CONVERTIBLE_MODES = frozenset({"RGB", "RGBA", "RGBX", "L", "LA", "P", "PA", "CMYK", "YCbCr", "1"})


def read_image(path: str | Path) -> Tensor:
    """Read an image file as ``(3, H, W)`` float32 in [0, 1] (grey and palette images become RGB)."""
    return uint8_to_tensor(read_image_uint8(path))


def read_images(paths: Sequence[str | Path]) -> Tensor:
    """Read the frames of one clip as ``(T, 3, H, W)`` float32 in [0, 1]; a frame of another size is an
    error naming it (a clip's frames must share one size)."""
    frames = [read_image(p) for p in paths]
    for path, frame in zip(paths, frames, strict=True):
        if frame.shape != frames[0].shape:
            raise CorruptDataError(
                f"frame {path} is {tuple(frame.shape[-2:])} (H, W) but {paths[0]} is "
                f"{tuple(frames[0].shape[-2:])}: a clip's frames must share one size"
            )
    return torch.stack(frames)


def uint8_to_tensor(frames: np.ndarray | Tensor) -> Tensor:
    """uint8 ``(..., H, W, 3)`` frames -> float32 ``(..., 3, H, W)`` in [0, 1]."""
    frames = torch.as_tensor(frames)
    if frames.dtype != torch.uint8 or frames.dim() < 3 or frames.shape[-1] != 3:
        raise ValueError(
            f"expected uint8 (..., H, W, 3) frames, got {frames.dtype} of shape {tuple(frames.shape)}"
        )
    return frames.movedim(-1, -3).float().div_(255.0)


def _raw_modes(image: Image.Image) -> str:
    return ", ".join(sorted({str(tile.args) for tile in getattr(image, "tile", []) or []})) or "decoded"


def _is_16_bit(image: Image.Image) -> bool:
    # PIL opens 16-bit-per-channel RGB (PNG, TIFF) as mode "RGB" and keeps only the high byte of each
    # sample; the raw mode of the undecoded tiles ("RGB;16B") still tells.
    return any(";16" in str(tile.args) for tile in getattr(image, "tile", []) or [])


def read_image_uint8(path: str | Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB; errors name the path."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"image file not found: {path}")
    try:
        with Image.open(path) as image:
            if image.mode not in _RGB_CONVERTIBLE_MODES or _is_16_bit(image):
                raise CorruptDataError(
                    f"unsupported image mode {image.mode!r} ({_raw_modes(image)}) in {path}: "
                    "expected an 8-bit RGB, grey or palette image"
                )
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise CorruptDataError(f"cannot read image {path}: {err}") from err


def to_uint8_hwc(image: Tensor | np.ndarray) -> np.ndarray:
    """``(3, H, W)`` float tensor in [0, 1] (rounded half up) or ``(H, W, 3)`` uint8 array -> uint8 HWC."""
    if isinstance(image, Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) image tensor, got shape {tuple(image.shape)}")
        if image.dtype == torch.uint8:
            return image.permute(1, 2, 0).contiguous().cpu().numpy()
        levels = torch.floor(image.detach().float().clamp(0.0, 1.0) * 255.0 + 0.5)
        return levels.to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) array, got {array.dtype} of shape {array.shape}")
    return array


def write_image(path: str | Path, image: Tensor | np.ndarray) -> Path:
    """Write a ``(3, H, W)`` float tensor in [0, 1] or a uint8 ``(H, W, 3)`` array; creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8_hwc(image)).save(path)
    return path


def _natural_key(name: str) -> list:
    # "frame2" before "frame10": digit runs compare as numbers, the rest as text.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def is_frame_folder(path: str | Path) -> bool:
    return Path(path).is_dir()


def list_frames(folder: str | Path) -> list[Path]:
    """Image files of a frame folder in natural order; an empty or missing folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingDataError(f"frame folder not found: {folder}")
    frames = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: _natural_key(p.name),
    )
    if not frames:
        raise MissingDataError(
            f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in frame folder {folder}"
        )
    return frames
