"""SkipVSR v2 output reuse: the windowed reconstruction, and reuse of the warped previous output."""

from __future__ import annotations

import pytest
import torch

from dynskip.archs.basicvsr_arch import BasicVSR
from dynskip.methods.skipvsr import arch
from dynskip.methods.skipvsr.reconstruct import (
    put_patches,
    reconstruct_macs_per_pixel,
    reconstruct_patch_macs,
    reconstruct_patches,
    take_patches,
    warp_output,
)
from helpers.skipvsr_v2 import (
    FixedFlows,
    clip_with_static_and_moving,
    masked_then_sparse,
    reusing_model,
    tiny,
)


def small_basicvsr() -> BasicVSR:
    torch.manual_seed(0)
    return BasicVSR(num_feat=8, num_block=1).eval()


@pytest.mark.parametrize(
    ("b", "h", "w", "patch"), [(1, 16, 16, 8), (2, 21, 27, 8), (3, 17, 33, 4), (1, 9, 11, 16)]
)
def test_reconstruct_patches_equal_the_dense_reconstruction(b, h, w, patch):
    net = small_basicvsr()
    fb, ff = torch.randn(b, 8, h, w), torch.randn(b, 8, h, w)
    gh, gw = -(-h // patch), -(-w // patch)
    chosen = torch.rand(b, gh, gw) < 0.5
    chosen[0, -1, -1] = chosen[-1, 0, 0] = True  # both corners: windows reaching past every border
    sample, row, col = chosen.nonzero(as_tuple=True)
    with torch.no_grad():
        dense = net.reconstruct_residual(fb, ff)
        tiles = reconstruct_patches(net, fb, ff, sample, row, col, patch)
        # Written into a zero map, the patches must be the dense map there and zero elsewhere.
        placed = put_patches(torch.zeros_like(dense), tiles, sample, row, col)
    hr_mask = (
        chosen[:, None].repeat_interleave(4 * patch, 2).repeat_interleave(4 * patch, 3)[..., : 4 * h, : 4 * w]
    )
    torch.testing.assert_close(placed, dense * hr_mask, atol=1e-5, rtol=0)
    assert tiles.shape == (len(sample), 3, 4 * patch, 4 * patch)


def test_take_and_put_patches_round_trip_with_a_partial_border():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    sample, row, col = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([1, 0])
    windows = take_patches(x, sample, row, col, 4, reach=1)
    assert windows.shape == (2, 3, 6, 6)
    torch.testing.assert_close(
        windows[0, :, 1:2, 1:4], x[0, :, 4:5, 4:7]
    )  # the in-image part of a border patch
    assert windows[0, :, 2:].abs().sum() == 0 and windows[1, :, 0].abs().sum() == 0  # zero padding
    back = put_patches(torch.zeros_like(x), take_patches(x, sample, row, col, 4), sample, row, col)
    assert torch.equal(back[0, :, 4:, 4:], x[0, :, 4:, 4:]) and torch.equal(
        back[1, :, :4, :4], x[1, :, :4, :4]
    )
    assert back[0, :, :4].abs().sum() == 0


def test_reconstruct_macs_count_the_windows_halo():
    net = BasicVSR(num_feat=64, num_block=1)
    assert reconstruct_macs_per_pixel(net) == 128 * 64 + 9 * 64 * 256 * 5 + 16 * 9 * 64 * 67
    # An 8-px patch's windows cost 1.2-1.3x its share of the dense reconstruction.
    assert 1.2 < reconstruct_patch_macs(net, 8) / (64 * reconstruct_macs_per_pixel(net)) < 1.3


def test_warp_output_moves_the_frame_by_four_times_the_lr_flow():
    frame = torch.rand(1, 3, 16, 24)
    flow = torch.zeros(1, 2, 4, 6)
    assert torch.allclose(warp_output(frame, flow), frame, atol=1e-6)
    flow[:, 0] = 1.0  # each pixel reads one LR pixel (4 HR pixels) to its right
    torch.testing.assert_close(warp_output(frame, flow)[..., :-4], frame[..., 4:], atol=1e-5, rtol=0)


@pytest.fixture(params=["windows", "dense blend"])
def reconstruct_path(request, monkeypatch):
    """Force the reconstruction's patch windows (cut-over above 1) or its dense run with a blend (0)."""
    monkeypatch.setattr(arch, "RECONSTRUCT_DENSE_ABOVE", 1.1 if request.param == "windows" else 0.0)
    return request.param


@pytest.mark.parametrize(("b", "h", "w"), [(1, 16, 16), (2, 21, 27), (3, 17, 33)])
def test_output_reuse_sparse_equals_masked_with_per_sample_masks_and_odd_sizes(reconstruct_path, b, h, w):
    model = reusing_model(b, reuse_output=True)
    masked, _, sparse = masked_then_sparse(model, clip_with_static_and_moving(b, 5, h, w))
    torch.testing.assert_close(sparse, masked, atol=1e-5, rtol=0)
    unit = model.skip_report().units["reconstruct"]
    assert 0.0 < float(unit.fraction) < 1.0
    if reconstruct_path == "windows":  # only the windows' MACs ran
        assert unit.actual_macs < unit.dense_macs


@pytest.mark.parametrize("mode", ["masked", "sparse"])
def test_output_reuse_with_every_patch_running_is_basicvsr_bit_for_bit(mode):
    model = tiny(threshold=0.0, execution_mode=mode, reuse_output=True)
    dense = BasicVSR(num_feat=8, num_block=3).eval()
    dense.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("policy.")})
    lr = torch.rand(2, 4, 3, 19, 23)
    with torch.no_grad():
        assert torch.equal(model(lr), dense(lr))
    assert float(model.skip_report().units["reconstruct"].fraction) == 1.0


def test_zero_motion_and_an_unchanged_frame_reuse_the_previous_output_frame(reconstruct_path):
    knobs = {"cls": FixedFlows, "error_ref": 1e6, "max_stale": 10}
    model, states_only = tiny(**knobs, reuse_output=True), tiny(**knobs)
    torch.manual_seed(4)  # frames differ by a little noise: a fresh reconstruction would show it
    lr = torch.rand(1, 1, 3, 16, 24) + 0.02 * torch.rand(1, 6, 3, 16, 24)
    with torch.no_grad():
        out, reference = model(lr), states_only(lr)
    for i in range(1, 5):  # frame 5 is the backward trunk's first step: reconstructed
        torch.testing.assert_close(out[:, i], out[:, 0], atol=1e-5, rtol=0)  # zero-flow warps round
    assert not torch.allclose(reference[:, 2], reference[:, 0], atol=1e-3)
    # Only the trunks' first steps are reconstructed: the forward one's (frame 0) and the backward
    # one's (frame 5); in between both trunks reuse every patch.
    report = model.skip_report()
    assert float(report.units["reconstruct"].fraction) == pytest.approx(2 / 6)


def test_a_patch_either_trunk_runs_is_reconstructed():
    # A patch runs where its LR change exceeds 0.01; the pinned cut-over keeps the decisions the policy's.
    knobs = {"cls": FixedFlows, "error_ref": 0.01, "max_stale": 10, "cutover": 1.5}
    model, states_only = tiny(**knobs, reuse_output=True), tiny(**knobs)
    lr = torch.rand(1, 1, 3, 16, 32).repeat(1, 4, 1, 1, 1)
    lr[:, 2, :, :, :8] += 0.5  # frame 2 changes in its first patch column only
    with torch.no_grad():
        out, reference = model(lr), states_only(lr)
    # Frame 2's changed patches ran in both trunks: reconstructed as without output reuse (same states);
    # the other patches keep frame 1's output.
    torch.testing.assert_close(out[:, 2, :, :, :32], reference[:, 2, :, :, :32], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, 2, :, :, 32:], out[:, 1, :, :, 32:], atol=1e-5, rtol=0)
    assert not torch.allclose(out[:, 2, :, :, :32], out[:, 1, :, :, :32], atol=1e-3)
    # Reconstructed: frames 0 and 3 whole (each trunk's first step), frames 1 and 2 the changed column
    # (frame 1: the backward trunk's change against frame 2; frame 2: both trunks').
    unit = model.skip_report().units["reconstruct"]
    assert float(unit.fraction) == pytest.approx((1 + 0.25 + 0.25 + 1) / 4)


def test_reused_patches_follow_the_forward_flow():
    # The clip moves by one LR pixel down and right per frame and the flows say so (frame i reads frame
    # i - 1 at p - 1, frame i + 1 at p + 1): consistent, so every patch may be reused after the trunks'
    # first steps, and a reused output must be the previous one moved by 4 HR pixels.
    model = tiny(cls=FixedFlows, flows_forward=-1.0, flows_backward=1.0, error_ref=1e6, reuse_output=True)
    torch.manual_seed(5)
    base = torch.rand(1, 3, 16, 24)
    lr = torch.stack([torch.roll(base, (i, i), (-2, -1)) for i in range(4)], 1)
    with torch.no_grad():
        out = model(lr)
        flow = torch.full((1, 2, 16, 24), -1.0)
        for i in (1, 2):  # frame 3 is the backward trunk's first step: reconstructed
            torch.testing.assert_close(out[:, i], warp_output(out[:, i - 1], flow), atol=1e-5, rtol=0)
            assert not torch.allclose(out[:, i], out[:, i - 1], atol=1e-2)
    assert float(model.skip_report().units["reconstruct"].fraction) == pytest.approx(2 / 4)


def test_output_reuse_is_fixed_at_construction_and_named_in_the_units():
    assert "reconstruct" not in {u.name for u in tiny(reuse_output=False).skip_units()}
    model = tiny(reuse_output=True)
    assert "reconstruct" in {u.name for u in model.skip_units()}
    with pytest.raises(AttributeError):
        model.reuse_output = False


def test_output_reuse_trains_through_the_blend():
    model = tiny(cls=FixedFlows, error_ref=1e6, execution_mode="train", reuse_output=True).train()
    out = model(clip_with_static_and_moving(1, 4, 16, 16))
    out[:, 2].mean().backward()  # frame 2 is reused whole: its gradient reaches frame 0 through the warps
    assert model.conv_hr.weight.grad is not None and model.conv_hr.weight.grad.abs().sum() > 0
