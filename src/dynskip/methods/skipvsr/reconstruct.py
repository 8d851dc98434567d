"""BasicVSR's reconstruction on LR patches only, and the output reuse of SkipVSR v2.

Where both trunks reused a patch at frame ``t`` (the forward state there is the previous frame's,
warped; the backward state the next frame's, warped), its output is taken as the previous output frame
warped along the forward flow, upsampled x4 (:func:`warp_output`); elsewhere
:func:`reconstruct_patches` runs the reconstruction exactly as the dense network does, on windows around
those patches only. Two approximations come with the reuse: a reused patch next to a reconstructed one
does not see the fresh features within 2 LR px of their border, and the backward trunk's decision gates
the reuse at the same frame ``t``, whereas ``out[t] = warp(out[t-1])`` asks for its state at ``t - 1``
to be the one at ``t`` warped (its decision at ``t - 1``). Both were measured as the rule stands
(experiments/skipvsr/v2/README.md, "Round 8"); the ``t - 1`` gate is untried.

The helpers work out of place on ``unfold`` views (several pyramid levels, zeroed per level), where the
tile engine's :class:`~dynskip.skip.plan.TileCanvas` keeps one in-place canvas per level.

The reconstruction (``fusion`` 1x1, ``upconv1`` 3x3 + pixel shuffle, ``upconv2`` 3x3 + pixel shuffle,
``conv_hr`` 3x3, ``conv_last`` 3x3) reads :data:`RECONSTRUCT_REACH` LR pixels beyond a patch: 1 at LR,
1/2 at x2, 1/4 + 1/4 at x4. Windows are computed unpadded, and at every level the positions that lie
outside the frame are zeroed, as the dense convs' zero padding reads them; so the patches' values are
the dense network's (up to float rounding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.archs.basicvsr_arch import SCALE, BasicVSR
from dynskip.archs.warp import flow_warp
from dynskip.skip.cost import conv_macs
from dynskip.skip.tiles import tile_grid_shape

__all__ = [
    "RECONSTRUCT_REACH",
    "put_patches",
    "reconstruct_macs_per_pixel",
    "reconstruct_patch_macs",
    "reconstruct_patches",
    "take_patches",
    "warp_output",
]

RECONSTRUCT_REACH = 2  # LR pixels each side a patch's reconstruction reads


def _window_positions(first: Tensor, size: int, extent: int) -> Tensor:
    """``(n, size)`` bool: which positions from each window's ``first`` lie in ``[0, extent)``."""
    pos = first[:, None] + torch.arange(size, device=first.device)[None]
    return (pos >= 0) & (pos < extent)


def _zero_outside(y: Tensor, first_row: Tensor, first_col: Tensor, height: int, width: int) -> Tensor:
    """``y`` ``(n, C, hh, ww)`` windows with the positions outside the ``height x width`` map zeroed."""
    rows = _window_positions(first_row, y.shape[2], height)
    cols = _window_positions(first_col, y.shape[3], width)
    if bool(rows.all()) and bool(cols.all()):
        return y
    return y * (rows[:, None, :, None] & cols[:, None, None, :]).to(y.dtype)


def take_patches(x: Tensor, sample: Tensor, row: Tensor, col: Tensor, size: int, reach: int = 0) -> Tensor:
    """Windows ``(n, C, size + 2 reach, size + 2 reach)`` around patches ``(sample, row, col)`` of ``x``.

    ``x`` ``(B, C, H, W)`` is zero-padded by ``reach`` (and up to whole patches at the bottom and right).
    """
    h, w = x.shape[-2:]
    gh, gw = tile_grid_shape(h, w, size)
    padded = F.pad(x, (reach, gw * size - w + reach, reach, gh * size - h + reach))
    windows = padded.unfold(2, size + 2 * reach, size).unfold(3, size + 2 * reach, size)
    return windows[sample, :, row, col]


def put_patches(x: Tensor, values: Tensor, sample: Tensor, row: Tensor, col: Tensor) -> Tensor:
    """``x`` ``(B, C, H, W)`` with patches ``(sample, row, col)`` replaced by ``values`` ``(n, C, s, s)``
    (a new tensor; parts of a border patch beyond the map are dropped)."""
    size = values.shape[-1]
    h, w = x.shape[-2:]
    gh, gw = tile_grid_shape(h, w, size)
    padded = F.pad(x, (0, gw * size - w, 0, gh * size - h))  # a copy: ``x`` is never written
    padded.unfold(2, size, size).unfold(3, size, size)[sample, :, row, col] = values
    return padded[..., :h, :w]


def reconstruct_patches(
    net: BasicVSR,
    feat_backward: Tensor,
    feat_forward: Tensor,
    sample: Tensor,
    row: Tensor,
    col: Tensor,
    patch: int,
) -> Tensor:
    """:meth:`BasicVSR.reconstruct_residual` on LR patches only: ``(n, 3, 4 patch, 4 patch)``.

    ``feat_*`` ``(B, num_feat, h, w)``; ``(sample, row, col)`` ``(n,)`` index the ``patch x patch`` LR
    patches (grid ``ceil(h / patch) x ceil(w / patch)``). Border patches are computed whole; the part
    beyond the frame is not meaningful.
    """
    h, w = feat_backward.shape[-2:]
    reach = RECONSTRUCT_REACH
    x = take_patches(torch.cat([feat_backward, feat_forward], 1), sample, row, col, patch, reach)
    x = x.contiguous(memory_format=torch.channels_last)
    top, left = row * patch - reach, col * patch - reach  # LR position of each window's first pixel
    y = _zero_outside(net.lrelu(net.fusion(x)), top, left, h, w)
    y = net.lrelu(net.pixel_shuffle(F.conv2d(y, net.upconv1.weight, net.upconv1.bias)))
    y = _zero_outside(y, 2 * (top + 1), 2 * (left + 1), 2 * h, 2 * w)
    y = net.lrelu(net.pixel_shuffle(F.conv2d(y, net.upconv2.weight, net.upconv2.bias)))
    y = _zero_outside(y, 4 * top + 6, 4 * left + 6, 4 * h, 4 * w)
    y = net.lrelu(F.conv2d(y, net.conv_hr.weight, net.conv_hr.bias))
    y = _zero_outside(y, 4 * top + 7, 4 * left + 7, 4 * h, 4 * w)
    return F.conv2d(y, net.conv_last.weight, net.conv_last.bias)


def _reconstruct_convs(net: BasicVSR) -> tuple[nn.Conv2d, ...]:
    return (net.fusion, net.upconv1, net.upconv2, net.conv_hr, net.conv_last)


def reconstruct_macs_per_pixel(net: BasicVSR) -> float:
    """MACs of the dense reconstruction per LR pixel (the bilinear image term is not a MAC)."""
    sides = (1, 1, 2, SCALE, SCALE)  # each conv's output side per LR pixel (pixel shuffles between)
    return float(sum(conv_macs(conv, s, s) for conv, s in zip(_reconstruct_convs(net), sides, strict=True)))


def reconstruct_patch_macs(net: BasicVSR, patch: int) -> float:
    """MACs :func:`reconstruct_patches` spends on one patch, its windows' halos included."""
    p = patch
    sides = (p + 4, p + 2, 2 * p + 2, 4 * p + 2, 4 * p)  # each conv's output window side
    return float(sum(conv_macs(conv, s, s) for conv, s in zip(_reconstruct_convs(net), sides, strict=True)))


def warp_output(previous: Tensor, flow: Tensor) -> Tensor:
    """The previous output frame ``(B, 3, 4h, 4w)`` warped onto this one along the LR ``flow``
    ``(B, 2, h, w)`` (the flow that warped the forward hidden state), upsampled x4 with its values x4.

    Border padding: a patch near the edge keeps the edge's colour rather than black. A warp is not a
    MAC: the reports' MACs do not count it (its time is in every measured speed-up).
    """
    hr_flow = F.interpolate(flow, scale_factor=SCALE, mode="bilinear", align_corners=False) * SCALE
    return flow_warp(previous, hr_flow, padding_mode="border")
