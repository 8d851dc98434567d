"""Shared augmentation: repeatable per (seed, epoch, index), GT-aligned VSR crops, VFI temporal swap."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynskip.data.augment import Augment
from dynskip.data.samples import vfi_sample, vsr_sample


def _pair(frames: int = 3, lq_size: int = 12, scale: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gt = torch.rand(frames, 3, lq_size * scale, lq_size * scale, generator=torch.Generator().manual_seed(0))
    return F.avg_pool2d(gt, scale), gt  # box-filter LQ: commutes with aligned crops, flips, transposes


def test_vsr_crop_stays_aligned_with_gt_through_every_transform():
    lq, gt = _pair()
    augment = Augment(crop_size=16, transpose=True)
    seen = set()
    for index in range(32):
        sample = vsr_sample(lq, gt, "k", 4, augment, index)
        assert sample["lq"].shape == (3, 3, 4, 4) and sample["gt"].shape == (3, 3, 16, 16)
        assert torch.allclose(F.avg_pool2d(sample["gt"], 4), sample["lq"], atol=1e-6)
        seen.add((sample["gt"][0, 0, 0, 0].item(), sample["gt"][0, 0, 0, 1].item()))
    assert len(seen) > 16  # positions and flips really vary


def test_vsr_temporal_reversal_reverses_both():
    lq, gt = _pair(frames=4)
    augment = Augment(hflip=False, vflip=False, reverse=True)
    flags = [augment.draw(i, 12, 12, None, "k").reverse for i in range(20)]
    reversed_index = flags.index(True)
    sample = vsr_sample(lq, gt, "k", 4, augment, reversed_index)
    assert torch.equal(sample["gt"], gt.flip(0)) and torch.equal(sample["lq"], lq.flip(0))


def test_draws_repeat_per_seed_epoch_index_and_change_with_each():
    augment = Augment(crop_size=8, seed=3)
    draw = augment.draw(5, 40, 40, (8, 8), "k")
    assert draw == Augment(crop_size=8, seed=3).draw(5, 40, 40, (8, 8), "k")
    others = [Augment(crop_size=8, seed=4).draw(5, 40, 40, (8, 8), "k"), augment.draw(6, 40, 40, (8, 8), "k")]
    augment.set_epoch(1)
    others.append(augment.draw(5, 40, 40, (8, 8), "k"))
    assert all(other != draw for other in others)


def test_transpose_probability_is_configurable():
    # UGSP transposes 5% of its crops; the default stays 0.5 with the draws of earlier versions.
    def rate(augment: Augment) -> float:
        return sum(augment.draw(i, 32, 32, (8, 8), "k").transpose for i in range(2000)) / 2000

    assert rate(Augment(crop_size=8, transpose=True, transpose_prob=0.05)) == pytest.approx(0.05, abs=0.015)
    assert rate(Augment(crop_size=8, transpose=True)) == pytest.approx(0.5, abs=0.04)
    assert rate(Augment(crop_size=8, transpose=True, transpose_prob=0.0)) == 0.0
    with pytest.raises(ValueError, match=r"transpose_prob must lie in \[0, 1\], got 1.5"):
        Augment(crop_size=8, transpose=True, transpose_prob=1.5)


def test_vfi_reversal_swaps_inputs_and_mirrors_timestep():
    img0, img1, gt = (torch.full((3, 8, 8), v) for v in (0.0, 1.0, 0.25))
    augment = Augment(hflip=False, vflip=False)
    outcomes = {}
    for index in range(20):
        sample = vfi_sample(img0, img1, gt, "k", 0.3, augment, index)
        assert sample["timestep"].dtype == torch.float32 and sample["timestep"].dim() == 0
        outcomes[sample["img0"][0, 0, 0].item()] = (sample["img1"][0, 0, 0].item(), sample["timestep"].item())
    assert outcomes == {0.0: (1.0, pytest.approx(0.3)), 1.0: (0.0, pytest.approx(0.7))}


def test_vfi_crop_is_shared_by_the_triplet():
    base = torch.arange(3 * 20 * 24, dtype=torch.float32).view(3, 20, 24)
    sample = vfi_sample(base, base + 1, base + 2, "k", 0.5, Augment(crop_size=(8, 12), reverse=False), 7)
    assert sample["gt"].shape == (3, 8, 12)
    assert torch.equal(sample["img1"], sample["img0"] + 1) and torch.equal(sample["gt"], sample["img0"] + 2)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="square"):
        Augment(crop_size=(8, 12), transpose=True)
    lq, gt = _pair(lq_size=4)
    with pytest.raises(ValueError, match="multiple of the scale"):
        Augment(crop_size=10).vsr(lq, gt, 0, 4, "k")
    with pytest.raises(ValueError, match="sample clip7: crop 8x8 is larger than its frames 4x4"):
        Augment(crop_size=32).vsr(lq, gt, 0, 4, "clip7")
