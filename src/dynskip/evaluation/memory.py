"""How much memory an inference run will take, estimated from the frame size and model before it starts.

Peak resident memory of a forward pass grows linearly with the pixels it holds: a constant (weights,
workspaces) plus bytes per input pixel of one pass plus, for recurrent VSR, bytes per pixel of every frame
in the window (features and flows kept for both propagation directions). The coefficients were measured
here as the growth of peak RSS (``ru_maxrss``) over one CPU forward at two sizes (BasicVSR: 64x64 and
128x128 LR, 4 and 8 frames; RIFE / UGSP: 256x256 and 512x512), rounded up. They bound CPU runs; a
GPU holds about the same tensors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class MemoryProfile:
    constant: float  # bytes: weights, allocator and library workspaces
    per_pixel: float  # bytes per input pixel of one pass (the upsampling or decoder peak)
    per_frame_pixel: float = 0.0  # bytes per input pixel of each frame a recurrent pass holds


# Measured (see the module docstring), rounded up by about a quarter.
PROFILES = {
    "basicvsr": MemoryProfile(constant=80e6, per_pixel=7.5e3, per_frame_pixel=1.8e3),
    # The confidence estimator and the sparse engine's tile buffers: about 3x BasicVSR's peak.
    "skipvsr": MemoryProfile(constant=80e6, per_pixel=28e3, per_frame_pixel=2.5e3),
    "rife": MemoryProfile(constant=20e6, per_pixel=480.0),
    "ugsp-rife": MemoryProfile(constant=20e6, per_pixel=480.0),
    "ugsp": MemoryProfile(constant=20e6, per_pixel=2.5e3),
}
# Unknown (newly registered) models: the largest of the known per-pixel costs.
FALLBACK = MemoryProfile(constant=80e6, per_pixel=28e3, per_frame_pixel=2.5e3)


class MemoryLimitError(MemoryError):
    """The estimated peak memory of a run is above the allowed limit; nothing was run."""


def machine_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_limit_bytes() -> int:
    """Half the machine's RAM: room for the rest of the system and the frames being written."""
    return machine_memory_bytes() // 2


def estimate_bytes(model: str, size: tuple[int, int], frames_per_pass: int = 1) -> int:
    """Peak bytes of one forward of ``model`` on ``size`` = (H, W) input frames; ``frames_per_pass`` is
    the number of frames one recurrent (VSR) forward takes."""
    profile = PROFILES.get(model, FALLBACK)
    pixels = size[0] * size[1]
    return int(profile.constant + pixels * (profile.per_pixel + profile.per_frame_pixel * frames_per_pass))


def frames_bytes(count: int, size: tuple[int, int]) -> int:
    """Memory of ``count`` float32 RGB frames of ``size`` held besides the forward (clips, outputs)."""
    return count * size[0] * size[1] * 3 * 4


def check_memory(estimate: int, limit: int | None, what: str, remedy: str) -> None:
    """Raise :class:`MemoryLimitError` naming the estimate, the limit and ``remedy`` when it is above."""
    limit = default_limit_bytes() if limit is None else limit
    if estimate > limit:
        raise MemoryLimitError(
            f"{what} needs about {estimate / GIB:.1f} GiB of memory (estimate), above the limit of "
            f"{limit / GIB:.1f} GiB (--max-memory; default half of this machine's "
            f"{machine_memory_bytes() / GIB:.0f} GiB); nothing was run. {remedy}"
        )


def upscale_remedy() -> str:
    return "Tile the frames spatially (--tile 256, say), or shorten the windows (--chunk / --overlap)."


def interpolate_remedy() -> str:
    return "Run RIFE at a reduced flow scale (--scale 0.5), or downscale the video first."
