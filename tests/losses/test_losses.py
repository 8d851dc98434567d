"""Losses: known values, references written from the RIFE/IFRNet definitions, gradcheck, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from dynskip.losses import (
    CharbonnierLoss,
    LaplacianNLLLoss,
    LaplacianPyramidL1Loss,
    TernaryCensusLoss,
    charbonnier_loss,
    laplacian_nll,
    laplacian_pyramid,
    laplacian_pyramid_l1,
    ternary_census_loss,
)


def _rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- references transcribed from the published definitions (RIFE laplacian.py, IFRNet loss.py) ------------


def _reference_lap_loss(pred: torch.Tensor, target: torch.Tensor, levels: int) -> torch.Tensor:
    """RIFE's LapLoss: reflect pad + depthwise conv, [::2, ::2] down, zero-insert up by cat/view/permute."""
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=pred.dtype)
    kernel = (torch.outer(taps, taps) / 256.0).repeat(pred.shape[1], 1, 1, 1)

    def conv_gauss(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])

    def upsample(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        cc = torch.cat([x, torch.zeros_like(x)], dim=3).view(n, c, 2 * h, w).permute(0, 1, 3, 2)
        cc = torch.cat([cc, torch.zeros(n, c, w, 2 * h, dtype=x.dtype)], dim=3).view(n, c, 2 * w, 2 * h)
        return conv_gauss(cc.permute(0, 1, 3, 2), 4 * kernel)

    def pyramid(img: torch.Tensor) -> list[torch.Tensor]:
        out, current = [], img
        for _ in range(levels):
            down = conv_gauss(current, kernel)[:, :, ::2, ::2]
            out.append(current - upsample(down))
            current = down
        return out

    return sum(F.l1_loss(a, b) for a, b in zip(pyramid(pred), pyramid(target)))


def _reference_census(x: torch.Tensor, y: torch.Tensor, patch_size: int, per_channel: bool) -> torch.Tensor:
    """IFRNet's Ternary (channel mean) / Geometry (per channel): identity-kernel conv, valid mask, mean."""
    eye = torch.eye(patch_size * patch_size, dtype=x.dtype).view(-1, 1, patch_size, patch_size)

    def transform(t: torch.Tensor) -> torch.Tensor:
        b, c, h, w = t.shape
        t = t.reshape(b * c, 1, h, w) if per_channel else t.mean(dim=1, keepdim=True)
        d = F.conv2d(t, eye, padding=patch_size // 2) - t
        d = d.reshape(b, -1, h, w)
        return d / torch.sqrt(0.81 + d**2)

    diff = transform(x) - transform(y)
    dist = (diff**2 / (0.1 + diff**2)).mean(dim=1, keepdim=True)
    pad = patch_size // 2
    b, _, h, w = x.shape
    mask = F.pad(torch.ones(b, 1, h - 2 * pad, w - 2 * pad, dtype=x.dtype), [pad] * 4)
    return (dist * mask).mean()


# --- Charbonnier ---------------------------------------------------------------------------------------


def test_charbonnier_zero_when_equal_without_eps() -> None:
    x = _rand(2, 3, 4, 4)
    assert charbonnier_loss(x, x, eps=0.0).item() == 0.0
    assert charbonnier_loss(x, x).item() == pytest.approx(1e-6)  # sqrt(1e-12) per element


def test_charbonnier_known_value_and_reductions() -> None:
    pred = torch.full((1, 1, 2, 2), 3.0)
    target = torch.zeros(1, 1, 2, 2)
    assert charbonnier_loss(pred, target, eps=16.0).item() == pytest.approx(5.0)  # sqrt(9 + 16)
    assert charbonnier_loss(pred, target, eps=16.0, reduction="sum").item() == pytest.approx(20.0)
    assert charbonnier_loss(pred, target, eps=16.0, reduction="none").shape == (1, 1, 2, 2)


def test_charbonnier_5d_equals_flattened() -> None:
    pred, target = _rand(2, 3, 3, 4, 4, seed=1), _rand(2, 3, 3, 4, 4, seed=2)
    assert charbonnier_loss(pred, target).item() == pytest.approx(
        charbonnier_loss(pred.flatten(0, 1), target.flatten(0, 1)).item()
    )
    assert charbonnier_loss(pred, target, reduction="none").shape == pred.shape


def test_charbonnier_gradcheck() -> None:
    pred = _rand(1, 2, 3, 3, seed=3).requires_grad_()
    assert gradcheck(lambda p: charbonnier_loss(p, _rand(1, 2, 3, 3, seed=4), eps=1e-3), (pred,))


def test_charbonnier_module_matches_function() -> None:
    pred, target = _rand(1, 3, 4, 4, seed=5), _rand(1, 3, 4, 4, seed=6)
    assert CharbonnierLoss(eps=1e-6)(pred, target).item() == charbonnier_loss(pred, target, eps=1e-6).item()


def test_charbonnier_exceptions() -> None:
    with pytest.raises(ValueError, match=r"pred \(1, 3, 4, 4\), target \(1, 3, 4, 5\)"):
        charbonnier_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        charbonnier_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), reduction="avg")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(B, T, C, H, W\), got \(4, 4\)"):
        charbonnier_loss(torch.zeros(4, 4), torch.zeros(4, 4))


# --- Laplacian pyramid L1 ------------------------------------------------------------------------------


def test_laplacian_pyramid_cardinality() -> None:
    levels = laplacian_pyramid(_rand(2, 3, 32, 16), levels=3)
    assert [tuple(level.shape) for level in levels] == [(2, 3, 32, 16), (2, 3, 16, 8), (2, 3, 8, 4)]


def test_laplacian_pyramid_l1_matches_rife_definition() -> None:
    pred, target = _rand(1, 3, 64, 64, seed=1), _rand(1, 3, 64, 64, seed=2)
    expected = _reference_lap_loss(pred, target, levels=5)
    assert laplacian_pyramid_l1(pred, target).item() == pytest.approx(expected.item(), rel=1e-12)


def test_laplacian_pyramid_l1_zero_when_equal_and_blind_to_constant_offset() -> None:
    # Only band-pass levels enter (no low-pass residual), and the zero-insert upsampling reproduces
    # a constant exactly, border included: a global brightness shift costs nothing.
    x = _rand(1, 3, 16, 16, seed=3)
    assert laplacian_pyramid_l1(x, x, levels=3).item() == 0.0
    assert laplacian_pyramid_l1(x + 0.25, x, levels=3).item() == pytest.approx(0.0, abs=1e-14)
    assert laplacian_pyramid_l1(x + 0.25 * _rand(1, 3, 16, 16, seed=4), x, levels=3).item() > 1e-3


def test_laplacian_pyramid_l1_5d_equals_flattened() -> None:
    pred, target = _rand(2, 2, 3, 16, 16, seed=5), _rand(2, 2, 3, 16, 16, seed=6)
    flat = laplacian_pyramid_l1(pred.flatten(0, 1), target.flatten(0, 1), levels=2)
    assert laplacian_pyramid_l1(pred, target, levels=2).item() == pytest.approx(flat.item(), rel=1e-12)
    assert LaplacianPyramidL1Loss(levels=2)(pred, target).item() == pytest.approx(flat.item(), rel=1e-12)


def test_laplacian_pyramid_l1_gradcheck() -> None:
    pred = _rand(1, 1, 8, 8, seed=7).requires_grad_()
    target = _rand(1, 1, 8, 8, seed=8)
    # fast_mode checks a random projection of the Jacobian: O(1) evaluations instead of one per input.
    assert gradcheck(lambda p: laplacian_pyramid_l1(p, target, levels=2), (pred,), fast_mode=True)


def test_laplacian_pyramid_l1_exception_size() -> None:
    with pytest.raises(
        ValueError, match=r"levels=5 needs H and W divisible by 32 and at least 64.*\(1, 3, 32, 48\)"
    ):
        laplacian_pyramid_l1(torch.zeros(1, 3, 32, 48), torch.zeros(1, 3, 32, 48))
    with pytest.raises(ValueError, match="levels must be an int >= 1, got 0"):
        laplacian_pyramid_l1(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), levels=0)


# --- ternary census ------------------------------------------------------------------------------------


def test_census_hand_computed_single_interior_pixel() -> None:
    # 3x3 patch on a 3x3 image: only the centre is interior. Centre raised by 1: eight offsets of -1.
    pred = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    pred[0, 0, 1, 1] = 1.0
    s2 = 1.0 / 1.81  # (-1 / sqrt(0.81 + 1))^2; the target's signature is all zeros
    expected = (8 / 9) * s2 / (0.1 + s2) / 9  # mean over 9 offsets, then over 9 pixels
    loss = ternary_census_loss(pred, torch.zeros_like(pred), patch_size=3)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("channel_mode", "per_channel"), [("mean", False), ("per_channel", True)])
def test_census_matches_ifrnet_definition(channel_mode: str, per_channel: bool) -> None:
    pred, target = _rand(2, 4, 12, 10, seed=1), _rand(2, 4, 12, 10, seed=2)
    expected = _reference_census(pred, target, patch_size=7, per_channel=per_channel)
    loss = ternary_census_loss(pred, target, patch_size=7, channel_mode=channel_mode)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)


def test_census_zero_when_equal_and_offset_invariant() -> None:
    x = _rand(1, 3, 9, 9, seed=3)
    assert ternary_census_loss(x, x).item() == 0.0
    assert ternary_census_loss(x + 0.5, x).item() == pytest.approx(0.0, abs=1e-15)


def test_census_channel_mode_sees_swapped_channels_only_per_channel() -> None:
    x = _rand(1, 2, 9, 9, seed=4)
    swapped = x.flip(1)  # same channel mean, different channels
    assert ternary_census_loss(swapped, x, channel_mode="mean").item() == pytest.approx(0.0, abs=1e-15)
    assert ternary_census_loss(swapped, x, channel_mode="per_channel").item() > 1e-3


def test_census_5d_equals_flattened_and_module() -> None:
    pred, target = _rand(2, 2, 3, 8, 8, seed=5), _rand(2, 2, 3, 8, 8, seed=6)
    flat = ternary_census_loss(pred.flatten(0, 1), target.flatten(0, 1), patch_size=3)
    assert ternary_census_loss(pred, target, patch_size=3).item() == pytest.approx(flat.item(), rel=1e-12)
    assert TernaryCensusLoss(patch_size=3)(pred, target).item() == pytest.approx(flat.item(), rel=1e-12)


@pytest.mark.parametrize("channel_mode", ["mean", "per_channel"])
def test_census_gradcheck(channel_mode: str) -> None:
    pred = _rand(1, 2, 4, 4, seed=7).requires_grad_()
    target = _rand(1, 2, 4, 4, seed=8).requires_grad_()
    assert gradcheck(
        lambda p, t: ternary_census_loss(p, t, patch_size=3, channel_mode=channel_mode),
        (pred, target),
        fast_mode=True,
    )


def test_census_exceptions() -> None:
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="patch_size must be an odd int >= 1, got 4"):
        ternary_census_loss(x, x, patch_size=4)
    with pytest.raises(ValueError, match="channel_mode must be one of"):
        ternary_census_loss(x, x, channel_mode="grey")
    with pytest.raises(ValueError, match=r"H and W must be >= patch_size=9, got \(1, 3, 8, 8\)"):
        ternary_census_loss(x, x, patch_size=9)
    with pytest.raises(ValueError, match=r"pred \(1, 3, 8, 8\), target \(1, 2, 8, 8\)"):
        ternary_census_loss(x, torch.zeros(1, 2, 8, 8))


# --- Laplacian NLL -------------------------------------------------------------------------------------


def test_laplacian_nll_known_values() -> None:
    pred, target = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 2.0)
    assert laplacian_nll(pred, target, torch.zeros(1, 1, 2, 2)).item() == pytest.approx(2.0)
    # U = log 2: exp(-U) * 2 + 2U = 1 + 2 log 2
    log_two = torch.full((1, 1, 2, 2), math.log(2.0))
    assert laplacian_nll(pred, target, log_two).item() == pytest.approx(1 + 2 * math.log(2.0))


def test_laplacian_nll_zero_error_leaves_only_the_scale_term() -> None:
    x = _rand(1, 3, 4, 4)
    log_scale = _rand(1, 1, 4, 4, seed=1) - 0.5
    assert laplacian_nll(x, x, log_scale).item() == pytest.approx(2 * log_scale.mean().item(), rel=1e-12)


def test_laplacian_nll_minimum_at_log_half_error() -> None:
    pred, target = (
        torch.zeros(1, 1, 2, 2, dtype=torch.float64),
        torch.full((1, 1, 2, 2), 0.6, dtype=torch.float64),
    )
    log_scale = torch.full((1, 1, 2, 2), math.log(0.3), dtype=torch.float64, requires_grad=True)
    laplacian_nll(pred, target, log_scale).backward()
    assert log_scale.grad.abs().max().item() < 1e-12


def test_laplacian_nll_broadcast_equals_expanded_and_5d() -> None:
    pred, target = _rand(2, 2, 3, 4, 4, seed=2), _rand(2, 2, 3, 4, 4, seed=3)
    log_scale = _rand(2, 2, 1, 4, 4, seed=4)
    broadcast = laplacian_nll(pred, target, log_scale)
    expanded = laplacian_nll(
        pred.flatten(0, 1), target.flatten(0, 1), log_scale.expand_as(pred).flatten(0, 1)
    )
    assert broadcast.item() == pytest.approx(expanded.item(), rel=1e-12)
    assert LaplacianNLLLoss()(pred, target, log_scale).item() == broadcast.item()


def test_laplacian_nll_gradcheck() -> None:
    pred = _rand(1, 2, 3, 3, seed=5).requires_grad_()
    log_scale = (_rand(1, 1, 3, 3, seed=6) - 0.5).requires_grad_()
    target = _rand(1, 2, 3, 3, seed=7)
    assert gradcheck(lambda p, u: laplacian_nll(p, target, u), (pred, log_scale))


def test_laplacian_nll_exception_log_scale_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 1, 4, 4\) or \(2, 3, 4, 4\).*got \(2, 2, 4, 4\) for pred"):
        laplacian_nll(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), torch.zeros(2, 2, 4, 4))
