"""Benchmark-protocol metrics: hand-computed values, a numpy SSIM reference, clip averaging, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchmetrics import MetricCollection

from dynskip.metrics import (
    MiddleburyIE,
    VideoPSNR,
    VideoSSIM,
    middlebury_ie,
    psnr,
    quantize_uint8,
    rgb_to_y,
    ssim,
)
from dynskip.metrics.clip_average import clip_key


def _flat(
    level: float, shape: tuple[int, ...] = (3, 16, 16), dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """A frame filled with one (possibly fractional) uint8 level."""
    return torch.full(shape, level / 255.0, dtype=dtype)


def _psnr_of_level_error(levels: float) -> float:
    return 20.0 * math.log10(255.0 / levels)


# numpy reference of BasicSR's calculate_ssim (cv2.getGaussianKernel(11, 1.5), valid region), written out
def _numpy_ssim(img: np.ndarray, img2: np.ndarray) -> float:
    """``img``, ``img2``: (H, W, C) float64 on [0, 255]."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    taps /= taps.sum()
    window = np.outer(taps, taps)

    def filt(x: np.ndarray) -> np.ndarray:
        patches = np.lib.stride_tricks.sliding_window_view(x, (11, 11))
        return np.einsum("ijkl,kl->ij", patches, window)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for ch in range(img.shape[2]):
        a, b = img[..., ch], img2[..., ch]
        mu1, mu2 = filt(a), filt(b)
        s1, s2, s12 = filt(a * a) - mu1**2, filt(b * b) - mu2**2, filt(a * b) - mu1 * mu2
        ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
        values.append(ssim_map.mean())
    return float(np.mean(values))


def _to_uint8_hwc(frame: torch.Tensor) -> np.ndarray:
    return (frame.clamp(0, 1) * 255.0).round().permute(1, 2, 0).double().numpy()


def _numpy_y(img: np.ndarray) -> np.ndarray:
    """BasicSR's to_y_channel on a uint8-valued RGB (H, W, 3) array -> (H, W, 1) on [0, 255]."""
    return (img / 255.0 @ np.array([65.481, 128.553, 24.966]) + 16.0)[..., None]


# --- colour and quantisation -----------------------------------------------------------------------------


def test_rgb_to_y_pure_colours() -> None:
    colours = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]]).view(5, 3, 1, 1)
    y = rgb_to_y(colours)
    assert y.shape == (5, 1, 1, 1)
    expected = torch.tensor([16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0, 16.0]) / 255.0
    torch.testing.assert_close(y.flatten(), expected)


def test_rgb_to_y_exception_not_rgb() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\).*\(2, 4, 5, 5\)"):
        rgb_to_y(torch.rand(2, 4, 5, 5))


def test_quantize_uint8_levels_and_clamp() -> None:
    x = torch.tensor([-0.1, 0.0, 100.4 / 255, 100.6 / 255, 1.3], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.0, 100.0, 101.0, 255.0], dtype=torch.float64) / 255
    torch.testing.assert_close(quantize_uint8(x), expected)


def test_quantize_uint8_exception_integer_input() -> None:
    with pytest.raises(TypeError, match=r"quantize_uint8 expects floating-point .* torch\.uint8"):
        quantize_uint8(torch.zeros(3, dtype=torch.uint8))


# --- PSNR ----------------------------------------------------------------------------------------------


def test_psnr_known_mse() -> None:
    # Every pixel off by 10 levels: MSE = (10/255)^2, PSNR = 20 log10(255/10).
    value = psnr(_flat(10), _flat(0))
    assert value.shape == ()
    assert value.item() == pytest.approx(_psnr_of_level_error(10), abs=1e-9)


def test_psnr_cardinality_one_value_per_frame() -> None:
    pred, target = torch.rand(2, 4, 3, 12, 12), torch.rand(2, 4, 3, 12, 12)
    assert psnr(pred, target).shape == (2, 4)
    assert psnr(pred[:, 0], target[:, 0]).shape == (2,)


def test_psnr_identical_frames_is_inf() -> None:
    frame = torch.rand(1, 3, 8, 8)
    assert torch.isinf(psnr(frame, frame)).all()


def test_psnr_round_uint8_hides_sub_level_error() -> None:
    # float64: the 0.3-level error itself must not carry float32 rounding.
    target, pred = _flat(100, dtype=torch.float64), _flat(100.3, dtype=torch.float64)
    assert torch.isinf(psnr(pred, target, round_uint8=True))
    assert psnr(pred, target, round_uint8=False).item() == pytest.approx(_psnr_of_level_error(0.3), abs=1e-6)


def test_psnr_crop_border_drops_the_border_error() -> None:
    target = _flat(50)
    pred = target.clone()
    pred[:, :2, :] = 60 / 255  # error only in the top two rows
    assert torch.isfinite(psnr(pred, target, crop_border=1))
    assert torch.isinf(psnr(pred, target, crop_border=2))
    # Uncropped: 2 of 16 rows off by 10 levels.
    assert psnr(pred, target).item() == pytest.approx(10 * math.log10(255**2 / (100 * 2 / 16)), abs=1e-9)


def test_psnr_y_channel_matches_basicsr_numpy() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 20, 18, generator=g), torch.rand(3, 20, 18, generator=g)
    crop = 3
    y_pred = _numpy_y(_to_uint8_hwc(pred))[crop:-crop, crop:-crop]
    y_target = _numpy_y(_to_uint8_hwc(target))[crop:-crop, crop:-crop]
    expected = 10 * np.log10(255.0**2 / np.mean((y_pred - y_target) ** 2))
    assert psnr(pred, target, channel="y", crop_border=crop).item() == pytest.approx(expected, abs=1e-9)


def test_psnr_exception_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"pred \(1, 3, 8, 8\) and target \(1, 3, 8, 9\)"):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel": "ycbcr"}, "channel must be one of"),
        ({"crop_border": -1}, "crop_border must be an int >= 0, got -1"),
        ({"crop_border": 4}, r"crop_border=4 removes the whole frame of shape \(1, 3, 8, 8\)"),
    ],
)
def test_psnr_exception_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        psnr(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), **kwargs)


def test_psnr_exception_uint8_input() -> None:
    frame = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"pred must be floating point in \[0, 1\], got dtype torch.uint8"):
        psnr(frame, frame)


# --- SSIM ----------------------------------------------------------------------------------------------


def test_ssim_identical_frames_is_one() -> None:
    frame = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(ssim(frame, frame), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("channel", ["rgb", "y"])
def test_ssim_matches_numpy_reference(channel: str) -> None:
    g = torch.Generator().manual_seed(1)
    target = torch.rand(2, 3, 21, 17, generator=g)
    pred = (target + 0.1 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    crop = 2
    values = ssim(pred, target, channel=channel, crop_border=crop)
    for i in range(2):
        a, b = _to_uint8_hwc(pred[i]), _to_uint8_hwc(target[i])
        if channel == "y":
            a, b = _numpy_y(a), _numpy_y(b)
        expected = _numpy_ssim(a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop])
        assert values[i].item() == pytest.approx(expected, abs=1e-10)
    assert (values < 1).all()  # the noise is visible


def test_ssim_exception_frame_smaller_than_window() -> None:
    with pytest.raises(ValueError, match=r"at least 11x11 after crop_border=1, got \(10, 10\)"):
        ssim(torch.rand(1, 3, 12, 12), torch.rand(1, 3, 12, 12), crop_border=1)


# --- clip averaging ------------------------------------------------------------------------------------


def test_video_psnr_mean_of_clip_means_not_pooled_mse() -> None:
    # Clip "a": frames off by 1 and 9 levels; clip "b": both frames off by 2 levels.
    pred = torch.stack([torch.stack([_flat(1), _flat(9)]), torch.stack([_flat(2), _flat(2)])])
    target = torch.zeros_like(pred)
    metric = VideoPSNR()
    metric.update(pred, target)
    clip_a = (_psnr_of_level_error(1) + _psnr_of_level_error(9)) / 2
    clip_b = _psnr_of_level_error(2)
    assert metric.compute().item() == pytest.approx((clip_a + clip_b) / 2, abs=1e-9)
    pooled = 10 * math.log10(255**2 / ((1 + 81 + 4 + 4) / 4))
    assert abs(metric.compute().item() - pooled) > 1.0


def test_video_psnr_clip_ids_accumulate_across_updates() -> None:
    # Clip "a" arrives in two chunks (3 frames + 1 frame); clip "b" has one frame.
    metric = VideoPSNR()
    first_chunk = torch.stack([_flat(1), _flat(1), _flat(4)])
    metric.update(first_chunk, torch.zeros_like(first_chunk), clip_ids=["a", "a", "b"])
    metric.update(_flat(16).unsqueeze(0), torch.zeros(1, 3, 16, 16), clip_ids=["a"])
    clip_a = (2 * _psnr_of_level_error(1) + _psnr_of_level_error(16)) / 3
    expected = (clip_a + _psnr_of_level_error(4)) / 2
    assert metric.compute().item() == pytest.approx(expected, abs=1e-9)
    frame_mean = (2 * _psnr_of_level_error(1) + _psnr_of_level_error(16) + _psnr_of_level_error(4)) / 4
    assert abs(expected - frame_mean) > 1.0  # the clip weighting is what is being checked


def test_video_psnr_5d_chunks_with_clip_ids_equal_whole_clip() -> None:
    g = torch.Generator().manual_seed(2)
    pred, target = torch.rand(1, 6, 3, 12, 12, generator=g), torch.rand(1, 6, 3, 12, 12, generator=g)
    whole, chunked = VideoPSNR(), VideoPSNR()
    whole.update(pred, target)
    chunked.update(pred[:, :4], target[:, :4], clip_ids=["clip"])
    chunked.update(pred[:, 4:], target[:, 4:], clip_ids=["clip"])
    torch.testing.assert_close(chunked.compute(), whole.compute())


def test_video_psnr_unnamed_and_named_clips_combine() -> None:
    metric = VideoPSNR()
    metric.update(_flat(1).unsqueeze(0), torch.zeros(1, 3, 16, 16))  # one-frame clip of its own
    metric.update(_flat(4).unsqueeze(0), torch.zeros(1, 3, 16, 16), clip_ids=["x"])
    expected = (_psnr_of_level_error(1) + _psnr_of_level_error(4)) / 2
    assert metric.compute().item() == pytest.approx(expected, abs=1e-9)


def test_video_psnr_merge_state_pools_a_clip_split_over_ranks() -> None:
    # merge_state applies the dist_reduce_fx, as a DDP sync does.
    rank0, rank1 = VideoPSNR(), VideoPSNR()
    rank0.update(_flat(1).unsqueeze(0), torch.zeros(1, 3, 16, 16), clip_ids=["a"])
    rank1.update(_flat(9).unsqueeze(0), torch.zeros(1, 3, 16, 16), clip_ids=["a"])
    rank1.update(_flat(2).unsqueeze(0), torch.zeros(1, 3, 16, 16))
    rank0.merge_state(rank1)
    clip_a = (_psnr_of_level_error(1) + _psnr_of_level_error(9)) / 2
    assert rank0.compute().item() == pytest.approx((clip_a + _psnr_of_level_error(2)) / 2, abs=1e-9)


def test_video_psnr_forward_returns_batch_value_and_keeps_state() -> None:
    metric = VideoPSNR()
    batch1 = metric(_flat(1).unsqueeze(0), torch.zeros(1, 3, 16, 16))
    metric(_flat(4).unsqueeze(0), torch.zeros(1, 3, 16, 16))
    assert batch1.item() == pytest.approx(_psnr_of_level_error(1), abs=1e-9)
    expected = (_psnr_of_level_error(1) + _psnr_of_level_error(4)) / 2
    assert metric.compute().item() == pytest.approx(expected, abs=1e-9)


def test_video_psnr_identical_clip_gives_inf() -> None:
    metric = VideoPSNR()
    frames = torch.rand(1, 2, 3, 8, 8)
    metric.update(frames, frames)
    assert torch.isinf(metric.compute())


def test_video_ssim_y_channel_equals_functional_mean() -> None:
    g = torch.Generator().manual_seed(3)
    pred, target = torch.rand(2, 3, 3, 14, 14, generator=g), torch.rand(2, 3, 3, 14, 14, generator=g)
    metric = VideoSSIM(channel="y", crop_border=1)
    metric.update(pred, target)
    expected = ssim(pred, target, channel="y", crop_border=1).mean(dim=1).mean()
    torch.testing.assert_close(metric.compute(), expected)


def test_clip_key_is_stable_and_distinct() -> None:
    assert clip_key("000") == clip_key("000")
    assert clip_key("000") != clip_key("011")


def test_video_metric_exception_shape_mismatch_names_both_shapes() -> None:
    expected = r"VideoPSNR.update.*pred \(1, 2, 3, 8, 8\) and target \(1, 3, 3, 8, 8\)"
    with pytest.raises(ValueError, match=expected):
        VideoPSNR().update(torch.rand(1, 2, 3, 8, 8), torch.rand(1, 3, 3, 8, 8))


def test_video_metric_exception_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\) or \(B, T, 3, H, W\), got \(3, 8, 8\)"):
        VideoSSIM().update(torch.rand(3, 8, 8), torch.rand(3, 8, 8))


def test_video_metric_exception_clip_ids() -> None:
    frames = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"clip_ids has 1 names, preds \(2, 3, 8, 8\) has 2 items"):
        VideoPSNR().update(frames, frames, clip_ids=["a"])
    with pytest.raises(TypeError, match="clip_ids must be a list of str"):
        VideoPSNR().update(frames, frames, clip_ids="ab")


def test_video_metric_exception_bad_channel_at_construction() -> None:
    with pytest.raises(ValueError, match=r"VideoSSIM: channel must be one of \('rgb', 'y'\), got 'Y'"):
        VideoSSIM(channel="Y")


# --- Middlebury IE -------------------------------------------------------------------------------------


def test_middlebury_ie_rounds_both_images() -> None:
    target = _flat(100.4)  # rounds to 100
    pred = target.clone()
    pred[:, :8] = 103.2 / 255  # half the pixels round to 103: 3 levels off
    assert middlebury_ie(pred, target).item() == pytest.approx(1.5, abs=1e-12)


def test_middlebury_ie_metric_mean_over_images() -> None:
    metric = MiddleburyIE()
    metric.update(torch.stack([_flat(1), _flat(3)]), torch.zeros(2, 3, 16, 16))
    metric.update(_flat(8).unsqueeze(0), torch.zeros(1, 3, 16, 16))
    assert metric.compute().item() == pytest.approx(4.0, abs=1e-12)


def test_middlebury_ie_exception_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"pred \(1, 3, 8, 8\) and target \(1, 1, 8, 8\)"):
        MiddleburyIE().update(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8))


def test_metric_collection_keeps_same_state_names_apart() -> None:
    # VideoPSNR and VideoSSIM share state names; torchmetrics' compute groups must not merge them.
    g = torch.Generator().manual_seed(4)
    pred, target = torch.rand(2, 2, 3, 12, 12, generator=g), torch.rand(2, 2, 3, 12, 12, generator=g)
    metrics = {"psnr": VideoPSNR(), "psnr_y": VideoPSNR(channel="y"), "ssim": VideoSSIM()}
    collection = MetricCollection(metrics)
    collection.update(pred, target)
    collection.update(pred, pred * 0.9)
    values = collection.compute()
    for name, fn, kwargs in (("psnr", psnr, {}), ("psnr_y", psnr, {"channel": "y"}), ("ssim", ssim, {})):
        expected = (fn(pred, target, **kwargs).mean() + fn(pred, pred * 0.9, **kwargs).mean()) / 2
        torch.testing.assert_close(values[name], expected)


def test_ssim_rife_protocol_matches_an_independent_volume_filter() -> None:
    # RIFE's ssim_matlab: the RGB frame as one 3 x H x W volume, Gaussian sigma 1.5 of radius 5 on every
    # axis, replicate (edge) padding, L = 1; here rebuilt with numpy's padding and 1-D convolutions.
    g = torch.Generator().manual_seed(3)
    pred, target = torch.rand(2, 3, 24, 30, generator=g, dtype=torch.float64).round(decimals=2).unbind(0)
    got = ssim(pred, target, protocol="rife")
    taps = np.exp(-(np.arange(-5, 6) ** 2) / (2 * 1.5**2))
    taps /= taps.sum()

    def blur(v: np.ndarray) -> np.ndarray:
        v = np.pad(v, 5, mode="edge")
        for axis in range(3):
            v = np.apply_along_axis(lambda line: np.convolve(line, taps, mode="valid"), axis, v)
        return v

    x, y = (torch.round(v * 255).numpy() / 255 for v in (pred, target))
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert float(got) == pytest.approx(float(expected.mean()), abs=1e-12)
    assert abs(float(got) - float(ssim(pred, target))) > 1e-3  # a different protocol from BasicSR's


def test_ssim_rife_protocol_of_flat_frames_is_the_luminance_term() -> None:
    a, b = torch.full((3, 16, 16), 0.2), torch.full((3, 16, 16), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)  # no variance: only the means compare
    assert float(ssim(a, b, protocol="rife", round_uint8=False)) == pytest.approx(
        expected, rel=1e-6
    )  # float32 0.2
    assert float(ssim(a, a, protocol="rife")) == 1.0


def test_ssim_exception_unknown_protocol_or_luma_volume() -> None:
    frame = torch.rand(3, 16, 16)
    with pytest.raises(ValueError, match=r"protocol must be one of \('basicsr', 'rife'\), got 'matlab'"):
        ssim(frame, frame, protocol="matlab")
    with pytest.raises(ValueError, match="protocol 'rife' scores the RGB volume, got channel='y'"):
        ssim(frame, frame, protocol="rife", channel="y")
