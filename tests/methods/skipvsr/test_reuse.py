"""SkipVSR v2 (per-patch temporal reuse): equivalences, reuse, occlusion, policy, checkpoints."""

from __future__ import annotations

import pytest
import torch

from dynskip.archs.basicvsr_arch import BasicVSR
from dynskip.config import compose_config
from dynskip.methods.skipvsr.arch import SkipVSRv2, with_halo_ring
from dynskip.methods.skipvsr.labels import fit_reuse_estimator, reuse_samples
from dynskip.methods.skipvsr.models import export_skipvsr_v2_checkpoint, load_skipvsr_v2_weights
from dynskip.methods.skipvsr.policy import ReusePolicy, patch_occlusion
from dynskip.models import build_model
from dynskip.skip.fallback import CUTOVERS, clear_fallback_cache, cutover_key
from dynskip.train import train
from dynskip.zoo.checkpoint import CheckpointMismatchError
from helpers.skipvsr_v2 import (
    TINY,
    FixedFlows,
    clip_with_static_and_moving,
    masked_then_sparse,
    reusing_model,
    tiny,
)


@pytest.mark.parametrize("mode", ["masked", "sparse"])
def test_every_patch_running_is_basicvsr_bit_for_bit(mode):
    model = tiny(threshold=0.0, execution_mode=mode)
    dense = BasicVSR(num_feat=8, num_block=3).eval()
    dense.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("policy.")})
    lr = torch.rand(2, 4, 3, 19, 23)
    with torch.no_grad():
        assert torch.equal(model(lr), dense(lr))
    assert float(model.skip_report().density(prunable_only=True)) == 1.0


@pytest.mark.parametrize("reference", ["frame", "source"])
@pytest.mark.parametrize(("b", "h", "w"), [(1, 16, 16), (2, 21, 27), (3, 17, 33)])
def test_sparse_equals_masked_with_per_sample_masks_and_odd_sizes(b, h, w, reference):
    model = reusing_model(b, change_reference=reference)
    masked, masked_report, sparse = masked_then_sparse(model, clip_with_static_and_moving(b, 5, h, w))
    masks = masked_report.maps["frames/backward_trunk"]
    torch.testing.assert_close(sparse, masked, atol=1e-5, rtol=0)
    density = float(model.skip_report().density(prunable_only=True))
    assert 0.0 < density < 1.0
    if b > 1:  # decisions are per sample
        per_sample = masks.view(b, 5, *masks.shape[1:])
        assert per_sample[-1].min() == 1.0 and per_sample[0].min() == 0.0


def test_zero_motion_and_an_unchanged_frame_reuse_the_previous_output():
    model = tiny(cls=FixedFlows, error_ref=1e6, max_stale=10)
    lr = torch.rand(1, 1, 3, 16, 24).repeat(1, 6, 1, 1, 1)
    with torch.no_grad():
        out = model(lr)
    for i in range(1, 6):  # every step after a direction's first reuses: the same hidden states
        torch.testing.assert_close(out[:, i], out[:, 0], atol=1e-6, rtol=0)  # a zero-flow warp rounds
    assert float(model.skip_report().density(prunable_only=True)) == pytest.approx(1 / 6)


def test_inconsistent_flows_force_recomputation():
    consistent = tiny(cls=FixedFlows, flows_forward=0.0, flows_backward=0.0, error_ref=1e6)
    occluded = tiny(cls=FixedFlows, flows_forward=2.0, flows_backward=2.0, error_ref=1e6)
    lr = torch.full((1, 4, 3, 16, 16), 0.5)
    with torch.no_grad():
        consistent(lr)
        occluded(lr)
    assert float(consistent.skip_report().density(prunable_only=True)) == pytest.approx(1 / 4)
    assert float(occluded.skip_report().density(prunable_only=True)) == 1.0


@pytest.mark.parametrize(
    ("reference", "expected"), [("frame", [0.0] * 5), ("source", [0.0, 1.0, 0.0, 1.0, 0.0])]
)
def test_source_reference_runs_a_slow_drift_once_it_adds_up(cutover_cache, reference, expected):
    # Each step brightens the frame by 0.006, below the 0.01 bound (error_ref at threshold 0.5); against
    # the carried source the change adds up and crosses the bound every second step.
    torch.manual_seed(3)
    lr = 0.3 * torch.rand(1, 1, 3, 16, 32) + 0.006 * torch.arange(6.0).view(1, 6, 1, 1, 1)
    model = tiny(cls=FixedFlows, error_ref=0.01, max_stale=10, threshold=0.5, change_reference=reference)
    cutover_cache(model, lr, 1.1)  # tiles always pay: decisions are the policy's alone
    with torch.no_grad():
        model(lr)
    assert step_fractions(model) == expected


def test_patch_occlusion_measures_forward_backward_inconsistency():
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0, :8, :8] = 3.0  # a block moving right whose reverse flow says it stayed
    occ = patch_occlusion(flow, torch.zeros_like(flow), 8)
    assert occ.shape == (1, 1, 2, 2)
    assert occ[0, 0, 0, 0] == pytest.approx(3.0) and occ[0, 0, 1, 1] == 0.0


def test_policy_runs_stale_and_occluded_patches_whatever_the_estimate():
    policy = ReusePolicy(max_stale=2, occlusion_bound=1.0)
    logits = torch.full((1, 1, 1, 3), -10.0)
    occlusion = torch.tensor([[[[0.0, 5.0, 0.0]]]])
    stale = torch.tensor([[[[0.0, 0.0, 2.0]]]])
    assert policy(logits, occlusion, stale, 0.5).flatten().tolist() == [0.0, 1.0, 1.0]
    assert policy(logits, occlusion, stale, 0.0).flatten().tolist() == [1.0, 1.0, 1.0]


@pytest.fixture
def cutover_cache():
    """Store cut-overs for a test; the engine's cache is emptied afterwards."""

    def store(model: SkipVSRv2, lr: torch.Tensor, value: float) -> None:
        b, _, _, h, w = lr.shape
        x = lr.new_empty(0)  # only its device and dtype enter the key
        CUTOVERS.store(cutover_key("residual", b, model.num_feat, h, w, model.patch, x), value)

    yield store
    clear_fallback_cache()


def left_half_moving(t: int = 5) -> torch.Tensor:
    """``(1, t, 3, 16, 32)``: the left half of the frame changes every step, the right half is static."""
    torch.manual_seed(2)
    lr = torch.rand(1, 1, 3, 16, 32).repeat(1, t, 1, 1, 1)
    lr[:, :, :, :, :16] = torch.rand(1, t, 3, 16, 16)
    return lr


def step_fractions(model: SkipVSRv2) -> list[float]:
    frames = model.skip_report().maps["frames/backward_trunk"]  # (T, 1, gh, gw), first step all ones
    return [float(f.mean()) for f in frames[:-1]]  # the backward direction's first step is the last frame


def test_calibrate_stores_the_cutover_that_decisions_read():
    model = tiny(cls=FixedFlows)
    lr = left_half_moving()
    clear_fallback_cache()
    try:
        model.calibrate(lr)
        key = cutover_key("residual", 1, model.num_feat, 16, 32, model.patch, lr)
        assert CUTOVERS.get(key) is not None and CUTOVERS.get(key) >= 0.2
        sparse_only = tiny(cls=FixedFlows, engine_mode="sparse")
        clear_fallback_cache()
        sparse_only.calibrate(lr)  # the forced tile engine reads no cut-over: nothing measured
        assert len(CUTOVERS) == 0
    finally:
        clear_fallback_cache()


@pytest.mark.parametrize(("cutover", "expected"), [(0.6, 0.5), (0.5, 1.0)])
def test_a_step_whose_running_share_reaches_the_cutover_runs_every_patch(cutover_cache, cutover, expected):
    lr = left_half_moving()
    outputs = {}
    for mode in ("masked", "sparse"):
        model = tiny(cls=FixedFlows, execution_mode=mode)
        cutover_cache(model, lr, cutover)
        with torch.no_grad():
            outputs[mode] = model(lr)
        assert step_fractions(model) == [expected] * 4
    torch.testing.assert_close(outputs["sparse"], outputs["masked"], atol=1e-5, rtol=0)


def test_policy_is_off_where_tiles_never_pay_and_on_in_training(cutover_cache):
    lr = left_half_moving()
    model = tiny(error_ref=1e6, max_stale=10)  # would reuse every patch the occlusion check allows
    dense = BasicVSR(num_feat=8, num_block=3).eval()
    dense.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("policy.")})
    cutover_cache(model, lr, 0.2)  # tiles lost even at the lowest fraction calibrate() races
    with torch.no_grad():
        assert torch.equal(model(lr), dense(lr))
    assert float(model.skip_report().density(prunable_only=True)) == 1.0
    model = tiny(cls=FixedFlows, error_ref=1e6, max_stale=10)
    model.train()
    model.execution_mode = "train"  # training learns the policy's own decisions: no execution rule
    model(lr)
    assert float(model.skip_report().density(prunable_only=True)) < 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patch": 0}, "patch must be >= 1"),
        ({"engine_mode": "x"}, "engine_mode"),
        ({"error_ref": 0}, "error_ref"),
        ({"change_reference": "last"}, "change_reference must be one of"),
        ({"halo_ring": -1}, "halo_ring must be >= 0"),
        ({"cutover": 0.0}, "cutover must be None or a share > 0, got 0.0"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SkipVSRv2(**{**TINY, **kwargs})


def test_masked_training_passes_gradients_to_the_backbone():
    model = tiny(error_ref=1e6, execution_mode="train").train()
    out = model(clip_with_static_and_moving(1, 4, 16, 16))
    out.mean().backward()
    grad = model.forward_trunk.residual_blocks[0].conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_reuse_trace_and_estimator_fit():
    model = tiny()
    lr = clip_with_static_and_moving(2, 4, 16, 24)
    out, trace = model.reuse_trace(lr)
    assert out.shape == (2, 4, 3, 64, 96)
    assert len(trace) == 2 * 3 and model.execution_mode == "sparse"
    assert trace[0][0].shape == (2, 3, 2, 3) and trace[0][1].shape == (2, 1, 2, 3)
    features, errors = reuse_samples(model, [lr])
    assert features.shape == (2 * 3 * 2 * 6, 3) and errors.shape == (72,)
    # Exactly linear labels are recovered exactly.
    x = torch.randn(200, 3)
    y = x @ torch.tensor([0.3, -0.2, 0.5]) + 0.7
    stats = fit_reuse_estimator(model, x, y)
    torch.testing.assert_close(model.policy.estimator.linear.weight.flatten(), torch.tensor([0.3, -0.2, 0.5]))
    assert stats["spearman"] == pytest.approx(1.0)


def test_checkpoint_round_trip_with_deltas(tmp_path, monkeypatch):
    model = tiny()
    official = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("policy.")}
    monkeypatch.setattr("dynskip.methods.skipvsr.models.official_state", lambda backbone: dict(official))
    with torch.no_grad():
        model.forward_trunk.residual_blocks[1].conv2.bias.add_(0.25)
        model.policy.estimator.linear.bias.fill_(-1.5)
    path = export_skipvsr_v2_checkpoint(model, tmp_path / "v2.pt", delta_format="float16")
    obj = torch.load(path, weights_only=True)
    assert list(obj["backbone_delta"]) == ["forward_trunk.main.2.1.conv2.bias"]
    assert obj["backbone_delta"]["forward_trunk.main.2.1.conv2.bias"].dtype == torch.float16
    again = tiny(seed=5)
    load_skipvsr_v2_weights(again, path)
    torch.testing.assert_close(again.state_dict(), model.state_dict())
    assert again.dense_reference is not None
    with pytest.raises(CheckpointMismatchError, match="patch: checkpoint 8 vs model 16"):
        load_skipvsr_v2_weights(tiny(patch=16), path)


def test_checkpoint_round_trip_with_packed_int8_deltas(tmp_path, monkeypatch):
    model = tiny()
    official = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("policy.")}
    monkeypatch.setattr("dynskip.methods.skipvsr.models.official_state", lambda backbone: dict(official))
    with torch.no_grad():
        model.forward_trunk.residual_blocks[1].conv2.weight.add_(
            torch.randn_like(official["forward_trunk.main.2.1.conv2.weight"]) * 0.01
        )
        model.backward_trunk.residual_blocks[0].conv1.bias.add_(0.25)
    path = export_skipvsr_v2_checkpoint(model, tmp_path / "v2.pt")  # int8 by default
    packed = torch.load(path, weights_only=True)["backbone_delta"]
    assert packed["packed_int8"].dtype == torch.int8 and len(packed["keys"]) == 2
    again = tiny(seed=5)
    load_skipvsr_v2_weights(again, path)
    for key, value in model.state_dict().items():  # at most half a step of 1/127 of each channel's delta
        torch.testing.assert_close(again.state_dict()[key], value, atol=0.25 / 254 + 1e-6, rtol=0)
    obj = torch.load(path, weights_only=True)
    obj["backbone_delta"]["scale"] = obj["backbone_delta"]["scale"][:-1]
    torch.save(obj, tmp_path / "bad.pt")
    with pytest.raises(CheckpointMismatchError, match="packed int8 deltas must hold"):
        load_skipvsr_v2_weights(tiny(), tmp_path / "bad.pt")


@pytest.mark.slow
def test_built_in_weights_load_and_run():
    model = build_model("skipvsr-v2", weights="reds4").eval()
    lr = torch.rand(1, 3, 3, 16, 20)
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (1, 3, 3, 64, 80) and torch.isfinite(out).all()


# A tiny SkipVSR v2 on synthetic clips through the real footage recipe (only the data swapped).
TINY_RUN = [
    "experiment=skipvsr_v2_footage",
    "data=synthetic_vsr",
    "model.weights=null",
    "+model.num_feat=16",
    "+model.num_block=2",
    "model.patch=8",
    "debug=smoke",
    "test=false",
    "phase1_steps=1",
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
]


def test_hydra_smoke_training_both_phases(tmp_path):
    metrics = train(compose_config("train", TINY_RUN, tmp_path))
    assert metrics["global_step"] == 2 and "val/psnr" in metrics
    assert metrics["train/phase"] == 2.0  # step 2 ran in phase 2 (phase1_steps=1)
    assert "train/rec" in metrics and "train/distill" in metrics


def test_distillation_only_recipe_leaves_out_the_gt_term(tmp_path):
    run = [r for r in TINY_RUN if r != "experiment=skipvsr_v2_footage"]
    cfg = compose_config("train", ["experiment=skipvsr_v2_footage_distill", *run], tmp_path)
    assert cfg.task.objective.rec_weight == 0.0
    metrics = train(cfg)
    assert "train/distill" in metrics and "train/rec" not in metrics


def test_objective_refuses_no_phase_two_term():
    from dynskip.methods.skipvsr.objective import ReuseObjective

    with pytest.raises(ValueError, match=r"rec_weight or distill_weight > 0, got 0\.0, 0"):
        ReuseObjective(rec_weight=0.0, distill_weight=0)


def test_phase_one_trains_only_the_estimator():
    from types import SimpleNamespace

    from dynskip.methods.skipvsr.objective import ReuseObjective

    model = tiny().train()
    task = SimpleNamespace(model=model, global_step=0, input_keys=("lq",), target_key="gt")
    lq = clip_with_static_and_moving(1, 4, 16, 16)
    _, terms = ReuseObjective(phase1_steps=1)(task, {"lq": lq, "gt": torch.rand(1, 4, 3, 64, 64)})
    assert set(terms) == {"estimator"}
    terms["estimator"].backward()
    assert model.policy.estimator.linear.weight.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in model.named_parameters() if not n.startswith("policy."))


def test_halo_ring_dilates_the_computed_patches_by_whole_patches():
    run = torch.zeros(1, 1, 4, 5)
    run[0, 0, 1, 1] = 1.0
    ring = with_halo_ring(run, 1)
    assert ring.sum() == 9 and ring[0, 0, :3, :3].min() == 1.0
    assert torch.equal(with_halo_ring(run, 0), run)


@pytest.mark.parametrize("reference", ["frame", "source"])
def test_halo_ring_sparse_equals_masked_and_counts_the_ring(cutover_cache, reference):
    lr = left_half_moving(6).repeat(2, 1, 1, 1, 1)
    lr[1, :, :, :, 16:] = lr[1, :1, :, :, 16:]  # sample 1 static right half too, a different left half
    lr[1, :, :, :, :16] = lr[1, :, :, :, :16].flip(1)
    outputs, density = {}, {}
    for ring in (0, 1):
        for mode in ("masked", "sparse"):
            model = tiny(cls=FixedFlows, execution_mode=mode, halo_ring=ring, change_reference=reference)
            cutover_cache(model, lr, 1.1)  # tiles always pay: decisions are the policy's alone
            with torch.no_grad():
                outputs[ring, mode] = model(lr)
            density[ring, mode] = float(model.skip_report().density(prunable_only=True))
        torch.testing.assert_close(outputs[ring, "sparse"], outputs[ring, "masked"], atol=1e-5, rtol=0)
    assert density[0, "masked"] < density[1, "masked"] == density[1, "sparse"]
    assert not torch.allclose(outputs[0, "masked"], outputs[1, "masked"])  # the chosen patches' halos changed


@pytest.mark.parametrize(("ring", "expected"), [(0, 0.5), (1, 1.0)])
def test_the_cutover_reads_the_share_the_ring_makes_the_blocks_compute(cutover_cache, ring, expected):
    lr = left_half_moving()  # half the patches run; with a one-patch ring three quarters are computed
    model = tiny(cls=FixedFlows, halo_ring=ring)
    cutover_cache(model, lr, 0.6)
    with torch.no_grad():
        model(lr)
    assert step_fractions(model) == [expected] * 4


@pytest.mark.parametrize(
    ("measured", "pinned", "expected"), [(0.2, 1.1, 0.5), (1.1, 0.5, 1.0), (0.2, None, 1.0)]
)
def test_a_pinned_cutover_decides_whatever_was_measured(cutover_cache, measured, pinned, expected):
    lr = left_half_moving()
    outputs = {}
    for mode in ("masked", "sparse"):
        model = tiny(cls=FixedFlows, execution_mode=mode, cutover=pinned)
        cutover_cache(model, lr, measured)  # 0.2: tiles never pay, the policy would be off
        with torch.no_grad():
            outputs[mode] = model(lr)
        assert step_fractions(model) == [expected] * 4
    torch.testing.assert_close(outputs["sparse"], outputs["masked"], atol=1e-5, rtol=0)


def test_the_shipped_footage_checkpoint_names_its_patch_loads_and_runs():
    hint = r"patch: checkpoint 16 vs model 8.*--model-arg patch=16"
    with pytest.raises(CheckpointMismatchError, match=hint):
        build_model("skipvsr-v2", weights="footage", patch=8)
    model = build_model("skipvsr-v2", weights="footage", patch=16, threshold=0.3).eval()
    assert model.dense_reference is not None  # a fine-tune: all-on is no longer official BasicVSR
    lr = torch.rand(1, 3, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (1, 3, 3, 80, 96) and torch.isfinite(out).all()
