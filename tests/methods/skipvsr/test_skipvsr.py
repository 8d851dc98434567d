"""SkipVSR: estimator shapes / costs, sparse == masked emulation, dense exactness, knobs, report."""

from __future__ import annotations

import itertools

import pytest
import torch

import dynskip.skip.engine as engine
from dynskip.archs.basicvsr_arch import BasicVSR
from dynskip.methods.skipvsr.v1.arch import ConfidenceEstimator, SkipVSR
from dynskip.skip.cost import residual_skip_macs
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkippingModel, execution_mode
from dynskip.skip.tiles import tile_grid_shape, tile_statistics
from helpers.models import random_skipvsr_policy, small_skipvsr


def _dense_twin(model: SkipVSR) -> BasicVSR:
    ref = BasicVSR(num_feat=model.num_feat, num_block=len(model.backward_trunk.residual_blocks)).eval()
    ref.load_state_dict({k: v for k, v in model.state_dict().items() if k in ref.state_dict()})
    return ref


def test_estimator_shapes_and_cost() -> None:
    est = ConfidenceEstimator(num_feat=64, num_groups=6, hidden=48)
    x = torch.rand(2, est.in_channels, 5, 7)
    assert est(x).shape == (2, 6, 5, 7)
    counted = sum(m.weight.numel() for m in est.modules() if isinstance(m, torch.nn.Conv2d))
    assert est.macs_per_tile() == counted  # 1 output position per tile, every weight used once
    # Negligible next to the trunk it steers: 30 blocks of 2 * 9 * 64^2 MACs per pixel on an 8x8 tile.
    assert est.macs_per_tile() < 0.001 * 30 * 2 * 9 * 64 * 64 * 64
    # Initialised all-active: training starts from the dense model.
    assert torch.sigmoid(est(x)).min() > 0.9


def test_tile_pool_and_grid_odd_sizes() -> None:
    assert tile_grid_shape(19, 29, 8) == (3, 4)
    x = torch.rand(1, 2, 19, 29)
    pooled = tile_statistics(x, 8)
    assert pooled.shape == (1, 2, 3, 4)
    torch.testing.assert_close(pooled[0, :, 2, 3], x[0, :, 16:, 24:].mean((-2, -1)))


def test_model_implements_protocol_and_units() -> None:
    model = small_skipvsr()
    assert isinstance(model, SkippingModel)
    units = model.skip_units()
    groups = [u for u in units if u.prunable]
    assert len(groups) == 2 * 3
    assert all(u.macs_per_pixel == 2 * 2 * 9 * 16 * 16 for u in groups)  # 2 blocks per group


@pytest.mark.parametrize("align, threshold", [(True, 0.5), (False, 0.5), (True, 0.6)])
def test_sparse_equals_masked_emulation(align: bool, threshold: float) -> None:
    model = small_skipvsr(temporal_align=align)
    random_skipvsr_policy(model)
    # 0.6: most groups skip every tile every other step (deferred, summed reuse warps in sparse mode).
    model.threshold = threshold
    model.engine_mode = "sparse"  # force the shared tile engine on every partly active group
    lr = torch.rand(2, 3, 3, 19, 29)  # batch 2, odd tile counts, cut border tiles
    calls = []
    original = engine.residual_block_sparse

    def counting(*args):
        calls.append(1)
        return original(*args)

    with torch.no_grad(), execution_mode(model, "masked"):
        masked = model(lr)
        density_masked = float(model.skip_report().density())
    engine.residual_block_sparse = counting
    try:
        with torch.no_grad(), execution_mode(model, "sparse"):
            sparse = model(lr)
            report = model.skip_report()
    finally:
        engine.residual_block_sparse = original
    assert calls, "the sparse path must run the shared tile engine"
    if threshold == 0.6:  # groups skipped on every tile after a first step: the deferred path ran
        later = [m for i, m in enumerate(model.last_masks) if i % lr.shape[1]]
        assert any(float(m[:, k].sum()) == 0 for m in later for k in range(model.num_groups))
    assert 0.05 < float(report.density(prunable_only=True)) < 0.95
    assert float(report.density()) == pytest.approx(density_masked)
    torch.testing.assert_close(sparse, masked, atol=1e-5, rtol=1e-5)
    # Skipping must change something, or the comparison above proves nothing.
    assert (masked - _dense_twin(model)(lr)).abs().max() > 1e-4


def test_engine_runs_skipvsr_blocks_exactly_and_macs_count_cut_tiles() -> None:
    torch.manual_seed(3)
    model = small_skipvsr()
    block = model.backward_trunk.residual_blocks[0]
    layers = [block.conv1, block.relu, block.conv2]
    x = torch.randn(1, 16, 21, 18)
    gh, gw = tile_grid_shape(21, 18, 8)
    plan = TilePlan.from_mask(torch.ones(1, gh, gw, dtype=torch.bool), 8, (21, 18))
    with torch.no_grad():
        out = engine.residual_skip(x, layers, plan, mode="sparse")
        torch.testing.assert_close(out, block(x), atol=1e-5, rtol=1e-5)
    # MACs at the tiles' in-image size: a 5x2 corner tile costs (5+2)(2+2) + 5*2 positions per conv pair.
    corner = torch.zeros(1, gh, gw, dtype=torch.bool)
    corner[0, -1, -1] = True
    per = 9 * 16 * 16
    assert residual_skip_macs(layers, TilePlan.from_mask(corner, 8, (21, 18))) == per * (7 * 4 + 5 * 2)


def test_report_has_mask_maps() -> None:
    model = small_skipvsr()
    random_skipvsr_policy(model)
    with torch.no_grad(), execution_mode(model, "sparse"):
        model(torch.rand(2, 3, 3, 19, 29))
    maps = model.skip_report().maps
    for trunk in ("backward_trunk", "forward_trunk"):
        m = maps[f"mask/{trunk}"]
        assert m.shape == (2, 1, 3, 4) and 0.0 <= float(m.min()) <= float(m.max()) <= 1.0
        per_frame = maps[f"frames/{trunk}"]  # sample-major: sample 1, last frame is index 5
        assert per_frame.shape == (6, 1, 3, 4) and torch.equal(per_frame[5], m[1])


def test_all_active_threshold_reproduces_dense_basicvsr_exactly() -> None:
    model = small_skipvsr()
    random_skipvsr_policy(model)
    ref = _dense_twin(model)
    lr = torch.rand(1, 3, 3, 17, 23)
    with torch.no_grad():
        expected = ref(lr)
        model.threshold = 0.0
        for mode in ("sparse", "masked", "dense"):
            with execution_mode(model, mode):
                assert torch.equal(model(lr), expected), mode


def test_dense_mode_skips_the_estimator() -> None:
    model = small_skipvsr()

    def boom(*args, **kwargs):
        raise AssertionError("estimator ran in dense mode")

    model.backward_estimator.forward = boom
    model.forward_estimator.forward = boom
    with torch.no_grad(), execution_mode(model, "dense"):
        model(torch.rand(1, 2, 3, 16, 16))


def test_threshold_knob_and_report() -> None:
    model = small_skipvsr()
    random_skipvsr_policy(model)
    lr = torch.rand(1, 4, 3, 16, 24)
    model.refresh = False  # the knob alone (refresh forces some tiles back on)
    densities = []
    with torch.no_grad(), execution_mode(model, "sparse"):
        for thr in (0.0, 0.3, 0.5, 0.7, 1.0):
            model.threshold = thr
            model(lr)
            report = model.skip_report()
            densities.append(float(report.density(prunable_only=True)))
            assert model.frame_density.shape == (4,)
            assert set(report.groups()) == {"stem", "backward_trunk", "forward_trunk"}
            assert report.gmacs_actual() > 0
    assert densities[0] == 1.0 and densities[-1] == 0.0
    assert densities == sorted(densities, reverse=True)


def test_train_mode_masks_are_differentiable() -> None:
    model = small_skipvsr().train()
    lr = torch.rand(1, 3, 3, 16, 16)
    with execution_mode(model, "train"):
        out = model(lr)
        density = model.skip_report().density(prunable_only=True)
    (out.mean() + density).backward()
    grad = model.forward_estimator.net[-1].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_refresh_caps_consecutive_skips() -> None:
    model = small_skipvsr()
    random_skipvsr_policy(model)
    model.threshold = 1.0  # the estimator skips everything; refresh alone brings blocks back
    with torch.no_grad(), execution_mode(model, "masked"):
        model(torch.rand(1, 4, 3, 16, 16))
    t = 4
    for steps in (model.last_masks[:t], model.last_masks[t:]):
        for prev, cur in itertools.pairwise(steps):
            assert torch.all((prev > 0) | (cur > 0)), "a (tile, block) was skipped twice in a row"


def test_max_stale_allows_that_many_consecutive_skips() -> None:
    model = small_skipvsr(temporal_align=False)  # no warping: the staleness count stays on its tile
    random_skipvsr_policy(model)
    model.threshold = 1.0  # the estimator skips everything; the cap alone brings blocks back
    model.max_stale = 2
    t = 7
    with torch.no_grad(), execution_mode(model, "masked"):
        model(torch.rand(1, t, 3, 16, 16))
    for steps in (model.last_masks[:t], model.last_masks[t:]):
        ran = torch.stack(steps) > 0  # (T, B, K, gh, gw)
        # Skip, skip, run, skip, skip, run, ...: every unit runs exactly at steps 2 and 5.
        expected = torch.tensor([False, False, True, False, False, True, False])
        assert torch.equal(ran.flatten(1).all(1), expected)
        assert not ran[[0, 1, 3, 4, 6]].any()


def test_max_stale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_stale must be >= 1"):
        SkipVSR(num_feat=16, num_block=6, num_groups=3, max_stale=0)


@pytest.mark.parametrize("calibrate", [True, False])
def test_calibrate_measures_the_cutover_once_per_shape_and_forward_never(calibrate: bool) -> None:
    from dynskip.benchmarks import calibration
    from dynskip.skip import fallback

    fallback.clear_fallback_cache()
    model = small_skipvsr()
    model.calibrate_cutover = calibrate
    random_skipvsr_policy(model)
    lr = torch.rand(1, 3, 3, 19, 29)
    key = ("residual", 1, 16, 19, 29, 8, "cpu", torch.float32, torch.get_num_threads())
    measured = []
    original = calibration.calibrate_fallback

    def counting(*args, **kwargs):
        measured.append(1)
        return original(*args, **kwargs)

    calibration.calibrate_fallback = counting
    try:
        with torch.no_grad(), execution_mode(model, "sparse"):
            uncalibrated = model(lr)
            assert not measured and fallback.CUTOVERS.get(key) is None  # a forward never measures
            model.calibrate(lr)
            cutover = fallback.CUTOVERS.get(key)
            model.calibrate(lr)
            first = model(lr)
            second = model(lr)
        with execution_mode(model, "masked"):
            fallback.clear_fallback_cache()
            model.calibrate(lr)  # only sparse execution reads the cut-over
    finally:
        calibration.calibrate_fallback = original
    assert (cutover is not None) == calibrate
    assert len(measured) == int(calibrate)  # both trunks and both calls share one measurement
    torch.testing.assert_close(first, second)  # the cut-over changes the route, never the result
    torch.testing.assert_close(first, uncalibrated)
    fallback.clear_fallback_cache()


@pytest.mark.parametrize("align", [True, False])
def test_label_passes_force_every_mask_and_leave_the_model_as_it_was(align: bool) -> None:
    model = small_skipvsr(temporal_align=align)
    random_skipvsr_policy(model)
    model.threshold = 0.6
    lr = torch.rand(2, 3, 3, 19, 29)
    with torch.no_grad(), execution_mode(model, "dense"):
        dense = model(lr)
    with torch.no_grad(), execution_mode(model, "masked"):
        before = model(lr)

    out, errors = model.reuse_errors(lr)
    torch.testing.assert_close(out, dense)
    assert len(errors) == 2 * 3 and all(e.shape == (2, 3, 3, 4) for e in errors)
    first_steps = torch.stack([errors[0], errors[3]])  # each direction's first step: nothing to reuse
    assert bool(torch.isinf(first_steps).all()) == align
    assert torch.isfinite(errors[1]).all() and not errors[1].requires_grad

    out, leaves = model.dense_with_mask_leaves(lr)
    torch.testing.assert_close(out.detach(), dense)
    assert len(leaves) == 2 * 3 and all(leaf.requires_grad and bool((leaf == 1).all()) for leaf in leaves)
    grads = torch.autograd.grad(out.sum(), leaves)
    assert any(bool(g.abs().sum() > 0) for g in grads)
    assert not model.training and model.execution_mode == "sparse"  # restored

    with torch.no_grad(), execution_mode(model, "masked"):
        torch.testing.assert_close(model(lr), before, rtol=0, atol=0)  # the estimator decides again


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_estimator_input_has_finite_gradients_on_flat_tiles(dtype: torch.dtype) -> None:
    """A flat tile has zero variance; the square root of the per-tile std must not turn its (infinite)
    gradient into NaN. bf16-mixed training hits this on most flat tiles (E[x^2] - E[x]^2 cancels to 0)."""
    model = small_skipvsr().train()
    model._state = {"prev_mask": None}
    feat = torch.full((1, model.num_feat, 16, 24), 0.3, dtype=dtype)
    feat[..., :8, :8] = torch.rand(model.num_feat, 8, 8, generator=torch.Generator().manual_seed(0))
    feat.requires_grad_(True)
    x_i = torch.full((1, 3, 16, 24), 0.5, dtype=dtype, requires_grad=True)
    inputs = model._estimator_input(feat, x_i, None, None)
    inputs.float().sum().backward()
    assert bool(torch.isfinite(feat.grad).all()), "NaN / inf gradient into the features"
    assert bool(torch.isfinite(x_i.grad).all()), "NaN / inf gradient into the frame"


def test_the_footage_harness_calibrates_before_its_counted_pass() -> None:
    from dynskip.evaluation.footage import evaluate_clip
    from dynskip.skip import fallback

    fallback.clear_fallback_cache()
    model = small_skipvsr()
    random_skipvsr_policy(model)
    clip = torch.rand(3, 3, 76, 116)  # BI x4: LR 19 x 29, as the key below
    key = ("residual", 1, 16, 19, 29, 8, "cpu", torch.float32, torch.get_num_threads())
    result = evaluate_clip(model, "vsr", clip, "noise", repeats=1)
    assert fallback.CUTOVERS.get(key) is not None  # dynskip evaluate / make run measure it, untimed
    assert result["gmacs_per_frame"] > 0
    fallback.clear_fallback_cache()
