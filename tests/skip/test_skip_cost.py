"""Cost accounting: analytic conv MACs against FlopCounterMode; the SkipRecorder / SkipReport protocol."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynskip.skip.cost import (
    chain_halo,
    chain_macs_per_pixel,
    conv_input_size,
    conv_macs,
    count_conv_macs,
    count_macs,
    masked_chain_macs,
    residual_skip_macs,
    tile_chain_macs,
)
from dynskip.skip.engine import masked_chain, residual_skip
from dynskip.skip.protocol import SkipKnobs, SkippingModel, SkipRecorder, SkipUnit, execution_mode
from helpers.models import random_plan


# --- analytic conv MACs == FlopCounterMode ---------------------------------------------------------
@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(8, 6, 3, padding=1),
        nn.Conv2d(8, 6, 3, stride=2, padding=1, groups=2),
        nn.Conv2d(8, 8, (3, 5), padding=(2, 4), dilation=2, groups=8),
        nn.Conv2d(8, 4, 1),
        nn.ConvTranspose2d(8, 5, 4, stride=2, padding=1),
        nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    ],
)
def test_conv_macs_matches_flop_counter(conv: nn.Module) -> None:
    x = torch.randn(1, 8, 9, 14)
    out = conv(x)
    assert conv_macs(conv, *out.shape[-2:]) == count_conv_macs(conv, x)


def test_conv_input_size_inverts_transposed_conv() -> None:
    conv = nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1)
    assert conv_input_size(conv, 18, 28) == (9, 14)
    with pytest.raises(ValueError, match=r"no input size gives output \(17, 28\)"):
        conv_input_size(conv, 17, 28)
    with pytest.raises(TypeError, match="inverts a ConvTranspose2d"):
        conv_input_size(nn.Conv2d(1, 1, 3), 4, 4)


def test_chain_macs_per_pixel_matches_dense_chain() -> None:
    # A UGSP-like decoder: stride-1 convs, a strided conv, a transposed conv back up, a 1x1 head.
    chain = nn.Sequential(
        nn.Conv2d(6, 8, 3, padding=1),
        nn.PReLU(8),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
        nn.Conv2d(4, 2, 1),
    )
    x = torch.randn(2, 6, 16, 24)
    assert chain_macs_per_pixel(chain) * 2 * 16 * 24 == count_conv_macs(chain, x)
    assert chain_macs_per_pixel([chain[0], chain[3]]) == 6 * 8 * 9 + 8 * 8 * 9


def test_count_macs_includes_matmuls_and_count_conv_macs_does_not() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten(), nn.Linear(4 * 5 * 5, 7))
    x = torch.randn(2, 3, 5, 5)
    assert count_conv_macs(model, x) == 2 * 3 * 4 * 25
    assert count_macs(model, x) == 2 * 3 * 4 * 25 + 2 * 100 * 7


@pytest.mark.parametrize(("tile_h", "tile_w"), [(8, 8), (5, 3)])
def test_tile_chain_macs_matches_unpadded_execution(tile_h: int, tile_w: int) -> None:
    # Residual-skip semantics: two 3x3 convs, no padding, on tile + halo 2 -> tile.
    block = nn.Sequential(nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    halo = chain_halo(block)
    assert halo == 2
    x = torch.randn(1, 4, tile_h + 2 * halo, tile_w + 2 * halo)
    assert block(x).shape[-2:] == (tile_h, tile_w)
    assert tile_chain_macs(block, tile_h, tile_w) == count_conv_macs(block, x)
    per_px = 4 * 4 * 9
    assert tile_chain_macs(block, 8, 8) == per_px * (10 * 10 + 8 * 8)


# --- analytic == what the tile engine really runs --------------------------------------------------
@pytest.mark.parametrize("fraction", [0.0, 0.4, 1.0])
def test_residual_skip_macs_match_engine(fraction: float) -> None:
    c, size = 6, (20, 28)  # partial border tiles with tile 8
    block = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(c, c, 3, padding=1))
    x = torch.randn(2, c, *size)
    plan = random_plan(2, *size, 8, fraction)
    for mode, sparse in (("sparse", True), ("dense", False)):
        counted = count_conv_macs(residual_skip, x, block, plan, mode=mode)
        assert residual_skip_macs(block, plan, sparse=sparse) == counted, mode
    if fraction:
        th, tw = (20 - plan.row * 8).clamp(max=8), (28 - plan.col * 8).clamp(max=8)  # 8 or 4 px tiles
        per_tile = (th + 2) * (tw + 2) + th * tw
        assert residual_skip_macs(block, plan) == c * c * 9 * int(per_tile.sum())


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_masked_chain_macs_match_engine(fraction: float) -> None:
    size = (22, 38)  # partial border tiles at every level (8 px tiles here, 4 px one level down)
    plan = random_plan(1, *size, 8, fraction, seed=3)
    # UGSP-decoder-like: two inputs read as one concatenation, 3x3 convs, a 1x1 head over all outputs.
    layers = [nn.Conv2d(7, 8, 3, padding=1), nn.PReLU(8), nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.ReLU()]
    head = [nn.Conv2d(16, 3, 1)]
    xs = [torch.randn(1, 4, *size), torch.randn(1, 3, *size)]
    # RIFE-IFBlock-like: a level down and back up through a transposed conv.
    updown = [
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.PReLU(8),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ConvTranspose2d(8, 5, 4, stride=2, padding=1),
    ]
    for mode, sparse in (("sparse", True), ("dense", False)):
        counted = count_conv_macs(masked_chain, xs, layers, plan, mode=mode, head=head)
        assert masked_chain_macs(layers, plan, sparse=sparse, head=head) == counted, mode
        counted = count_conv_macs(masked_chain, xs[1], updown, plan, mode=mode)
        assert masked_chain_macs(updown, plan, sparse=sparse) == counted, mode
    # One output per in-image position of the active tiles.
    assert masked_chain_macs(layers[:2], plan) == 7 * 8 * 9 * int(plan.pixel_mask().sum())


def test_cost_exceptions() -> None:
    with pytest.raises(TypeError, match=r"expected nn\.Conv2d or nn\.ConvTranspose2d, got Linear"):
        conv_macs(nn.Linear(2, 2), 4, 4)
    with pytest.raises(ValueError, match=r"output size must be >= 0, got \(-1, 4\)"):
        conv_macs(nn.Conv2d(1, 1, 3), -1, 4)
    with pytest.raises(ValueError, match="found no Conv2d"):
        chain_macs_per_pixel(nn.ReLU())
    with pytest.raises(ValueError, match="stride-1 Conv2d"):
        chain_halo(nn.Conv2d(1, 1, 3, stride=2))
    with pytest.raises(ValueError, match="odd"):
        tile_chain_macs(nn.Conv2d(1, 1, 2), 4, 4)


# --- SkipRecorder / SkipReport ---------------------------------------------------------------------
def _recorder() -> SkipRecorder:
    return SkipRecorder(
        [
            SkipUnit("trunk.block0", "block", macs_per_pixel=100.0, halo=2),
            SkipUnit("decoder.l2", "level", macs_per_pixel=40.0, scale=0.5, halo=1),
            SkipUnit("encoder", "level", macs_per_pixel=10.0, prunable=False),
        ]
    )


def test_report_fractions_macs_per_frame_and_groups() -> None:
    rec = _recorder()
    rec.reset(frames=4)  # e.g. B=2 clips of T=2 frames
    mask = torch.zeros(4, 1, 6, 6)
    mask[:, :, :3] = 1.0  # half active
    rec.record("trunk.block0", mask, actual_macs=1234.0, overhead_macs=66.0)
    rec.record("decoder.l2", 0.25, out_hw=(3, 3), batch=4)
    rec.record("encoder", 1.0, out_hw=(6, 6), batch=4)
    report = rec.report()
    units = report.units
    assert units["trunk.block0"].fraction.item() == 0.5
    assert units["trunk.block0"].dense_macs == 100.0 * 36  # per frame
    assert units["trunk.block0"].actual_macs == pytest.approx((1234.0 + 66.0) / 4)
    assert units["decoder.l2"].actual_macs == pytest.approx(40.0 * 9 * 0.25)
    assert report.groups() == ["block", "level"]
    dense = {"trunk.block0": 3600.0, "decoder.l2": 360.0, "encoder": 360.0}
    expected = (0.5 * 3600 + 0.25 * 360 + 1.0 * 360) / sum(dense.values())
    assert report.density().item() == pytest.approx(expected)
    assert report.density(prunable_only=True).item() == pytest.approx((0.5 * 3600 + 0.25 * 360) / 3960)
    assert report.density("level").item() == pytest.approx((0.25 * 360 + 360) / 720)
    assert report.gmacs_dense() == pytest.approx(sum(dense.values()) / 1e9)
    actual = (1300 / 4 + 90 + 360) / 1e9
    assert report.gmacs_actual() == pytest.approx(actual)
    assert report.macs_saved_fraction() == pytest.approx(1 - actual / report.gmacs_dense())
    scalars = report.scalars(prefix="val/skip/")
    assert scalars["val/skip/unit/decoder.l2"] == pytest.approx(0.25)
    assert scalars["val/skip/group/level/density"] == pytest.approx((0.25 * 360 + 360) / 720)


def test_recorder_accumulates_executions_and_resets() -> None:
    rec = _recorder()
    rec.reset(frames=2)
    for value in (1.0, 0.0):  # one recurrent step per frame
        rec.record("trunk.block0", torch.full((1, 1, 4, 4), value))
    assert rec.report().units["trunk.block0"].fraction.item() == 0.5
    assert rec.report().units["trunk.block0"].dense_macs == 100.0 * 16  # two executions / two frames
    rec.reset()
    assert rec.report().units == {}


def test_tile_mask_weights_partial_border_tiles() -> None:
    rec = _recorder()
    rec.reset()
    tiles = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])  # 8 px tiles over 20 x 20
    rec.record("trunk.block0", tiles, out_hw=(20, 20), tile=8)
    # tile (0, 0) is 8 x 8, tile (1, 2) is 8 x 4 (cut by the border)
    assert rec.report().units["trunk.block0"].fraction.item() == pytest.approx((64 + 32) / 400)
    rec.reset()
    rec.record("trunk.block0", tiles[:, None].bool(), out_hw=(20, 20), tile=8)
    assert rec.report().units["trunk.block0"].fraction.item() == pytest.approx((64 + 32) / 400)
    rec.reset()
    rec.record("trunk.block0", torch.ones(1, 1, 23, 40), out_hw=(180, 320))  # tile 8 inferred
    assert rec.report().units["trunk.block0"].dense_macs == 100.0 * 180 * 320


def test_soft_mask_density_is_differentiable() -> None:
    rec = _recorder()
    rec.reset()
    mask = torch.rand(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    rec.record("trunk.block0", mask)
    rec.report().density().backward()
    torch.testing.assert_close(mask.grad, torch.full_like(mask, 1 / 32))


def test_maps_are_kept_detached() -> None:
    rec = _recorder()
    rec.reset()
    mask = torch.rand(1, 1, 4, 4, requires_grad=True)
    rec.add_map("mask/block0", mask)
    assert not rec.report().maps["mask/block0"].requires_grad


def test_recorder_exceptions() -> None:
    rec = _recorder()
    with pytest.raises(KeyError, match="unknown skip unit 'nope'"):
        rec.record("nope", 1.0, out_hw=(2, 2), batch=1)
    with pytest.raises(ValueError, match=r"must be \(N, 1, h, w\), got \(1, 2, 4, 4\)"):
        rec.record("encoder", torch.ones(1, 2, 4, 4))
    with pytest.raises(ValueError, match="needs out_hw and batch"):
        rec.record("encoder", 0.5)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\], got 1.5"):
        rec.record("encoder", 1.5, out_hw=(2, 2), batch=1)
    with pytest.raises(ValueError, match=r"tile sizes 7..9 fit, pass tile="):
        rec.record("encoder", torch.ones(1, 3, 3), out_hw=(20, 20))
    with pytest.raises(TypeError, match="got str"):
        rec.record("encoder", "all")
    with pytest.raises(ValueError, match="MACs must be >= 0"):
        rec.record("encoder", 1.0, out_hw=(2, 2), batch=1, actual_macs=-1)
    with pytest.raises(ValueError, match=r"map 'm' must be a \(B, 1, h, w\) tensor, got \(4, 4\)"):
        rec.add_map("m", torch.ones(4, 4))
    with pytest.raises(ValueError, match="declared twice"):
        SkipRecorder([SkipUnit("a", "g", 1.0), SkipUnit("a", "g", 1.0)])
    with pytest.raises(ValueError, match="frames must be >= 1, got 0"):
        rec.reset(frames=0)
    with pytest.raises(ValueError, match="no recorded unit"):
        rec.report().density()
    with pytest.raises(KeyError, match="unknown group 'x'"):
        rec.report().density("x")


def test_skip_unit_validation_and_grid() -> None:
    unit = SkipUnit("decoder.l3", "level", macs_per_pixel=2.0, scale=0.125)
    assert unit.grid(256, 448) == (32, 56) and unit.grid(250, 450) == (32, 57)
    assert unit.dense_macs(256, 448) == 2.0 * 32 * 56
    with pytest.raises(ValueError, match="macs_per_pixel must be >= 0, got -1"):
        SkipUnit("u", "g", -1.0)
    with pytest.raises(ValueError, match="scale must be > 0, got 0"):
        SkipUnit("u", "g", 1.0, scale=0)
    with pytest.raises(ValueError, match="halo must be >= 0, got -2"):
        SkipUnit("u", "g", 1.0, halo=-2)


class _Knobs(SkipKnobs, nn.Module):
    def __init__(self) -> None:
        nn.Module.__init__(self)

    def skip_units(self):
        return []

    def skip_report(self):
        raise NotImplementedError


def test_knobs_validate_and_mode_context_restores() -> None:
    model = _Knobs()
    assert isinstance(model, SkippingModel)
    model.temperature, model.threshold, model.budget = 0.5, 0.3, 0.25
    assert (model.temperature, model.threshold, model.budget) == (0.5, 0.3, 0.25)
    with execution_mode(model, "sparse"):
        assert model.execution_mode == "sparse"
    assert model.execution_mode == "train"
    with pytest.raises(RuntimeError), execution_mode(model, "dense"):
        raise RuntimeError
    assert model.execution_mode == "train"
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0, got 0\.0"):
        model.temperature = 0
    with pytest.raises(ValueError, match=r"threshold must lie in \[0, 1\], got 2.0"):
        model.threshold = 2
    with pytest.raises(ValueError, match=r"budget must lie in \[0, 1\], got -0.1"):
        model.budget = -0.1
    with pytest.raises(ValueError, match="execution_mode must be one of"):
        model.execution_mode = "fast"
