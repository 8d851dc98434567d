"""An IFBlock computed around its kept tiles: windows equal the dense block there, and ugsp-rife uses it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynskip.archs.rife_arch import IFBlock
from dynskip.methods.ugsp.ifblock_kept import FEATURE_RING, decode_kept, encode_kept, gather_windows
from dynskip.methods.ugsp.pruning import expand_mask
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode
from helpers.models import randomise_mask_heads


def _block_and_input(scale: float, tile: int, seed: int = 0) -> tuple[IFBlock, torch.Tensor, torch.Tensor]:
    """Features 16x24 at ``1/(4 scale)``; tiles of ``tile`` features (8: a 2x3 grid; 4: 4x6, as in
    RIFE's large-motion restart, where the scales double and a 32-px tile is 4 features)."""
    torch.manual_seed(seed)
    block = IFBlock(8 + 4, 64).eval()
    height, width = int(64 * scale), int(96 * scale)
    x, flow = torch.randn(2, 8, height, width), torch.randn(2, 4, height, width)
    mask = torch.zeros(2, 1, 16 // tile, 24 // tile)
    mask[0, 0, 0, 0] = mask[1, 0, -1, -2:] = 1.0  # tiles on the frame's borders
    mask[1, 0, 1, 1] = 1.0
    return block, block.encode_input(x, flow, scale), mask


@pytest.mark.parametrize("scale, tile", [(1.0, 8), (2.0, 8), (2.0, 4)])
def test_encode_kept_equals_conv0_on_the_kept_tiles_and_their_ring(scale: float, tile: int) -> None:
    block, x, mask = _block_and_input(scale, tile)
    with torch.no_grad():
        dense = block.conv0(x)
        kept, macs = encode_kept(block, x, mask)
    pixels = expand_mask(mask, tuple(dense.shape[-2:]))
    ring = F.max_pool2d(pixels, 2 * FEATURE_RING + 1, 1, FEATURE_RING).bool().expand_as(dense)
    torch.testing.assert_close(kept[ring], dense[ring], rtol=0, atol=1e-5)
    assert not kept[~ring].any()  # nothing computed or left elsewhere
    dense_macs = sum(
        c[0].in_channels * c[0].out_channels * 9 * 2 * 24 * 16 * s for c, s in zip(block.conv0, (4, 1))
    )
    assert 0 < macs < dense_macs  # a few tiles, with windows


@pytest.mark.parametrize("scale, tile", [(1.0, 8), (2.0, 8), (2.0, 4)])
def test_decode_kept_equals_the_masked_dense_decode(scale: float, tile: int) -> None:
    block, x, mask = _block_and_input(scale, tile, seed=1)
    with torch.no_grad():
        feat = block.conv0(x)
        flow, logit = block.decode(feat, scale)
        kept_flow, kept_logit, _ = decode_kept(block, feat, mask, scale)
    full = expand_mask(mask, tuple(flow.shape[-2:]))
    torch.testing.assert_close(kept_flow, flow * full, rtol=0, atol=1e-5)
    torch.testing.assert_close(kept_logit, logit * full, rtol=0, atol=1e-5)


def test_exception_tiles_must_cover_the_map_exactly() -> None:
    block, x, mask = _block_and_input(1.0, 8)
    with pytest.raises(
        ValueError, match=r"conv0 output 16x24 is not covered by square tiles of the grid \(2, 2\)"
    ):
        encode_kept(block, x, mask[..., :2])
    with pytest.raises(ValueError, match="divisible by 4, got 63x96"):
        encode_kept(block, x[..., :63, :], mask)
    with pytest.raises(ValueError, match=r"feature map 16x24 is not covered"):
        decode_kept(block, torch.zeros(2, 64, 16, 24), mask[..., :2], 1.0)


def test_gather_windows_reads_zeros_outside_the_frame() -> None:
    x = torch.arange(1, 13, dtype=torch.float32).view(1, 1, 3, 4)
    out = gather_windows(x, torch.tensor([0]), torch.tensor([-1]), torch.tensor([2]), 3)
    assert out[0, 0].tolist() == [[0, 0, 0], [3, 4, 0], [7, 8, 0]]


@pytest.mark.parametrize(("halo", "quantile", "size"), [(0, 0.8, (128, 256)), (1, 0.97, (256, 384))])
def test_ugsp_rife_runs_its_last_block_around_the_kept_tiles(halo: int, quantile: float, size) -> None:
    # Random heads at a threshold that keeps few block-3 tiles: the window path must run, agree with
    # the masked emulation (dense conv0 / lastconv, full rewarp) and count fewer MACs. With the
    # active halo the windows cover the computed ring and the decode the kept tiles.
    torch.manual_seed(3)
    knobs = {"prune_padding": False, "active_halo_tiles": halo}
    model = build_model("ugsp-rife", weights="rife-v3.9", **knobs).eval()
    g = torch.Generator().manual_seed(0)
    randomise_mask_heads(model, generator=g)
    img0 = torch.rand(1, 3, *size, generator=g)
    img1 = torch.roll(img0, shifts=(3, -2), dims=(2, 3))
    with torch.no_grad(), execution_mode(model, "masked"):
        model(img0, img1)
    probabilities = model._state["logits"][3].softmax(1)[:, 1]
    model.threshold = float(probabilities.flatten().kthvalue(int(quantile * probabilities.numel())).values)
    reports = {}
    with torch.no_grad():
        outs = {}
        for mode in ("masked", "sparse"):
            with execution_mode(model, mode):
                outs[mode] = model(img0, img1)
                reports[mode] = model.skip_report()
    assert 3 in model._state["changed"]  # the window path ran
    kept = float(reports["sparse"].units["block3.convblock"].fraction)
    assert 0 < kept <= 0.3
    torch.testing.assert_close(outs["sparse"], outs["masked"], rtol=0, atol=1e-4)
    for mode in ("masked", "sparse"):  # the emulation counts what the sparse path runs
        units = reports[mode].units
        assert float(units["block3.conv0"].fraction) == kept
        for name in ("block3.conv0", "block3.lastconv"):
            assert units[name].actual_macs < 0.8 * units[name].dense_macs, name
    assert reports["sparse"].macs_saved_fraction() == reports["masked"].macs_saved_fraction()
