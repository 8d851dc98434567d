"""Sparse execution of conv chains on active tiles, and the dense-masked twins that define them.

Two skip semantics, one mask type (:class:`~dynskip.skip.plan.TilePlan`, built once per tile mask):

Residual skip (SkipVSR, BasicVSR ``ResidualBlockNoBN``): ``y = x + m * f(x)``. ``f`` runs only on
active tiles, reading the tile plus the halo ``f`` needs (2 for conv3x3-act-conv3x3); inactive
tiles keep ``x``.

- ``residual_skip(x, layers, plan, mode="auto") -> Tensor``: one block.
- ``residual_skip_chain(x, blocks, plans, mode="auto") -> Tensor``: a trunk of blocks, each with
  its own plan (``None``: dense, unmasked), ``x`` kept in one padded buffer across blocks.
- ``residual_skip_dense(x, layers, pixel_mask) -> Tensor``: the definition, differentiable, soft
  masks allowed.
- ``residual_reuse_chain(x, blocks, plan, fill, mode="auto") -> (y, r)``: a block group whose skipped
  tiles take a given residual instead of none (temporal reuse): ``y = x + r``,
  ``r = m * (G(x) - x) + (1 - m) * fill`` with ``G`` the blocks run as above; ``fill`` is asked only
  for the skipped positions. Inference; its definition is ``residual_skip_dense`` per block plus
  ``(1 - m) * fill``.

Masked features (UGSP decoders, RIFE IFBlock convblocks): every conv output is multiplied by the
mask before its activation, ``y = act(m * conv(x))``, so inactive positions hold zeros and the next
conv reads zeros there. Executed layer by layer with a halo of 1 (a 3x3 conv's reach).

- ``masked_conv(x, conv, plan, activation=None, mode="auto") -> Tensor``: one conv; ``x`` may be a
  list of tensors, read as their channel concatenation (UGSP's 1x1 over all earlier outputs).
- ``masked_chain(x, layers, plan, mode="auto", collect=False, head=None) -> Tensor | list``:
  ``layers`` run with features kept compact; ``collect=True`` returns every step's output;
  ``head`` (layers) is applied to the channel concatenation of all step outputs and its result
  returned (UGSP: ``conv_last(cat(out_l))``).
- ``masked_conv_dense`` / ``masked_chain_dense``: the definitions (pixel masks, soft allowed).

``layers`` is ``[conv, act, conv, act, ...]`` (see :mod:`dynskip.skip.steps`): 3x3/1x1 stride-1
convs, 3x3 stride-2 convs and ConvTranspose2d(4, 2, 1), activations ReLU/LeakyReLU/PReLU.
The plan lives at the level of the chain's input; a stride-2 conv moves to the next coarser level
(the tile halves: it must be even), a transposed conv to the finer one (the tile doubles).

Modes: ``"sparse"`` runs the tile engine (inference only: it raises when autograd needs
gradients); ``"dense"`` runs the dense-masked twin with the plan's
hard mask (same numbers, differentiable); ``"auto"`` runs dense when autograd needs gradients or
the active fraction is at or above the calibrated cut-over (:mod:`dynskip.skip.fallback`), sparse
otherwise. All-inactive plans return the skip path (``x``; zeros) without computing anything.
Sparse outputs are channels-last views into the engine's padded buffers (valid tensors; call
``.contiguous()`` if a plain layout is needed). Image borders behave as the dense zero-padded convs:
whatever falls outside the image is zeroed before a later conv can read it. The hot loops live in
:mod:`dynskip.skip.sparse`, the index bookkeeping in :mod:`dynskip.skip.plan`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.skip.fallback import dense_above
from dynskip.skip.plan import TileCanvas, TilePlan
from dynskip.skip.sparse import SparseFeatures, masked_steps_sparse, residual_block_sparse
from dynskip.skip.steps import ConvStep, parse_steps
from dynskip.utils.checks import check_choice, check_pixel_mask

__all__ = [
    "masked_chain",
    "masked_chain_dense",
    "masked_conv",
    "masked_conv_dense",
    "residual_reuse_chain",
    "residual_runs_sparse",
    "residual_skip",
    "residual_skip_chain",
    "residual_skip_dense",
]

Mode = Literal["auto", "sparse", "dense"]
ENGINE_MODES = ("auto", "sparse", "dense")
Layers = nn.Module | Iterable[nn.Module]


# ----------------------------------------------------------------------------------------- helpers
def _needs_grad(x: Tensor | Sequence[Tensor], steps: Sequence[ConvStep]) -> bool:
    if not torch.is_grad_enabled():
        return False
    xs = [x] if isinstance(x, Tensor) else list(x)
    return any(t.requires_grad for t in xs) or any(
        p.requires_grad for s in steps for m in (s.conv, s.act) if m is not None for p in m.parameters()
    )


def _check_inference(mode: str, x: Tensor | Sequence[Tensor], steps: Sequence[ConvStep]) -> None:
    if mode == "sparse" and _needs_grad(x, steps):
        raise RuntimeError(
            "mode='sparse' is inference-only (it updates buffers in place) but autograd needs gradients "
            "here: use mode='dense' or 'auto', or run under torch.no_grad()"
        )


def _use_sparse(mode: str, kind: str, x: Tensor, steps: Sequence[ConvStep], plan: TilePlan) -> bool:
    check_choice(mode, "mode", ENGINE_MODES)
    _check_inference(mode, x, steps)
    if mode != "auto":
        return mode == "sparse"
    if _needs_grad(x, steps):
        return False
    channels = x.shape[1] if isinstance(x, Tensor) else sum(t.shape[1] for t in x)
    return plan.fraction < dense_above(kind, plan, channels, x if isinstance(x, Tensor) else x[0])


def residual_runs_sparse(plan: TilePlan | None, x: Tensor, mode: Mode = "auto") -> bool:
    """Whether :func:`residual_skip_chain` runs a block with ``plan`` on tiles (``True``) or densely.

    For inference (autograd off). Callers that account cost per block use this rather than repeating
    the cut-over rule: ``plan=None`` and ``mode="dense"`` are dense, ``"sparse"`` is tiles, ``"auto"`` is
    tiles below the calibrated cut-over (:func:`~dynskip.skip.fallback.dense_above`).
    """
    check_choice(mode, "mode", ENGINE_MODES)
    if plan is None or mode == "dense":
        return False
    return mode == "sparse" or plan.fraction < dense_above("residual", plan, x.shape[1], x)


def _check_residual_steps(steps: Sequence[ConvStep], x: Tensor) -> None:
    for step in steps:
        if step.resample != "same":
            raise ValueError(f"residual layers must keep the resolution; got a {step.resample}-sampling conv")
    if steps[-1].conv.out_channels != x.shape[1]:
        raise ValueError(
            f"residual layers end with {steps[-1].conv.out_channels} channels but x has {x.shape[1]}"
        )


# ---------------------------------------------------------------------------------- residual skip
def residual_skip_dense(x: Tensor, layers: Layers, pixel_mask: Tensor) -> Tensor:
    """``x + pixel_mask * f(x)`` with ``f`` the dense ``layers``; differentiable, soft masks allowed."""
    steps = parse_steps(layers)
    _check_residual_steps(steps, x)
    check_pixel_mask(pixel_mask, x)
    return _residual_dense(x, steps, pixel_mask)


def _dense_residual(x: Tensor, steps: Sequence[ConvStep]) -> Tensor:
    """``f(x)``: the steps run densely."""
    y = x
    for step in steps:
        y = step.conv(y)
        y = y if step.act is None else step.act(y)
    return y


def _residual_dense(x: Tensor, steps: Sequence[ConvStep], pixel_mask: Tensor | None) -> Tensor:
    y = _dense_residual(x, steps)
    return x + y if pixel_mask is None else x + pixel_mask.to(y.dtype) * y


def _residual_dense_block(x: Tensor, steps: Sequence[ConvStep], plan: TilePlan | None) -> Tensor:
    """``x + m * f(x)`` computed densely (the fall-back); no mask product when every tile is active."""
    return _residual_dense(x, steps, None if plan is None or plan.is_full else plan.pixel_mask(x.dtype))


def residual_skip(x: Tensor, layers: Layers, plan: TilePlan, mode: Mode = "auto") -> Tensor:
    """One residual block ``x + m * f(x)`` on the active tiles of ``plan``; see the module doc."""
    return residual_skip_chain(x, [layers], [plan], mode)


def residual_skip_chain(
    x: Tensor, blocks: Sequence[Layers], plans: Sequence[TilePlan | None], mode: Mode = "auto"
) -> Tensor:
    """Blocks ``x <- x + m_i * f_i(x)`` in order; ``plans[i] = None`` runs block ``i`` densely unmasked.

    Sparse blocks work in place on one zero-padded channels-last canvas (one window gather and one
    put of the active tiles each); dense blocks (``None``, above the cut-over in ``"auto"``) run on
    a plain tensor. ``x`` moves between the two only when consecutive blocks switch, one copy each.
    """
    check_choice(mode, "mode", ENGINE_MODES)
    if len(blocks) != len(plans):
        raise ValueError(f"got {len(blocks)} blocks but {len(plans)} plans")
    if not isinstance(x, Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    parsed = [parse_steps(layers) for layers in blocks]
    for steps in parsed:
        _check_residual_steps(steps, x)
    for plan in plans:
        if plan is not None:
            plan.check_input(x)
    all_steps = [s for steps in parsed for s in steps]
    _check_inference(mode, x, all_steps)
    if mode == "dense" or (mode == "auto" and _needs_grad(x, all_steps)):
        for steps, plan in zip(parsed, plans):
            if plan is None or plan.num_active:
                x = _residual_dense_block(x, steps, plan)
        return x
    margin = max(sum(s.reach for s in steps) for steps in parsed)
    tiled = [
        plan is not None and plan.num_active > 0 and residual_runs_sparse(plan, x, mode) for plan in plans
    ]
    for plan in compress(plans, tiled):
        # Split every plan before the first conv: between convs (evicted caches) a split ran ~3x slower;
        # 1-4% of basicvsr-trunk's tile path at 0.5-0.25 active (exploration/engine_ab.py --variant prefetch).
        _ = plan.groups
    canvas: TileCanvas | None = None
    on_canvas = False
    for steps, plan, on_tiles in zip(parsed, plans, tiled, strict=True):
        if plan is not None and plan.num_active == 0:
            continue
        if not on_tiles:
            if on_canvas:  # the strided canvas view would slow the convs down by ~30%
                x, on_canvas = canvas.dense().contiguous(memory_format=torch.channels_last), False
            x = _residual_dense_block(x, steps, plan)
            continue
        if canvas is None:  # zero only the frame around the image: x fills the rest
            canvas, on_canvas = TileCanvas.from_dense(x, plan, margin), True
        if not on_canvas:
            canvas.dense().copy_(x)
            on_canvas = True
        residual_block_sparse(canvas, steps, plan)
    return canvas.dense() if on_canvas else x


def residual_reuse_chain(
    x: Tensor,
    blocks: Sequence[Layers],
    plan: TilePlan,
    fill: Callable[[Tensor], Tensor] | None = None,
    mode: Mode = "auto",
) -> tuple[Tensor, Tensor]:
    """A block group that reuses a residual on its skipped tiles; returns ``(y, r)`` with ``y = x + r``.

    ``r = m * (G(x) - x) + (1 - m) * fill``: ``G`` runs ``blocks`` as :func:`residual_skip_chain` with
    ``plan`` for each, and ``fill(index)`` gives ``(B, C, N)`` values at flat pixel positions ``index``
    ``(N,)``, the positions skipped in any sample (their union; where a sample ran, its own residual is
    kept). ``fill=None`` is a zero residual (plain skipping). Inference only (autograd off): the
    differentiable definition is :func:`residual_skip_dense` per block plus ``(1 - m) * fill``.

    ``r`` is what a recurrent caller keeps for the next step. A single block that runs densely (above
    the cut-over) computes ``r = f(x)`` and overwrites the skipped positions, with no mask product and
    no ``y - x``; the result keeps ``x``'s memory layout.
    """
    parsed = [parse_steps(layers) for layers in blocks]
    if _needs_grad(x, [s for steps in parsed for s in steps]):
        raise RuntimeError("residual_reuse_chain is inference-only: run it under torch.no_grad()")
    plan.check_input(x)
    for steps in parsed:  # every path, also the ones that never reach residual_skip_chain's checks
        _check_residual_steps(steps, x)
    if len(blocks) == 1 and plan.num_active and (plan.is_full or not residual_runs_sparse(plan, x, mode)):
        r = _dense_residual(x, parsed[0])
        if not plan.is_full:
            _fill_skipped(r, plan, fill)
        return x + r, r  # on active tiles exactly the block's x + f(x)
    if plan.num_active == 0:
        r = torch.zeros_like(x)
        _fill_skipped(r, plan, fill)
        return x + r, r
    if plan.is_full:  # every tile runs: the blocks run densely in turn (tiles would only add halo work)
        y = x
        for steps in parsed:
            y = y + _dense_residual(y, steps)
        return y, y - x
    y = residual_skip_chain(x, blocks, [plan] * len(blocks), mode)
    y = y.contiguous(memory_format=_layout(x))  # the engine may return a view into its padded canvas
    r = y - x  # exactly 0 on skipped tiles
    if not plan.is_full:
        rows, cols, ran = _fill_skipped(r, plan, fill)
        patched = x[:, :, rows, cols] + r[:, :, rows, cols]
        y[:, :, rows, cols] = patched if ran is None else torch.where(ran, y[:, :, rows, cols], patched)
    return y, r


def _layout(x: Tensor) -> torch.memory_format:
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def _fill_skipped(
    r: Tensor, plan: TilePlan, fill: Callable[[Tensor], Tensor] | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """In place: ``r`` takes ``fill``'s values (zero without one) where a sample skipped.

    Returns ``(rows, cols, ran)``: the positions skipped in any sample (their union) and, for a batch
    of more than one, which samples ran there ``(B, 1, N)`` bool (``None`` for one sample).
    """
    active = plan.pixel_mask(torch.bool)  # (B, 1, H, W)
    index = (~active).any(0).flatten().nonzero().squeeze(1)
    rows, cols = index // r.shape[-1], index % r.shape[-1]
    if fill is None:
        values = r.new_zeros(r.shape[0], r.shape[1], index.numel())
    else:
        values = fill(index).to(r.dtype)
        if values.shape != (r.shape[0], r.shape[1], index.numel()):
            raise ValueError(
                f"fill returned {tuple(values.shape)} for {index.numel()} positions; expected "
                f"(B, C, N) = {(r.shape[0], r.shape[1], index.numel())}"
            )
    ran = None
    if r.shape[0] > 1:  # the union: keep each sample's own residual where it ran
        ran = active.flatten(2)[:, :, index]
        values = torch.where(ran, r[:, :, rows, cols], values)
    r[:, :, rows, cols] = values
    return rows, cols, ran


# ------------------------------------------------------------------------------- masked features
def _resample_mask(mask: Tensor, resample: str) -> Tensor:
    if resample == "down":
        return F.max_pool2d(mask, 2, ceil_mode=True)
    if resample == "up":
        return mask.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    return mask


def _as_list(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    xs = [x] if isinstance(x, Tensor) else list(x)
    if not xs or not all(isinstance(t, Tensor) and t.dim() == 4 for t in xs):
        raise ValueError("x must be a (B, C, H, W) tensor or a non-empty list of them")
    for t in xs[1:]:
        if (t.shape[0], *t.shape[2:]) != (xs[0].shape[0], *xs[0].shape[2:]):
            raise ValueError(
                f"tensors to concatenate differ in batch or size: {tuple(xs[0].shape)} vs {tuple(t.shape)}"
            )
    return xs


def _dense_steps(
    xs: list[Tensor], steps: Sequence[ConvStep], mask: Tensor | None
) -> tuple[list[Tensor], Tensor | None]:
    """Each step densely, its conv output times ``mask`` (``None``: all active) before the activation."""
    y = xs[0] if len(xs) == 1 else torch.cat(xs, 1)
    outs = []
    for step in steps:
        y = step.conv(y)
        if mask is not None:
            mask = _resample_mask(mask, step.resample)
            y = y * mask.to(y.dtype)
        y = y if step.act is None else step.act(y)
        outs.append(y)
    return outs, mask


def _masked_dense(xs, steps, head_steps, mask: Tensor | None, collect: bool) -> Tensor | list[Tensor]:
    outs, mask = _dense_steps(xs, steps, mask)
    if head_steps:
        return _dense_steps(outs, head_steps, mask)[0][-1]
    return outs if collect else outs[-1]


def masked_chain_dense(
    x: Tensor | Sequence[Tensor],
    layers: Layers,
    pixel_mask: Tensor,
    collect: bool = False,
    head: Layers | None = None,
) -> Tensor | list[Tensor]:
    """Definition of :func:`masked_chain`: each conv output times the mask, then the activation.

    ``pixel_mask`` ``(B, 1, H, W)`` at the input level (soft allowed); it follows the chain across
    levels (max-pooled by 2 at a stride-2 conv, repeated x2 at a transposed conv).
    """
    xs = _as_list(x)
    check_pixel_mask(pixel_mask, xs[0])
    head_steps = parse_steps(head) if head is not None else []
    return _masked_dense(xs, parse_steps(layers), head_steps, pixel_mask, collect)


def masked_conv_dense(
    x: Tensor | Sequence[Tensor], conv: nn.Module, pixel_mask: Tensor, activation: nn.Module | None = None
) -> Tensor:
    """``activation(pixel_mask * conv(x))``; ``x`` may be a list, read as its channel concatenation."""
    return masked_chain_dense(x, [conv] if activation is None else [conv, activation], pixel_mask)


def masked_chain(
    x: Tensor | Sequence[Tensor],
    layers: Layers,
    plan: TilePlan,
    mode: Mode = "auto",
    collect: bool = False,
    head: Layers | None = None,
) -> Tensor | list[Tensor]:
    """Masked-feature chain on the active tiles of ``plan``; see the module doc and the dense twin."""
    xs = _as_list(x)
    for t in xs:
        plan.check_input(t)
    steps = parse_steps(layers)
    head_steps = parse_steps(head) if head is not None else []
    if not _use_sparse(mode, "masked", xs if len(xs) > 1 else xs[0], [*steps, *head_steps], plan):
        mask = None if plan.is_full else plan.pixel_mask(xs[0].dtype)
        return _masked_dense(xs, steps, head_steps, mask, collect)
    if plan.num_active == 0:
        zeros = _zero_outputs(xs[0], [*steps, *head_steps])
        if head is not None:
            return zeros[-1]
        return zeros[: len(steps)] if collect else zeros[len(steps) - 1]
    margin = max(s.reach for s in [*steps, *head_steps])
    inputs = [SparseFeatures.from_dense(t, plan, margin) for t in xs]
    if collect or (head is not None and head_steps[0].reach > 0):
        keep = "all"
    else:
        keep = "last" if head is None else "tiles"  # a 1x1 head reads the compact tiles
    outs = masked_steps_sparse(inputs, steps, margin, keep)
    if head is not None:
        return masked_steps_sparse(outs, head_steps, margin, "last")[-1].dense()
    return [o.dense() for o in outs] if collect else outs[-1].dense()


def _zero_outputs(x: Tensor, steps: Sequence[ConvStep]) -> list[Tensor]:
    """Zero outputs of every step for an all-inactive plan, without running a conv."""
    b, _, h, w = x.shape
    zeros = []
    for step in steps:
        h, w = {"same": (h, w), "down": (-(-h // 2), -(-w // 2)), "up": (2 * h, 2 * w)}[step.resample]
        zeros.append(x.new_zeros(b, step.conv.out_channels, h, w))
    return zeros


def masked_conv(
    x: Tensor | Sequence[Tensor],
    conv: nn.Module,
    plan: TilePlan,
    activation: nn.Module | None = None,
    mode: Mode = "auto",
) -> Tensor:
    """One masked conv (+ activation) on the active tiles; ``x`` may be a list (channel concat)."""
    return masked_chain(x, [conv] if activation is None else [conv, activation], plan, mode)
