"""Synthetic clips with known motion: a random texture translating globally plus a textured disc moving
on its own, both at sub-pixel speeds. Deterministic per ``(seed, index)``; no files needed.

Optionally (``num_objects > 1``, ``max_rotation``, ``max_zoom``) the scene becomes FlyingChairs-like
(Dosovitskiy et al. 2015, the optical-flow field's standard synthetic training data): more textured
sprites with irregular outlines, each with its own translation, rotation and zoom over a background
that rotates and zooms too. That adds what global translation lacks and real footage has: many motion
boundaries, occlusions and non-translational motion. The defaults render the original scenes exactly.

Two textures: ``noise`` (multi-scale smooth noise plus a few hard-edged rectangles) and ``dead_leaves``
(occluding discs with radii drawn from ``r^-3``: the occlusion model that reproduces the scale
invariance and much of the statistics of natural images; Lee, Mumford & Huang 2001). Dead leaves
carry edges and occlusions at every scale, as real footage does, where the smooth noise has almost
none below its coarsest octave.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.data.augment import Augment
from dynskip.data.base import RestorationDataset
from dynskip.data.degrade import DEGRADATIONS, degrade, quantize_uint8_matlab
from dynskip.data.layout import require_choice
from dynskip.data.samples import vfi_sample, vsr_sample


@dataclass(frozen=True)
class SpriteMotion:
    """One sprite: a textured blob whose outline radius is ``radius * (1 + sum_k a_k cos(k phi + p_k))``.

    At time ``t`` its centre is ``centre + velocity * t``, its orientation ``angle + spin * t`` and its
    scale ``exp(zoom * t)``; the texture moves with it.
    """

    centre: tuple[float, float]  # (x, y) at time 0
    velocity: tuple[float, float]  # (dx, dy) per frame
    radius: float
    harmonics: tuple[tuple[float, float], ...]  # (amplitude, phase) of harmonics k = 2, 3, ...
    angle: float
    spin: float  # radians per frame
    zoom: float  # log scale per frame


@dataclass(frozen=True)
class SyntheticMotion:
    """Ground-truth motion of one sample, in pixels per frame (VFI: per ``img0 -> img1`` interval).

    Background content at ``p`` in frame 0 is at ``c + exp(zoom * t) * R(spin * t) (p - c) + (dx, dy) * t``
    at time ``t``, ``c`` the frame centre and ``R`` a rotation (without spin and zoom: ``p + (dx, dy) * t``).
    """

    background: tuple[float, float]  # (dx, dy)
    object: tuple[float, float]  # (dx, dy) of the disc
    object_centre: tuple[float, float]  # (x, y) at time 0
    object_radius: float
    timestep: float  # VFI target time (0.5 unless drawn at random)
    background_spin: float = 0.0  # radians per frame, about the frame centre
    background_zoom: float = 0.0  # log scale per frame, about the frame centre
    sprites: tuple[SpriteMotion, ...] = ()  # painted over the disc, in order


def _texture(rng: np.random.Generator, height: int, width: int) -> Tensor:
    """``(3, height, width)`` texture: multi-scale smooth noise plus hard-edged rectangles."""
    image = torch.zeros(3, height, width, dtype=torch.float64)
    for cell in (2, 4, 8, 16):
        noise = torch.from_numpy(rng.random((1, 3, height // cell + 2, width // cell + 2)))
        image += F.interpolate(noise, size=(height, width), mode="bilinear", align_corners=True)[0] * cell
    flat = image.flatten(1)
    low, high = flat.min(dim=1).values[:, None, None], flat.max(dim=1).values[:, None, None]
    image = (image - low) / (high - low + 1e-12)
    for _ in range(8):  # sharp edges: what super-resolution and interpolation must keep crisp
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        y1, x1 = y0 + rng.integers(2, max(3, height // 3)), x0 + rng.integers(2, max(3, width // 3))
        image[:, y0:y1, x0:x1] = 0.3 * image[:, y0:y1, x0:x1] + 0.7 * torch.from_numpy(rng.random((3, 1, 1)))
    return image.float()


def _dead_leaves(rng: np.random.Generator, height: int, width: int) -> Tensor:
    """``(3, height, width)`` dead-leaves texture in [0, 1], anti-aliased by 2x supersampling.

    Leaves are painted front to back, each only where no nearer leaf lies, until 99.9% of the canvas
    is covered (equivalent to an endless stack painted back to front); radii follow ``p(r) ~ r^-3`` on
    ``[3, max(6, min(h, w) / 3)]`` pixels, colours a random grey level with a mild tint.
    """
    ss = 2  # supersampling factor
    h2, w2 = height * ss, width * ss
    image = np.zeros((h2, w2, 3), dtype=np.float32)
    # Most leaves (three in four on a 300x500 canvas) land where nearer leaves already cover everything.
    # ``full`` marks the blocks of ``block`` x ``block`` pixels that are covered, so those leaves are
    # skipped after one small lookup; they would paint nothing, so the texture is the same.
    block = 8
    covered = np.ones((-(-h2 // block) * block, -(-w2 // block) * block), dtype=bool)  # padding: covered
    covered[:h2, :w2] = False
    full = np.zeros((covered.shape[0] // block, covered.shape[1] // block), dtype=bool)
    r_min, r_max = 3.0 * ss, max(6.0, min(height, width) / 3.0) * ss
    to_cover, painted, batch = int(0.999 * h2 * w2), 0, 256
    # Pixel centres, sliced per leaf: np.ogrid's per-call overhead dominated the loop (same values).
    row_centres, col_centres = np.arange(h2)[:, None] + 0.5, np.arange(w2)[None, :] + 0.5
    while painted < to_cover:
        u = rng.random(batch)  # inverse CDF of r^-3 on [r_min, r_max]
        radii = (r_min**-2 + u * (r_max**-2 - r_min**-2)) ** -0.5
        centres = rng.random((batch, 2)) * (h2, w2)
        grey = rng.random(batch)[:, None]
        colours = np.clip(grey + 0.15 * rng.standard_normal((batch, 3)), 0.0, 1.0)
        for r, (cy, cx), colour in zip(radii.tolist(), centres.tolist(), colours, strict=True):
            y0, y1 = max(0, int(cy - r)), min(h2, int(cy + r) + 1)
            x0, x1 = max(0, int(cx - r)), min(w2, int(cx + r) + 1)
            if y0 >= y1 or x0 >= x1:
                continue
            by0, by1, bx0, bx1 = y0 // block, -(-y1 // block), x0 // block, -(-x1 // block)
            if full[by0:by1, bx0:bx1].all():
                continue
            free = covered[y0:y1, x0:x1]
            new = ((row_centres[y0:y1] - cy) ** 2 + (col_centres[:, x0:x1] - cx) ** 2 <= r * r) & ~free
            count = np.count_nonzero(new)
            if count:
                image[y0:y1, x0:x1][new] = colour
                free |= new
                painted += count
                blocks = covered[by0 * block : by1 * block, bx0 * block : bx1 * block]
                full[by0:by1, bx0:bx1] = blocks.reshape(by1 - by0, block, bx1 - bx0, block).all(axis=(1, 3))
    out = torch.from_numpy(image).permute(2, 0, 1)[None]
    return F.avg_pool2d(out, ss)[0].contiguous()


TEXTURES = {"noise": _texture, "dead_leaves": _dead_leaves}
MAX_CANVAS_PIXELS = 4096 * 4096  # the background texture's canvas; dead leaves paint it at 2x2 that


def _canvas_margin(speed: float, reach: float, corner: float, twist: float) -> int:
    """Pixels around the frame that the background's content can come from within ``reach`` frames:
    the translation, plus how far spin and zoom (``twist``) move the frame's corners."""
    return math.ceil(speed * reach + (corner + speed * reach) * twist * (1 + twist)) + 4


def _unrotate(x: Tensor, y: Tensor, angle: float) -> tuple[Tensor, Tensor]:
    """``R(-angle) (x, y)``: frame offsets into the coordinates of content rotated by ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    return c * x + s * y, -s * x + c * y


def _sample(canvas: Tensor, xs: Tensor, ys: Tensor) -> Tensor:
    """Bicubic sample of ``(C, Hc, Wc)`` at pixel coordinates ``xs``, ``ys`` of shape ``(H, W)``."""
    hc, wc = canvas.shape[-2:]
    grid = torch.stack((2.0 * xs / (wc - 1) - 1.0, 2.0 * ys / (hc - 1) - 1.0), dim=-1)[None]
    return F.grid_sample(canvas[None], grid, mode="bicubic", padding_mode="border", align_corners=True)[0]


class SyntheticClips(RestorationDataset):
    """Seeded synthetic VSR clips or VFI triplets with known (sub-pixel) motion.

    Args:
        task: ``vsr`` (``num_frames`` GT frames and their degraded LQ) or ``vfi`` (frames at times 0,
            ``timestep`` and 1).
        num_samples: dataset length.
        size: GT frame size, int or ``(h, w)`` (VSR: multiples of ``scale``).
        num_frames: VSR frames per clip (ignored for VFI).
        seed: sample ``i`` is a pure function of ``(seed, i)``.
        scale, degradation: VSR LQ generation.
        max_speed: largest |dx|, |dy| in pixels per frame.
        texture: ``noise`` or ``dead_leaves`` (see the module docstring), for background and objects.
        num_objects: moving objects: the disc plus ``num_objects - 1`` sprites (FlyingChairs-like).
        max_rotation: largest rotation speed of background and sprites, degrees per frame.
        max_zoom: largest relative scale change per frame of background and sprites (0.05 = 5%).
        timestep: VFI target time; None draws it uniformly in (0, 1) per sample.
        augment: training augmentation.
    """

    def __init__(
        self,
        task: str = "vsr",
        num_samples: int = 16,
        size: int | Sequence[int] = 64,
        num_frames: int = 7,
        seed: int = 0,
        scale: int = 4,
        degradation: str = "bi",
        max_speed: float = 2.0,
        timestep: float | None = 0.5,
        augment: Augment | None = None,
        texture: str = "noise",
        num_objects: int = 1,
        max_rotation: float = 0.0,
        max_zoom: float = 0.0,
    ) -> None:
        self.task = require_choice("task", task, ("vsr", "vfi"))
        self.texture = require_choice("texture", texture, tuple(TEXTURES))
        self.degradation = require_choice("degradation", degradation, DEGRADATIONS)
        self.size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) < 16:
            raise ValueError(f"size must be an int or (h, w) of at least 16 pixels, got {size}")
        if task == "vsr" and (self.size[0] % scale or self.size[1] % scale):
            raise ValueError(f"VSR size {self.size} must be a multiple of scale {scale}")
        if num_samples < 1 or num_frames < 1 or max_speed < 0:
            raise ValueError(
                f"need num_samples >= 1, num_frames >= 1, max_speed >= 0; "
                f"got {num_samples}, {num_frames}, {max_speed}"
            )
        if num_objects < 1 or max_rotation < 0 or not 0.0 <= max_zoom < 1.0:
            raise ValueError(
                f"need num_objects >= 1, max_rotation >= 0 and 0 <= max_zoom < 1; "
                f"got {num_objects}, {max_rotation}, {max_zoom}"
            )
        if timestep is not None and not 0.0 <= timestep <= 1.0:
            raise ValueError(f"timestep must be in [0, 1] or None, got {timestep}")
        # The worst scene's background canvas (largest spin and zoom-out over the clip) must fit.
        h, w = self.size
        reach = 1.0 if task == "vfi" else float(num_frames - 1)
        twist = math.radians(max_rotation) * reach + math.expm1(-math.log1p(-max_zoom) * reach)
        margin = _canvas_margin(max_speed, reach, math.hypot((w - 1) / 2, (h - 1) / 2), twist)
        if (h + 2 * margin) * (w + 2 * margin) > MAX_CANVAS_PIXELS:
            raise ValueError(
                f"max_speed={max_speed}, max_rotation={max_rotation}, max_zoom={max_zoom} over {num_frames} "
                f"frames of {h}x{w} need a background canvas of up to {h + 2 * margin}x{w + 2 * margin} "
                f"pixels (limit {MAX_CANVAS_PIXELS}); lower them or use fewer frames"
            )
        self.num_samples, self.num_frames, self.seed = num_samples, num_frames, seed
        self.scale, self.max_speed, self.timestep, self.augment = scale, max_speed, timestep, augment
        self.num_objects, self.max_rotation, self.max_zoom = int(num_objects), max_rotation, max_zoom

    def __len__(self) -> int:
        return self.num_samples

    def _scene(self, index: int) -> tuple[SyntheticMotion, np.random.Generator, np.random.Generator]:
        """The sample's motion, and the generators positioned to draw its textures next: one for the
        background and disc, one for the sprites (a separate stream, so that the default scenes are
        drawn exactly as before sprites existed)."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} synthetic samples")
        rng = np.random.default_rng([self.seed, index])
        h, w = self.size
        background = tuple(float(v) for v in rng.uniform(-self.max_speed, self.max_speed, 2))
        obj = tuple(float(v) for v in rng.uniform(-self.max_speed, self.max_speed, 2))
        centre = (float(rng.uniform(0.25, 0.75) * w), float(rng.uniform(0.25, 0.75) * h))
        radius = float(rng.uniform(0.12, 0.25) * min(h, w))
        timestep = float(rng.uniform(0.0, 1.0)) if self.timestep is None else self.timestep
        sprite_rng, pi = np.random.default_rng([self.seed, index, 1]), math.pi
        spin_limit = math.radians(self.max_rotation)

        def spin_zoom() -> tuple[float, float]:
            spin = float(sprite_rng.uniform(-spin_limit, spin_limit)) if spin_limit else 0.0
            zoom = math.log1p(sprite_rng.uniform(-self.max_zoom, self.max_zoom)) if self.max_zoom else 0.0
            return spin, float(zoom)

        background_spin, background_zoom = spin_zoom()
        sprites = []
        for _ in range(self.num_objects - 1):
            spin, zoom = spin_zoom()
            sprites.append(
                SpriteMotion(
                    centre=(float(sprite_rng.uniform(0.1, 0.9) * w), float(sprite_rng.uniform(0.1, 0.9) * h)),
                    velocity=tuple(float(v) for v in sprite_rng.uniform(-self.max_speed, self.max_speed, 2)),
                    radius=float(sprite_rng.uniform(0.06, 0.2) * min(h, w)),
                    # amplitudes sum below 0.63: the outline radius stays positive (concave blobs)
                    harmonics=tuple(
                        (float(sprite_rng.uniform(0.0, 0.3) / (k - 1)), float(sprite_rng.uniform(0, 2 * pi)))
                        for k in range(2, 6)
                    ),
                    angle=float(sprite_rng.uniform(0, 2 * pi)),
                    spin=spin,
                    zoom=zoom,
                )
            )
        motion = SyntheticMotion(
            background, obj, centre, radius, timestep, background_spin, background_zoom, tuple(sprites)
        )
        return motion, rng, sprite_rng

    def motion(self, index: int) -> SyntheticMotion:
        return self._scene(index)[0]

    def render(self, index: int, times: Sequence[float]) -> Tensor:
        """Frames of sample ``index`` at ``times`` as ``(T, 3, H, W)`` in [0, 1], on the uint8 grid."""
        motion, rng, sprite_rng = self._scene(index)
        h, w = self.size
        centre_x, centre_y = (w - 1) / 2, (h - 1) / 2
        # Canvas margin: the translation, plus how far spin and zoom move the frame's corners.
        reach = max(abs(t) for t in times)
        corner = math.hypot(centre_x, centre_y)
        twist = abs(motion.background_spin) * reach + abs(math.expm1(abs(motion.background_zoom) * reach))
        margin = _canvas_margin(self.max_speed, reach, corner, twist)
        texture = TEXTURES[self.texture]
        background = texture(rng, h + 2 * margin, w + 2 * margin)
        disc_half = math.ceil(motion.object_radius) + 3
        disc = texture(rng, 2 * disc_half + 1, 2 * disc_half + 1)
        sprite_halves = [
            math.ceil(s.radius * (1 + sum(a for a, _ in s.harmonics)) + 3) for s in motion.sprites
        ]
        sprite_textures = [texture(sprite_rng, 2 * half + 1, 2 * half + 1) for half in sprite_halves]
        ys, xs = torch.meshgrid(
            torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
        )
        frames = []
        for t in times:
            bx, by = motion.background
            if motion.background_spin or motion.background_zoom:
                sx, sy = _unrotate(xs - centre_x - bx * t, ys - centre_y - by * t, motion.background_spin * t)
                inverse, cx, cy = math.exp(-motion.background_zoom * t), centre_x + margin, centre_y + margin
                image = _sample(background, sx * inverse + cx, sy * inverse + cy)
            else:  # the original scenes, bit for bit
                image = _sample(background, xs + margin - bx * t, ys + margin - by * t)
            # Disc-local coordinates; the anti-aliased edge is a 1-pixel linear ramp.
            lx = xs - (motion.object_centre[0] + motion.object[0] * t)
            ly = ys - (motion.object_centre[1] + motion.object[1] * t)
            mask = (motion.object_radius + 0.5 - torch.sqrt(lx**2 + ly**2)).clamp(0.0, 1.0)
            image = mask * _sample(disc, lx + disc_half, ly + disc_half) + (1.0 - mask) * image
            for sprite, half, canvas in zip(motion.sprites, sprite_halves, sprite_textures, strict=True):
                scale = math.exp(sprite.zoom * t)
                lx, ly = _unrotate(
                    xs - (sprite.centre[0] + sprite.velocity[0] * t),
                    ys - (sprite.centre[1] + sprite.velocity[1] * t),
                    sprite.angle + sprite.spin * t,
                )
                lx, ly = lx / scale, ly / scale
                phi = torch.atan2(ly, lx)
                outline = 1.0 + sum(
                    a * torch.cos(k * phi + b) for k, (a, b) in enumerate(sprite.harmonics, 2)
                )
                # 1-pixel ramp in frame pixels at the outline
                mask = ((sprite.radius * outline - torch.sqrt(lx**2 + ly**2)) * scale + 0.5).clamp(0.0, 1.0)
                image = mask * _sample(canvas, lx + half, ly + half) + (1.0 - mask) * image
            frames.append(image)
        return quantize_uint8_matlab(torch.stack(frames))

    def __getitem__(self, index: int) -> dict:
        key = f"synthetic-{self.task}/{self.seed}/{index:06d}"
        if self.task == "vfi":
            timestep = self.motion(index).timestep
            img0, gt, img1 = self.render(index, (0.0, timestep, 1.0))
            return vfi_sample(img0, img1, gt, key, timestep, self.augment, index)
        gt = self.render(index, [float(t) for t in range(self.num_frames)])
        return vsr_sample(degrade(gt, self.degradation, self.scale), gt, key, self.scale, self.augment, index)
