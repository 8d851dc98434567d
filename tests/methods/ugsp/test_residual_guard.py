"""UGSP-RIFE's test-time residual guard: keeps the tiles whose two warped inputs still disagree."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from dynskip.methods.ugsp.pruning import RESIDUAL_GUARD_MACS_PER_PIXEL, residual_guard_mask
from dynskip.methods.ugsp.rife_arch import UGSPRIFE
from dynskip.models import build_model
from dynskip.skip.protocol import SkipReport, execution_mode
from helpers.clips import shifted_pair
from helpers.models import randomise_mask_heads


def test_guard_mask_marks_the_tiles_whose_mean_difference_exceeds_the_bound() -> None:
    warped0 = torch.zeros(2, 3, 64, 96)
    warped1 = warped0.clone()
    warped1[0, :, 32:48, 0:16] = 0.5  # a quarter of tile (1, 0) of sample 0 differs by 0.5: mean 0.125
    warped1[1, 1, 0:32, 64:96] = 0.3  # one channel of tile (0, 2) of sample 1: mean 0.1
    mask = residual_guard_mask(warped0, warped1, (2, 3), bound=0.1)
    expected = torch.zeros(2, 1, 2, 3)
    expected[0, 0, 1, 0] = 1  # 0.1 itself is not above the bound
    assert mask.shape == (2, 1, 2, 3) and mask.dtype == warped0.dtype
    assert torch.equal(mask, expected)
    assert not residual_guard_mask(warped0, warped0, (2, 3), bound=0.0).any()  # identical: nothing kept


@pytest.mark.parametrize(
    ("shape1", "grid", "message"),
    [((1, 3, 32, 32), (2, 2), r"share one \(B, C, H, W\) shape"), ((1, 3, 64, 64), (3, 2), "multiple")],
)
def test_exception_guard_mask_names_the_mismatch(shape1, grid, message) -> None:
    with pytest.raises(ValueError, match=message):
        residual_guard_mask(torch.zeros(1, 3, 64, 64), torch.zeros(shape1), grid, bound=0.1)


@pytest.mark.parametrize("bound", [-0.1, False, "none", float("nan")])
def test_exception_a_bound_that_is_not_a_number_at_least_zero_is_named(bound) -> None:
    # YAML reads ``off`` as False, which float() would turn into 0.0: a guard on every tile.
    with pytest.raises(ValueError, match=f"residual_guard must be None or a bound >= 0, got {bound!r}"):
        build_model("ugsp-rife", residual_guard=bound)


def _pruned_model(**kwargs: object) -> UGSPRIFE:
    torch.manual_seed(3)  # random heads whose masks prune part of each level (as the sparse test)
    model = build_model("ugsp-rife", prune_padding=False, **kwargs).eval()
    randomise_mask_heads(model)
    return model


def _run(
    model: UGSPRIFE, mode: str, img0: Tensor, img1: Tensor
) -> tuple[Tensor, dict[int, Tensor], SkipReport]:
    with torch.no_grad(), execution_mode(model, mode):
        out = model(img0, img1)
    return out, {k: m.clone() for k, m in model._state["masks"].items()}, model.skip_report()


def _smooth_pair(changed: tuple[slice, slice]) -> tuple[Tensor, Tensor]:
    """A smooth 128x128 frame and the same frame with noise in the ``changed`` region."""
    smooth = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    img0 = F.interpolate(smooth, size=(128, 128), mode="bilinear", align_corners=False)
    img1 = img0.clone()
    noise = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(5))
    img1[(..., *changed)] = noise[(..., *changed)]
    return img0, img1


def _forced_heads(keep: dict[str, bool], **kwargs: object) -> UGSPRIFE:
    """Heads that keep (p_keep ~ 1) or prune (~ 0) every tile of their block."""
    model = build_model("ugsp-rife", prune_padding=False, **kwargs).eval()
    with torch.no_grad():
        for name, head in model.mask_heads.items():
            logit = 50.0 if keep[name] else -50.0
            head.body[2].bias.copy_(torch.tensor([-logit, logit]))
    return model


def test_guard_keeps_the_tiles_where_the_frames_changed_and_sparse_equals_masked() -> None:
    img0, img1 = _smooth_pair((slice(None), slice(0, 48)))  # the left 48 px change
    _, plain, _ = _run(_pruned_model(), "masked", img0, img1)
    guarded = _pruned_model(residual_guard=0.1)
    masked, masks, _ = _run(guarded, "masked", img0, img1)
    sparse, _, _ = _run(guarded, "sparse", img0, img1)
    torch.testing.assert_close(sparse, masked, rtol=0, atol=1e-4)
    assert all(bool((masks[k] >= plain[k]).all()) for k in plain)  # it only adds tiles
    assert not plain[3][..., :2].any()  # the heads prune block 3 there ...
    assert masks[3][..., :2].all()  # ... the guard keeps the two 32-px columns over the change
    assert torch.equal(masks[3][..., 2:], plain[3][..., 2:])  # and nothing where the frames agree


def test_bound_zero_keeps_every_tile_where_frames_differ_and_matches_dense_rife() -> None:
    img0, img1 = shifted_pair(128, 128, seed=2)  # the frames differ at every pixel
    model = build_model("ugsp-rife", weights="rife-v3.9", prune_padding=False, residual_guard=0.0).eval()
    with torch.no_grad():
        for head in model.mask_heads.values():  # heads that prune everything
            head.body[2].bias.copy_(torch.tensor([50.0, -50.0]))
        ref = build_model("rife", weights="rife-v3.9").eval()(img0, img1, 0.5)
    out, masks, _ = _run(model, "sparse", img0, img1)
    assert all(bool(m.all()) for m in masks.values())
    assert torch.equal(out, ref)


def test_guard_cost_is_counted_and_a_bound_nobody_reaches_changes_nothing_else() -> None:
    img0, img1 = shifted_pair(128, 128, seed=1)
    out, masks, report = _run(_pruned_model(), "sparse", img0, img1)
    out_g, masks_g, report_g = _run(_pruned_model(residual_guard=10.0), "sparse", img0, img1)
    assert torch.equal(out_g, out)
    assert all(torch.equal(masks_g[k], masks[k]) for k in masks)
    guarded_blocks = 2  # blocks 2 and 3 both read warped images
    cost = RESIDUAL_GUARD_MACS_PER_PIXEL * 128 * 128 * guarded_blocks
    assert (report_g.gmacs_actual() - report.gmacs_actual()) * 1e9 == pytest.approx(cost, rel=1e-9)


def test_the_finer_guard_stays_within_the_coarser_block() -> None:
    # Noise in one 32-px quadrant: its 32-px tile's mean difference is over the bound, the 64-px tile's
    # under it. With block 2 kept the block-3 guard fires there; with block 2 pruned it must not.
    img0, img1 = _smooth_pair((slice(0, 32), slice(0, 32)))
    heads = {"block2": True, "block3": False}
    _, kept_parent, _ = _run(_forced_heads(heads, residual_guard=0.15), "masked", img0, img1)
    _, pruned_parent, _ = _run(
        _forced_heads({**heads, "block2": False}, residual_guard=0.15), "masked", img0, img1
    )
    assert kept_parent[3][0, 0, 0, 0] == 1
    assert not pruned_parent[2].any() and not pruned_parent[3].any()
    assert pruned_parent[3].shape == kept_parent[3].shape == (1, 1, 4, 4)  # block 3's own grid when skipped


def test_the_guard_keeps_only_computable_tiles() -> None:
    model = build_model("ugsp-rife", residual_guard=0.0)
    computable = torch.ones(1, 1, 4, 4)
    computable[..., 3, :] = 0  # a row of padding tiles
    model._state = {"masks": {2: torch.ones(1, 1, 2, 2)}, "computable": {3: computable}, "head_macs": {}}
    x_in = torch.cat(
        (torch.zeros(1, 3, 128, 128), torch.ones(1, 3, 128, 128), torch.zeros(1, 2, 128, 128)), 1
    )
    assert torch.equal(model._guard_tiles(3, x_in, torch.zeros(1, 1, 4, 4)), computable)


@pytest.mark.parametrize("mode", ["dense", "train"])
def test_the_guard_is_off_where_masks_are_not_hard(mode: str) -> None:
    img0, img1 = shifted_pair(128, 128, seed=1)
    results = []
    for guard in (None, 0.0):  # 0.0 would keep every tile of these frames
        model = _pruned_model(residual_guard=guard)
        model.train(mode == "train")
        torch.manual_seed(0)  # the same Gumbel noise for both
        out, masks, report = _run(model, mode, img0, img1)
        results.append((out, masks, report.gmacs_actual()))
    (out, masks, gmacs), (out_g, masks_g, gmacs_g) = results
    assert torch.equal(out_g, out) and gmacs_g == gmacs
    assert all(torch.equal(masks_g[k], masks[k]) for k in masks)
