"""BI / BD degradations against hand-computed MATLAB values, torch's antialiased bicubic and kornia."""

from __future__ import annotations

import math

import kornia
import pytest
import torch
import torch.nn.functional as F

from dynskip.data.degrade import (
    bd_degrade,
    bi_degrade,
    degrade,
    gaussian_subsample_weights,
    imresize_matlab,
    quantize_uint8_matlab,
)


def _matlab_cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _matlab_resize_1d(values: list[float], scale: float) -> list[float]:
    """MATLAB imresize's contributions(), written out literally per output pixel (1-based indices)."""
    n = len(values)
    kernel_scale = min(scale, 1.0)
    width = 4 / kernel_scale
    out = []
    for i in range(1, math.ceil(n * scale) + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [left + k for k in range(math.ceil(width) + 2)]
        weights = [kernel_scale * _matlab_cubic(kernel_scale * (u - j)) for j in taps]
        aux = list(range(1, n + 1)) + list(range(n, 0, -1))  # symmetric padding, edge repeated
        total = sum(weights)
        out.append(sum(w / total * values[aux[(j - 1) % (2 * n)] - 1] for w, j in zip(weights, taps)))
    return out


def test_imresize_hand_computed_step_edge():
    # Worked by hand: taps of output 1 at u = 1.5 are 0.5*cubic(0.5*(1.5 - j)), normalised to
    # [-3, -9, 29, 111, 111, 29, -9, -3] / 256 over j = -2..5, mirrored onto x = [0, 0, 1, 1]:
    # (-3 + 29 - 9 - 3) / 256 = 14 / 256; output 2 is its mirror image, 1 - 14 / 256.
    x = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 4)
    expected = torch.tensor([14 / 256, 242 / 256])
    assert torch.allclose(imresize_matlab(x, 0.5)[0, 0], expected, atol=1e-7)


@pytest.mark.parametrize(("length", "scale"), [(13, 0.25), (9, 0.5), (6, 2.0), (5, 1 / 3)])
def test_imresize_matches_the_matlab_formula_in_1d(length, scale):
    values = torch.rand(length, generator=torch.Generator().manual_seed(length)).tolist()
    got = imresize_matlab(torch.tensor(values, dtype=torch.float64).view(1, 1, length), scale)[0, 0]
    expected = torch.tensor(_matlab_resize_1d(values, scale), dtype=torch.float64)
    assert torch.allclose(got, expected, atol=1e-12)


def test_imresize_keeps_constants_and_output_size():
    x = torch.full((2, 3, 18, 13), 0.37)
    out = imresize_matlab(x, 0.25)
    assert out.shape == (2, 3, 5, 4)  # ceil(18 / 4), ceil(13 / 4), as MATLAB
    assert torch.allclose(out, torch.full_like(out, 0.37), atol=1e-6)


def test_imresize_equals_torch_antialiased_bicubic_away_from_borders():
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    ours = imresize_matlab(x, 0.25)
    theirs = F.interpolate(x, scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False)
    assert ours.shape == theirs.shape
    assert torch.allclose(ours[..., 2:-2, 2:-2], theirs[..., 2:-2, 2:-2], atol=1e-5)
    # The borders differ: MATLAB mirrors, torch renormalises the truncated kernel.
    assert not torch.allclose(ours, theirs, atol=1e-4)


def test_bi_degrade_is_quantised_and_quarter_size():
    gt = torch.rand(5, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    lq = bi_degrade(gt)
    assert lq.shape == (5, 3, 8, 12)
    assert torch.equal(lq * 255, (lq * 255).round())
    assert torch.equal(lq, quantize_uint8_matlab(imresize_matlab(gt, 0.25)))


def test_quantize_rounds_half_up_like_matlab():
    x = torch.tensor([0.5, 1.5, 2.5, 254.5, 300.0, -3.0]) / 255.0
    assert (quantize_uint8_matlab(x) * 255).round().tolist() == [1, 2, 3, 255, 255, 0]


def test_bd_matches_kornia_blur_then_every_fourth_pixel():
    gt = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(2))
    blurred = kornia.filters.gaussian_blur2d(gt, (13, 13), (1.6, 1.6), border_type="reflect")
    expected = quantize_uint8_matlab(blurred[..., ::4, ::4])  # sampling starts at pixel 0
    lq = bd_degrade(gt)
    assert lq.shape == (2, 3, 8, 10)
    assert (lq - expected).abs().max() <= 1 / 255 + 1e-6  # float32 vs float64 at rounding ties
    assert (lq != expected).float().mean() < 0.01


def test_bd_weights_sum_to_one_and_reflect_without_edge_repeat():
    weights = gaussian_subsample_weights(16, 4, 1.6)
    assert weights.shape == (4, 16)
    assert torch.allclose(weights.sum(1), torch.ones(4, dtype=torch.float64))
    # Output 0 is centred on pixel 0: tap -k lands on pixel k, so pixel 1 gets the weight of |k| = 1 twice.
    assert weights[0, 1] == pytest.approx(2 * weights[1, 5].item())
    with pytest.raises(ValueError, match="more than 6 pixels"):
        gaussian_subsample_weights(6, 4, 1.6)


def test_degrade_dispatch_and_unknown_name():
    gt = torch.rand(1, 3, 16, 16)
    assert torch.equal(degrade(gt, "bd"), bd_degrade(gt))
    assert torch.equal(degrade(gt, "bi"), bi_degrade(gt))
    with pytest.raises(ValueError, match="'blur'"):
        degrade(gt, "blur")
