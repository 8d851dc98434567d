"""The GPU paths give on CUDA what they give on the CPU: the tile engine against its dense twins (plain
and channels-last), both skipping models sparse against masked, the official backbones as
`load_model` prepares them for CUDA (channels-last) against the CPU, and a footage evaluation with
counted MACs. Marked `cuda`: skipped without a GPU, run by `make gpu-check`.

Each check is a function of the device, so the same code is what runs on CUDA.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from dynskip.data.synthetic import SyntheticClips
from dynskip.evaluation.footage import evaluate_clip
from dynskip.evaluation.loading import load_model
from dynskip.models import build_model
from dynskip.skip.engine import masked_chain, masked_chain_dense, residual_skip, residual_skip_dense
from dynskip.skip.protocol import execution_mode
from helpers import clips
from helpers.clips import shifted_pair
from helpers.models import (
    conv_prelu_chain,
    random_plan,
    random_skipvsr_policy,
    randomise_mask_heads,
    res_block,
    small_skipvsr,
)

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def carphone_frames() -> torch.Tensor:
    """The first 5 carphone frames, ``(5, 3, 144, 176)`` in [0, 1]."""
    return clips.carphone_frames(5)


@pytest.fixture(autouse=True)
def ieee_fp32() -> Iterator[None]:
    """fp32 convs and matmuls in IEEE precision: TF32 (cuDNN's default) differs by ~1e-3, which would
    hide the differences these comparisons look for."""
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    saved = conv.fp32_precision, matmul.fp32_precision
    conv.fp32_precision = matmul.fp32_precision = "ieee"
    yield
    conv.fp32_precision, matmul.fp32_precision = saved


def psnr_between(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float().cpu() - b.float().cpu()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()


def check_residual_skip(device: str, channels_last: bool) -> None:
    torch.manual_seed(0)
    block = res_block(16, bias=0.5).to(device)
    x = torch.randn(2, 16, 45, 71, device=device)
    if channels_last:
        block, x = (
            block.to(memory_format=torch.channels_last),
            x.contiguous(memory_format=torch.channels_last),
        )
    plan = random_plan(2, 45, 71, 16, 0.4, seed=16, device=device)
    with torch.no_grad():
        sparse = residual_skip(x, block, plan, mode="sparse")
        dense = residual_skip_dense(x, block, plan.pixel_mask())
    assert sparse.device.type == torch.device(device).type
    torch.testing.assert_close(sparse, dense, rtol=0, atol=1e-5)


def check_masked_chain(device: str) -> None:
    torch.manual_seed(1)
    layers = [layer.to(device) for layer in conv_prelu_chain(7, 12, 4)]
    head = [torch.nn.Conv2d(48, 5, 1).to(device)]
    x = torch.randn(2, 7, 37, 50, device=device)
    plan = random_plan(2, 37, 50, 8, 0.3, seed=8, device=device)
    with torch.no_grad():
        sparse = masked_chain(x, layers, plan, "sparse", head=head)
        dense = masked_chain_dense(x, layers, plan.pixel_mask(), head=head)
    torch.testing.assert_close(sparse, dense, rtol=0, atol=1e-5)


def check_skipvsr_sparse_equals_masked(device: str) -> None:
    model = small_skipvsr()
    random_skipvsr_policy(model)
    model = model.to(device)
    model.threshold, model.engine_mode = 0.5, "sparse"
    lr = torch.rand(2, 3, 3, 19, 29, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        with execution_mode(model, "masked"):
            masked = model(lr)
        with execution_mode(model, "sparse"):
            sparse = model(lr)
    torch.testing.assert_close(sparse, masked, atol=1e-5, rtol=1e-5)


def check_ugsp_rife_sparse_equals_masked(device: str) -> None:
    torch.manual_seed(3)
    model = build_model("ugsp-rife", prune_padding=False).eval()
    randomise_mask_heads(model)
    model = model.to(device)
    img0, img1 = (t.to(device) for t in shifted_pair(128, 128, seed=1))
    with torch.no_grad():
        with execution_mode(model, "masked"):
            masked = model(img0, img1)
        with execution_mode(model, "sparse"):
            sparse = model(img0, img1)
            level3 = float(model.skip_report().units["block3.convblock"].fraction)
    assert 0 < level3 < 1  # really pruned, or the comparison proves nothing
    torch.testing.assert_close(sparse, masked, rtol=0, atol=1e-4)


@pytest.mark.parametrize("channels_last", [False, True])
def test_residual_skip_on_cuda_equals_its_dense_twin(channels_last: bool) -> None:
    check_residual_skip("cuda", channels_last)


def test_masked_chain_on_cuda_equals_its_dense_twin() -> None:
    check_masked_chain("cuda")


def test_skipvsr_sparse_equals_masked_on_cuda() -> None:
    check_skipvsr_sparse_equals_masked("cuda")


def test_ugsp_rife_sparse_equals_masked_on_cuda() -> None:
    check_ugsp_rife_sparse_equals_masked("cuda")


# Dense models agree to float noise; a skipping model's threshold decisions may flip on that noise for a
# tile or two, hence its lower bar.
SHIPPED = [
    ("basicvsr", "vsr", 50.0),
    ("skipvsr", "vsr", 40.0),
    ("rife", "vfi", 50.0),
    ("ugsp-rife", "vfi", 40.0),
]


@pytest.mark.parametrize(("name", "task", "min_psnr"), SHIPPED)
def test_shipped_models_on_cuda_match_the_cpu(
    name: str, task: str, min_psnr: float, carphone_frames: torch.Tensor
) -> None:
    """As `dynskip evaluate --device cuda` loads them (channels-last, sparse execution)."""
    weights = {"basicvsr": "reds4", "skipvsr": "reds4", "rife": "rife-v3.9", "ugsp-rife": "rife-v3.9"}[name]
    outputs = []
    for device in ("cpu", "cuda"):
        model = load_model(name, weights, None, device, None, {})
        with torch.no_grad():
            if task == "vsr":
                lr = torch.nn.functional.interpolate(carphone_frames[:5], scale_factor=0.25, mode="area")
                out = model(lr[None].to(device))
            else:
                out = model(carphone_frames[[0]].to(device), carphone_frames[[2]].to(device), 0.5)
        outputs.append(out.float().cpu().clamp(0, 1))
    agreement = psnr_between(*outputs)
    assert agreement > min_psnr, f"{name}: CUDA and CPU outputs differ ({agreement:.1f} dB)"


def test_footage_evaluation_on_cuda_counts_macs_and_times_both() -> None:
    model = load_model("ugsp-rife", "rife-v3.9", None, "cuda", None, {})
    clip = SyntheticClips("vfi", 1, (256, 448), seed=7, texture="dead_leaves").render(
        0, [0.0, 1.0, 2.0, 3.0, 4.0]
    )
    result = evaluate_clip(model, "vfi", clip, "synthetic", "cuda", compare_dense=True, repeats=2)
    assert result["device"] == "cuda" and result["frames"] == 2
    assert 0 < result["gmacs_per_frame"] < result["dense"]["gmacs_per_frame"]
    assert result["speedup"] > 0 and abs(result["psnr_drop"]) < 10
