"""Tile engine: sparse execution equals the dense-masked definition; plans, errors, fall-back."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dynskip.benchmarks.calibration import _crossing, calibrate_fallback
from dynskip.skip.engine import (
    masked_chain,
    masked_chain_dense,
    masked_conv,
    masked_conv_dense,
    residual_reuse_chain,
    residual_skip,
    residual_skip_chain,
    residual_skip_dense,
)
from dynskip.skip.fallback import clear_fallback_cache, dense_above
from dynskip.skip.plan import TileCanvas, TilePlan
from dynskip.skip.steps import parse_steps
from dynskip.skip.tiles import tile_to_pixel
from helpers.models import conv_prelu_chain, random_plan, res_block

TOL = 1e-5


def max_diff(a, b) -> float:
    if isinstance(a, list):
        return max(max_diff(p, q) for p, q in zip(a, b, strict=True))
    assert a.shape == b.shape
    return (a - b).abs().max().item()


# ------------------------------------------------------------------------------------------ plans
def test_plan_indices_and_fraction():
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[0, 0, 1] = mask[1, 2, 3] = mask[1, 1, 1] = True
    plan = TilePlan.from_mask(mask, 8, (20, 30))
    assert plan.num_active == 3 and plan.fraction == pytest.approx(3 / 24)
    assert [plan.sample.tolist(), plan.row.tolist(), plan.col.tolist()] == [[0, 1, 1], [0, 1, 2], [1, 1, 3]]
    assert torch.equal(plan.tile_mask(), mask)
    # 20 x 30 with tile 8: the last row holds 4 pixels, the last column 6; (1, 2, 3) is the corner
    full, corner = plan.groups
    assert (full.shape, corner.shape) == ((8, 8), (4, 6)) and corner.sample.tolist() == [1]
    assert full.edges["top"].tolist() == [0] and full.edges["bottom"] is None and full.edges["right"] is None
    assert corner.edges["bottom"].tolist() == [0] and corner.edges["right"].tolist() == [0]
    assert torch.equal(plan.pixel_mask(), tile_to_pixel(mask, 8, (20, 30)))


def test_plan_without_active_tiles_has_no_groups():
    plan = TilePlan.from_mask(torch.zeros(2, 3, 4, dtype=torch.bool), 8, (20, 30))
    assert plan.num_active == 0 and plan.groups == []


def test_plan_rescaled_keeps_grid():
    plan = random_plan(1, 17, 9, 4, 0.5)
    up = plan.rescaled("up")
    assert (up.tile, up.height, up.width, up.grid) == (8, 34, 18, plan.grid)
    down = up.rescaled("down")
    assert (down.tile, down.height, down.width) == (4, 17, 9)
    with pytest.raises(ValueError, match="even tile"):
        random_plan(1, 9, 9, 3, 0.5).rescaled("down")


def test_canvas_gather_and_scatter_match_slices_of_the_padded_map():
    """Windows are the zero-padded map around each tile (partial tiles at their size, batch 2), at
    every halo up to the margin and again after another halo's (cached row offsets); a scatter
    writes exactly the tiles' places."""
    torch.manual_seed(0)
    x = torch.randn(2, 5, 21, 30)
    plan = random_plan(2, 21, 30, 8, 0.6)
    canvas = TileCanvas.from_dense(x, plan, margin=3)
    for halo in (0, 3, 1, 0, 3):
        padded = torch.nn.functional.pad(x, (halo,) * 4)
        for group in plan.groups:
            th, tw = group.shape
            expected = torch.stack(
                [
                    padded[s, :, r * 8 : r * 8 + th + 2 * halo, c * 8 : c * 8 + tw + 2 * halo]
                    for s, r, c in zip(
                        group.sample.tolist(), group.row.tolist(), group.col.tolist(), strict=True
                    )
                ]
            )
            assert torch.equal(canvas.gather(group, halo), expected)
    with pytest.raises(ValueError, match="halo 4 exceeds the canvas margin 3"):
        canvas.gather(plan.groups[0], 4)
    for group in plan.groups:
        canvas.scatter(group, -canvas.gather(group, 0))
    assert torch.equal(canvas.dense(), torch.where(plan.pixel_mask(torch.bool), -x, x))


def test_canvas_gather_of_a_group_from_canvases_at_two_levels():
    """A finer level's group gathered from the coarser canvas (``shape`` override, as a transposed
    conv reads it) and from its own canvas: the cached row offsets must not mix the two geometries."""
    torch.manual_seed(0)
    coarse_plan = random_plan(2, 10, 14, 4, 0.6, seed=2)
    fine_plan = coarse_plan.rescaled("up")
    x_coarse, x_fine = torch.randn(2, 3, 10, 14), torch.randn(2, 3, 20, 28)
    coarse = TileCanvas.from_dense(x_coarse, coarse_plan, margin=2)
    fine = TileCanvas.from_dense(x_fine, fine_plan, margin=1)
    for _ in range(2):
        for group in fine_plan.groups:
            th, tw = group.shape
            cells = list(zip(group.sample.tolist(), group.row.tolist(), group.col.tolist(), strict=True))
            for canvas, x, tile, halo, shape in (
                (coarse, x_coarse, 4, 2, (th // 2, tw // 2)),
                (fine, x_fine, 8, 1, None),
            ):
                h, w = shape or (th, tw)
                padded = torch.nn.functional.pad(x, (halo,) * 4)
                expected = torch.stack(
                    [
                        padded[s, :, r * tile : r * tile + h + 2 * halo, c * tile : c * tile + w + 2 * halo]
                        for s, r, c in cells
                    ]
                )
                assert torch.equal(canvas.gather(group, halo, shape), expected)


@pytest.mark.parametrize(
    ("mask", "tile", "size", "error", "match"),
    [
        (torch.ones(1, 2, 2), 8, (16, 16), TypeError, "must be bool, got dtype torch.float32"),
        (torch.ones(2, 2, dtype=torch.bool), 8, (16, 16), ValueError, r"\(B, Ht, Wt\)"),
        (torch.ones(1, 2, 2, dtype=torch.bool), 8, (17, 16), ValueError, r"expected grid \(3, 2\)"),
        (torch.ones(1, 2, 2, dtype=torch.bool), 0, (16, 16), ValueError, "tile must be a positive int"),
    ],
)
def test_plan_errors(mask, tile, size, error, match):
    with pytest.raises(error, match=match):
        TilePlan.from_mask(mask, tile, size)


# ------------------------------------------------------------------------------- residual skip
@pytest.mark.parametrize(
    ("batch", "h", "w", "tile"), [(1, 21, 35, 8), (2, 32, 32, 16), (3, 19, 40, 32), (1, 7, 5, 4)]
)
@pytest.mark.parametrize("fraction", [0.3, 0.7, 1.0])
def test_residual_sparse_equals_dense(batch, h, w, tile, fraction):
    torch.manual_seed(batch * 7 + tile)
    block = res_block(6, bias=0.5)
    x = torch.randn(batch, 6, h, w)
    plan = random_plan(batch, h, w, tile, fraction, seed=tile)
    with torch.no_grad():
        sparse = residual_skip(x, block, plan, mode="sparse")
        dense = residual_skip_dense(x, block, plan.pixel_mask())
    assert max_diff(sparse, dense) <= TOL
    assert torch.equal(residual_skip(x, block, plan, mode="dense"), dense)


def test_residual_inactive_tiles_keep_x_exactly():
    x = torch.randn(2, 4, 20, 24)
    plan = random_plan(2, 20, 24, 8, 0.4)
    with torch.no_grad():
        y = residual_skip(x, res_block(4), plan, mode="sparse")
    keep = plan.pixel_mask() == 0
    assert torch.equal(y.masked_select(keep), x.masked_select(keep.expand_as(x)))


def test_residual_chain_per_block_plans_and_dense_blocks():
    torch.manual_seed(0)
    blocks = [res_block(5, bias=0.3) for _ in range(4)]
    x = torch.randn(2, 5, 23, 17)
    plans = [random_plan(2, 23, 17, 8, f, seed=i) for i, f in enumerate((0.5, 0.0, 1.0, 0.2))]
    plans[2] = None  # dense, unmasked
    with torch.no_grad():
        sparse = residual_skip_chain(x, blocks, plans, mode="sparse")
        auto = residual_skip_chain(x, blocks, plans, mode="auto")
    ref = x
    for block, plan in zip(blocks, plans, strict=True):
        mask = torch.ones_like(x[:, :1]) if plan is None else plan.pixel_mask()
        ref = residual_skip_dense(ref, block, mask)
    assert max_diff(sparse, ref) <= TOL and max_diff(auto, ref) <= TOL


def test_residual_all_inactive_returns_x():
    x = torch.randn(1, 3, 9, 9)
    plan = random_plan(1, 9, 9, 4, 0.0)
    with torch.no_grad():
        assert torch.equal(residual_skip(x, res_block(3), plan, mode="sparse"), x)


def test_residual_longer_chain_with_leaky_relu_halo_three():
    torch.manual_seed(1)
    layers = [nn.Conv2d(4, 6, 3, 1, 1), nn.LeakyReLU(0.1), nn.Conv2d(6, 6, 1), nn.PReLU()]
    layers.append(nn.Conv2d(6, 4, 5, 1, 2))
    x = torch.randn(2, 4, 13, 22)
    plan = random_plan(2, 13, 22, 8, 0.5)
    with torch.no_grad():
        sparse = residual_skip(x, layers, plan, "sparse")
        assert max_diff(sparse, residual_skip_dense(x, layers, plan.pixel_mask())) <= TOL


# -------------------------------------------------------------------------- residual with reuse
def reuse_definition(x, blocks, plan, fill_map):
    """``residual_skip_dense`` per block, then ``(1 - m) * fill`` (what SkipVSR's masked mode computes)."""
    mask = plan.pixel_mask()
    y = x
    for block in blocks:
        y = residual_skip_dense(y, block, mask)
    return y + (1.0 - mask) * fill_map


def fill_from(fill_map):
    calls = []

    def fill(index):
        calls.append(index)
        return fill_map.flatten(2)[:, :, index]

    return fill, calls


@pytest.mark.parametrize(
    ("batch", "n_blocks", "fraction"), [(1, 1, 0.7), (2, 1, 0.4), (1, 3, 0.6), (2, 2, 0.3)]
)
@pytest.mark.parametrize("mode", ["sparse", "auto"])
def test_reuse_chain_equals_definition_and_returns_its_residual(batch, n_blocks, fraction, mode):
    torch.manual_seed(n_blocks + 10 * batch)
    blocks = [res_block(5, bias=0.3) for _ in range(n_blocks)]
    x = torch.randn(batch, 5, 21, 30)
    fill_map = torch.randn_like(x)
    plan = random_plan(batch, 21, 30, 8, fraction, seed=n_blocks)
    fill, calls = fill_from(fill_map)
    with torch.no_grad():
        y, r = residual_reuse_chain(x, blocks, plan, fill, mode)
        ref = reuse_definition(x, blocks, plan, fill_map)
    assert max_diff(y, ref) <= TOL and max_diff(r, ref - x) <= TOL
    skipped = (plan.pixel_mask() == 0).expand_as(x)
    assert torch.equal(r[skipped], fill_map[skipped])  # reused values are written, not recomputed
    union = (plan.pixel_mask() == 0).any(0).flatten().nonzero().squeeze(1)
    assert len(calls) == 1 and torch.equal(calls[0], union)  # asked once, only where something skipped


def test_reuse_chain_single_block_runs_the_block_exactly_on_active_tiles():
    torch.manual_seed(3)
    block = res_block(4)
    x = torch.randn(1, 4, 16, 24).contiguous(memory_format=torch.channels_last)
    full = random_plan(1, 16, 24, 8, 1.0)
    partial = random_plan(1, 16, 24, 8, 0.9)
    with torch.no_grad():
        y, r = residual_reuse_chain(x, [block], full, None, "auto")
        assert torch.equal(y, x + block(x)) and torch.equal(r, block(x))
        y, _ = residual_reuse_chain(x, [block], partial, None, "dense")  # as above the cut-over
        dense = x + block(x)
    assert y.is_contiguous(memory_format=torch.channels_last)  # the next block's convs keep their layout
    active = (partial.pixel_mask() == 1).expand_as(x)
    assert torch.equal(y[active], dense[active]) and torch.equal(y[~active], x[~active])


def test_reuse_chain_full_plan_of_several_blocks_runs_them_densely():
    # An all-active group is counted as dense work; with tiles it would also compute their halos.
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(4)
    blocks = [res_block(4, bias=0.2) for _ in range(3)]
    x = torch.randn(1, 4, 16, 24)
    full = random_plan(1, 16, 24, 8, 1.0)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y, r = residual_reuse_chain(x, blocks, full, None, "sparse")
    with torch.no_grad(), FlopCounterMode(display=False) as dense_counter:
        expected = x
        for block in blocks:
            expected = expected + block(expected)
    assert torch.equal(y, expected) and torch.equal(r, expected - x)
    assert counter.get_total_flops() == dense_counter.get_total_flops()


def test_reuse_chain_all_skipped_and_no_fill():
    x = torch.randn(2, 3, 9, 10)
    fill_map = torch.randn_like(x)
    none = random_plan(2, 9, 10, 4, 0.0)
    with torch.no_grad():
        y, r = residual_reuse_chain(x, [res_block(3)], none, fill_from(fill_map)[0])
        assert torch.equal(r, fill_map) and torch.equal(y, x + fill_map)
        block = res_block(3, bias=0.5)
        plan = random_plan(2, 9, 10, 4, 0.5)
        y, r = residual_reuse_chain(x, [block], plan, None, "sparse")  # no fill: plain skipping
        assert max_diff(y, residual_skip(x, block, plan, "sparse")) <= TOL
    skipped = (plan.pixel_mask() == 0).expand_as(x)
    assert skipped.any() and not r[skipped].any()


def test_reuse_chain_errors():
    x = torch.randn(1, 3, 8, 8)
    plan = random_plan(1, 8, 8, 4, 0.5)
    expected = r"fill returned \(1, 2, 32\) for 32 positions; expected \(B, C, N\) = \(1, 3, 32\)"
    with torch.no_grad(), pytest.raises(ValueError, match=expected):
        residual_reuse_chain(x, [res_block(3)], plan, lambda index: torch.zeros(1, 2, index.numel()))
    with pytest.raises(RuntimeError, match="inference-only"):
        residual_reuse_chain(x, [res_block(3)], plan)  # block parameters need gradients


# ------------------------------------------------------------------------------ masked features
@pytest.mark.parametrize(("batch", "h", "w", "tile"), [(1, 17, 23, 8), (2, 32, 48, 16), (3, 33, 20, 32)])
@pytest.mark.parametrize("fraction", [0.25, 0.8])
def test_masked_chain_collect_and_head_equal_dense(batch, h, w, tile, fraction):
    """UGSP decoder shape: conv_head + n convs (PReLU), then a 1x1 on the concatenation of all outputs."""
    torch.manual_seed(tile + batch)
    layers = conv_prelu_chain(7, 6, 3)
    head = [nn.Conv2d(18, 5, 1)]
    x = torch.randn(batch, 7, h, w)
    plan = random_plan(batch, h, w, tile, fraction, seed=batch)
    mask = plan.pixel_mask()
    with torch.no_grad():
        outs = masked_chain(x, layers, plan, "sparse", collect=True)
        assert max_diff(outs, masked_chain_dense(x, layers, mask, collect=True)) <= TOL
        with_head = masked_chain(x, layers, plan, "sparse", head=head)
        assert max_diff(with_head, masked_chain_dense(x, layers, mask, head=head)) <= TOL
        assert max_diff(masked_chain(x, layers, plan, "sparse"), outs[-1]) == 0
    assert all((o * (1 - mask)).abs().max() == 0 for o in outs)  # zeros outside active tiles


def test_masked_rife_ifblock_down_residual_convblock_up():
    """RIFE IFBlock: two stride-2 convs, an 8-conv residual convblock, ConvTranspose2d(4, 2, 1)."""
    torch.manual_seed(2)
    conv0 = [nn.Conv2d(5, 4, 3, 2, 1), nn.PReLU(4), nn.Conv2d(4, 8, 3, 2, 1), nn.PReLU(8)]
    convblock = conv_prelu_chain(8, 8, 8)
    lastconv = nn.ConvTranspose2d(8, 5, 4, 2, 1)
    x = torch.randn(2, 5, 37, 50)  # odd: the 1/4 level is 10 x 13
    plan = random_plan(2, 37, 50, 32, 0.5)  # tile 32 at the input, 8 at the convblock level
    mask = plan.pixel_mask()
    with torch.no_grad():
        feat = masked_chain(x, conv0, plan, "sparse")
        plan4 = plan.rescaled("down").rescaled("down")
        block_out = masked_chain(feat, convblock, plan4, "sparse") + feat
        out = masked_conv(block_out, lastconv, plan4, mode="sparse")
        ref_feat = masked_chain_dense(x, conv0, mask)
        mask4 = plan4.pixel_mask()
        ref = masked_conv_dense(masked_chain_dense(ref_feat, convblock, mask4) + ref_feat, lastconv, mask4)
    assert feat.shape == (2, 8, 10, 13) and out.shape == (2, 5, 20, 26)
    assert max_diff(feat, ref_feat) <= TOL and max_diff(out, ref) <= TOL


@pytest.mark.parametrize("head_kernel", [1, 3])
def test_masked_chain_mixed_reach_and_heads(head_kernel):
    """1x1 steps read compact tiles, 3x3 steps read canvases; a 3x3 head needs every output's canvas."""
    torch.manual_seed(head_kernel)
    layers = [nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, 1, 1), nn.Conv2d(4, 5, 1), nn.PReLU()]
    head = [nn.Conv2d(13, 2, head_kernel, 1, head_kernel // 2), nn.LeakyReLU(0.2), nn.Conv2d(2, 2, 3, 1, 1)]
    x = torch.randn(2, 3, 19, 26)
    plan = random_plan(2, 19, 26, 8, 0.5, seed=head_kernel)
    with torch.no_grad():
        out = masked_chain(x, layers, plan, "sparse", head=head)
        ref = masked_chain_dense(x, layers, plan.pixel_mask(), head=head)
        last = masked_chain(x, layers, plan, "sparse")
    assert max_diff(out, ref) <= TOL
    assert max_diff(last, masked_chain_dense(x, layers, plan.pixel_mask())) <= TOL


def test_masked_conv_list_input_is_channel_concat():
    torch.manual_seed(3)
    xs = [torch.randn(2, 3, 11, 14), torch.randn(2, 4, 11, 14)]
    conv, act = nn.Conv2d(7, 5, 3, 1, 1), nn.PReLU(5)
    plan = random_plan(2, 11, 14, 4, 0.5)
    with torch.no_grad():
        out = masked_conv(xs, conv, plan, act, mode="sparse")
        ref = masked_conv_dense(torch.cat(xs, 1), conv, plan.pixel_mask(), act)
    assert max_diff(out, ref) <= TOL


def test_masked_all_inactive_returns_zeros():
    x = torch.randn(1, 3, 10, 10)
    plan = random_plan(1, 10, 10, 4, 0.0)
    layers = conv_prelu_chain(3, 4, 2)
    with torch.no_grad():
        outs = masked_chain(x, layers, plan, "sparse", collect=True)
        up = masked_conv(x, nn.ConvTranspose2d(3, 2, 4, 2, 1), plan, mode="sparse")
    assert [o.shape for o in outs] == [(1, 4, 10, 10)] * 2 and all(o.abs().sum() == 0 for o in outs)
    assert up.shape == (1, 2, 20, 20) and up.abs().sum() == 0


# ----------------------------------------------------------------------------------- properties
@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 3),
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    tile=st.sampled_from([8, 16, 32]),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_property_sparse_equals_masked_dense(batch, h, w, tile, fraction, seed):
    torch.manual_seed(seed)
    x = torch.randn(batch, 4, h, w)
    plan = random_plan(batch, h, w, tile, fraction, seed)
    block, chain = res_block(4, bias=0.2), conv_prelu_chain(4, 4, 2)
    with torch.no_grad():
        sparse = residual_skip(x, block, plan, "sparse")
        assert max_diff(sparse, residual_skip_dense(x, block, plan.pixel_mask())) <= TOL
        sparse = masked_chain(x, chain, plan, "sparse", collect=True)
        assert max_diff(sparse, masked_chain_dense(x, chain, plan.pixel_mask(), collect=True)) <= TOL


# ---------------------------------------------------------------------------- dense twins, modes
def test_dense_twins_gradcheck_with_soft_masks():
    torch.manual_seed(4)
    block = res_block(2).double()
    chain = [nn.Conv2d(2, 3, 3, 1, 1).double(), nn.PReLU(3).double()]
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    soft = torch.rand(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m: residual_skip_dense(a, block, m), (x, soft))
    assert torch.autograd.gradcheck(lambda a, m: masked_chain_dense(a, chain, m), (x, soft))


def test_auto_mode_is_dense_and_differentiable_under_autograd():
    block = res_block(3)
    x = torch.randn(1, 3, 12, 12, requires_grad=True)
    plan = random_plan(1, 12, 12, 4, 0.3)
    y = residual_skip(x, block, plan)  # auto, grad enabled -> dense twin
    y.sum().backward()
    assert x.grad is not None
    assert torch.equal(y.detach(), residual_skip_dense(x, block, plan.pixel_mask()).detach())


def test_sparse_mode_refuses_autograd():
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    plan = random_plan(1, 8, 8, 4, 0.5)
    with pytest.raises(RuntimeError, match="mode='sparse' is inference-only"):
        residual_skip(x, res_block(3), plan, mode="sparse")
    with pytest.raises(RuntimeError, match="mode='sparse' is inference-only"):
        masked_chain(x, conv_prelu_chain(3, 3, 1), plan, mode="sparse")


# ----------------------------------------------------------------------------------- exceptions
def test_unsupported_layers_are_named():
    with pytest.raises(TypeError, match=r"layer 1 \(Sigmoid\) is not supported"):
        parse_steps([nn.Conv2d(2, 2, 3, 1, 1), nn.Sigmoid()])
    with pytest.raises(ValueError, match="an activation must follow a convolution"):
        parse_steps([nn.ReLU(), nn.Conv2d(2, 2, 3, 1, 1)])
    with pytest.raises(ValueError, match=r"got kernel \(3, 3\), stride \(1, 1\), padding \(0, 0\)"):
        parse_steps([nn.Conv2d(2, 2, 3)])
    with pytest.raises(ValueError, match="dilation 1"):
        parse_steps([nn.Conv2d(2, 2, 3, 1, 2, dilation=2)])
    with pytest.raises(ValueError, match="ConvTranspose2d must have kernel 4"):
        parse_steps([nn.ConvTranspose2d(2, 2, 2, 2)])
    with pytest.raises(ValueError, match="layers is empty"):
        parse_steps([])


def test_engine_input_errors():
    plan = random_plan(2, 12, 12, 4, 0.5)
    block = res_block(3)
    with pytest.raises(ValueError, match=r"does not match the plan: expected \(B, H, W\) = \(2, 12, 12\)"):
        residual_skip(torch.randn(2, 3, 12, 13), block, plan)
    with pytest.raises(ValueError, match="but the plan's indices are on cpu"):
        residual_skip(torch.randn(2, 3, 12, 12, device="meta"), block, plan)
    with pytest.raises(TypeError, match="must be floating"):
        masked_conv(torch.zeros(2, 3, 12, 12, dtype=torch.int64), nn.Conv2d(3, 3, 1), plan)
    with pytest.raises(ValueError, match="residual layers must keep the resolution"):
        residual_skip(torch.randn(2, 3, 12, 12), [nn.Conv2d(3, 3, 3, 2, 1)], plan)
    with pytest.raises(ValueError, match="end with 4 channels but x has 3"):
        residual_skip(torch.randn(2, 3, 12, 12), [nn.Conv2d(3, 4, 3, 1, 1)], plan)
    with pytest.raises(ValueError, match="mode must be 'auto', 'sparse' or 'dense', got 'fast'"):
        residual_skip(torch.randn(2, 3, 12, 12), block, plan, mode="fast")
    with pytest.raises(ValueError, match="got 2 blocks but 1 plans"):
        residual_skip_chain(torch.randn(2, 3, 12, 12), [block, block], [plan])
    with pytest.raises(ValueError, match=r"pixel_mask \(2, 1, 12, 11\) does not match input"):
        residual_skip_dense(torch.randn(2, 3, 12, 12), block, torch.ones(2, 1, 12, 11))


# ------------------------------------------------------------------------------------ fall-back
def test_crossing_interpolates_the_cut_over():
    assert _crossing([(1.0, 0.9), (0.8, 0.7)]) == math.inf  # sparse wins everywhere
    assert _crossing([(1.0, 1.2), (0.8, 0.8)]) == pytest.approx(0.9)
    assert _crossing([(1.0, 1.5), (0.5, 1.1)]) == 0.5  # never wins: dense down to the lowest measured


def test_calibrate_fallback_caches_per_shape():
    clear_fallback_cache()
    x = torch.randn(1, 4, 16, 16)
    plan = random_plan(1, 16, 16, 8, 0.5)
    default = dense_above("residual", plan, 4, x)
    cut = calibrate_fallback("residual", res_block(4), x, tile=8, fractions=(1.0, 0.5), repeats=1)
    assert cut == dense_above("residual", plan, 4, x) and (cut == math.inf or 0.5 <= cut <= 1.0)
    assert dense_above("residual", random_plan(1, 16, 24, 8, 0.5), 4, torch.randn(1, 4, 16, 24)) == default
    with pytest.raises(ValueError, match="kind must be one of"):
        calibrate_fallback("conv", res_block(4), x, tile=8)
    clear_fallback_cache()


def test_calibrate_fallback_races_a_chain_of_blocks_under_one_plan():
    clear_fallback_cache()
    x = torch.randn(1, 4, 16, 16)
    cut = calibrate_fallback("residual", res_block(4), x, tile=8, fractions=(1.0, 0.5), repeats=1, blocks=3)
    assert cut == dense_above("residual", random_plan(1, 16, 16, 8, 0.5), 4, x)
    with pytest.raises(ValueError, match="blocks must be >= 1"):
        calibrate_fallback("residual", res_block(4), x, tile=8, blocks=0)
    with pytest.raises(ValueError, match="1 unless kind is 'residual'"):
        calibrate_fallback("masked", conv_prelu_chain(4, 4, 2), x, tile=8, blocks=2)
    clear_fallback_cache()
