"""dynskip.evaluation.triplets: the helpers the experiments/ugsp_rife scripts share (no script imports
another)."""

import math

import pytest
import torch

from dynskip.evaluation.triplets import dense_psnr, frame_psnr, synthetic_triplets, time_pairs
from dynskip.models import build_model


def test_frame_psnr_is_rgb_psnr_on_uint8_levels() -> None:
    gt = torch.full((3, 8, 8), 0.5)
    pred = gt + 10.3 / 255  # rounds to 10 levels above
    assert frame_psnr(pred, gt) == pytest.approx(20 * math.log10(255 / 10))


@torch.no_grad()
def test_dense_psnr_and_time_pairs_on_a_small_triplet() -> None:
    triplets = synthetic_triplets(1, size=(64, 128))
    assert [tuple(t.shape) for t in triplets[0]] == [(3, 64, 128)] * 3
    model = build_model("ugsp-rife").eval()
    dense = dense_psnr(model, triplets)
    assert dense["dense_psnr"] == dense["own_dense_psnr"] and dense["baseline"] == "own dense mode"
    timing = time_pairs(model, triplets, repeats=1)
    assert {"dense_s", "sparse_s", "speedup", "dense_cpu_s", "sparse_cpu_s", "cpu_speedup"} <= set(timing)
    assert timing["speedup"] == pytest.approx(timing["dense_s"] / timing["sparse_s"])
    assert model.execution_mode == "sparse"  # the timed calls leave the model's mode as it was
