"""ugsp-rife and the shared pruning modules: shapes, exactness, sparse = masked, the shipped checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynskip.archs.rife_arch import conv_prelu
from dynskip.methods.ugsp.pruning import (
    MaskHead,
    UncertaintyHead,
    expand_mask,
    hierarchical_mask,
    keep_probability,
    run_pruned_chain,
    sample_mask,
    valid_tile_mask,
)
from dynskip.models import build_model
from dynskip.skip.protocol import SkippingModel, execution_mode
from dynskip.skip.tiles import dilate_tiles
from helpers.clips import shifted_pair
from helpers.models import randomise_mask_heads

# Mask heads on block1 (128 ch) and block2 (96 ch) features, uncertainty head on block3 (64 ch).
HEAD_PARAMS = 18_498 + 13_890 + 18_785


def test_shapes_and_parameter_count() -> None:
    rife = build_model("rife")
    model = build_model("ugsp-rife")
    assert isinstance(model, SkippingModel)
    n_rife = sum(p.numel() for p in rife.parameters())
    assert sum(p.numel() for p in model.parameters()) == n_rife + HEAD_PARAMS
    assert not any(p.requires_grad for p in model.block3.parameters())  # frozen backbone by default
    img0, img1 = shifted_pair(40, 72)
    with torch.no_grad():
        assert model.eval()(img0, img1, 0.5).shape == (1, 3, 40, 72)
    units = {u.name: u for u in model.skip_units()}
    assert units["block3.convblock"].prunable and units["block2.convblock"].prunable
    assert not units["block1.convblock"].prunable
    assert units["block3.convblock"].macs_per_pixel == 8 * 64 * 64 * 9


def test_sparse_chain_equals_masked_emulation() -> None:
    torch.manual_seed(0)
    layers = nn.Sequential(*(conv_prelu(8, 8) for _ in range(3))).eval()
    x = torch.randn(2, 8, 16, 24)
    mask = (torch.rand(2, 1, 4, 6) > 0.5).float()
    mask[0, 0, 0, 0], mask[1, 0, -1, -1] = 1.0, 1.0  # tiles on the image border
    with torch.no_grad():
        ref = run_pruned_chain(x, layers, mask, "masked")
        out = run_pruned_chain(x, layers, mask, "sparse")
        # The emulation's definition, written out: every layer's output times the expanded mask.
        by_hand, pixel = x, expand_mask(mask, (16, 24))
        for layer in layers:
            by_hand = layer(by_hand) * pixel
    torch.testing.assert_close(ref, by_hand, rtol=0, atol=1e-6)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    assert float((ref * (1 - expand_mask(mask, (16, 24)))).abs().max()) == 0.0  # zero at pruned tiles
    with torch.no_grad():  # fall-backs: all on = the plain chain, all off = zeros
        assert torch.equal(run_pruned_chain(x, layers, torch.ones_like(mask), "sparse"), layers(x))
        assert not run_pruned_chain(x, layers, torch.zeros_like(mask), "sparse").any()


def test_one_ring_of_halo_tiles_makes_the_active_tiles_exact() -> None:
    torch.manual_seed(1)
    layers = nn.Sequential(*(conv_prelu(4, 4) for _ in range(4))).eval()  # depth 4 <= tile 4
    x = torch.randn(1, 4, 24, 32)
    mask = torch.zeros(1, 1, 6, 8)
    mask[0, 0, 2, 3] = mask[0, 0, 5, 7] = 1.0  # an inner tile and a corner tile
    active = expand_mask(mask, (24, 32)).bool().expand_as(x)
    with torch.no_grad():
        dense = layers(x)
        plain = run_pruned_chain(x, layers, mask, "masked")
        for mode in ("masked", "sparse"):
            halo = run_pruned_chain(x, layers, dilate_tiles(mask[:, 0], 1)[:, None], mode)
            torch.testing.assert_close(halo[active], dense[active], rtol=0, atol=1e-5)
    assert float((plain[active] - dense[active]).abs().max()) > 1e-3  # without the ring zeros leak in
    assert torch.equal(dilate_tiles(mask[:, 0], 0), mask[:, 0])
    assert dilate_tiles(mask[:, 0], 1).sum() == 9 + 4  # 3x3 around the inner tile, 2x2 in the corner


def test_mask_helpers() -> None:
    logits = torch.tensor([[[[5.0, 0.0]], [[0.0, 5.0]]]])  # class 1 = keep
    assert sample_mask(logits, "sparse").flatten().tolist() == [0.0, 1.0]
    assert sample_mask(logits, "dense").flatten().tolist() == [1.0, 1.0]
    assert sample_mask(logits, "sparse", threshold=0.0).flatten().tolist() == [1.0, 1.0]
    soft = sample_mask(logits, "train", temperature=0.5, training=True)
    assert soft.shape == (1, 1, 1, 2) and bool(((soft > 0) & (soft < 1)).all())
    parent = torch.tensor([[[[1.0, 0.0]]]])
    child = torch.ones(1, 1, 2, 4)
    assert hierarchical_mask(child, parent)[0, 0].tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]
    valid = valid_tile_mask((4, 4), (256, 256), (144, 176), child)
    assert valid[0, 0].tolist() == [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    assert MaskHead(8, 4)(torch.randn(1, 8, 8, 8), (2, 2)).shape == (1, 2, 2, 2)
    assert UncertaintyHead(8, 4)(torch.randn(1, 8, 8, 8), (32, 32)).shape == (1, 1, 32, 32)


def test_model_sparse_equals_masked_and_reports_levels() -> None:
    torch.manual_seed(3)  # the heads' hidden layers are random: a seed whose masks prune part of each level
    model = build_model("ugsp-rife", prune_padding=False).eval()
    randomise_mask_heads(model)
    img0, img1 = shifted_pair(128, 128, seed=1)
    outs, reports = {}, {}
    with torch.no_grad():
        for mode in ("masked", "sparse", "dense"):
            with execution_mode(model, mode):
                outs[mode] = model(img0, img1)
                reports[mode] = model.skip_report()
    torch.testing.assert_close(outs["sparse"], outs["masked"], rtol=0, atol=1e-4)
    level2 = float(reports["sparse"].units["block2.convblock"].fraction)
    level3 = float(reports["sparse"].units["block3.convblock"].fraction)
    assert 0 < level3 <= level2 < 1  # hierarchical and really pruned
    assert reports["sparse"].macs_saved_fraction() > 0.1
    assert reports["dense"].macs_saved_fraction() == 0.0


def test_active_halo_tiles_keep_block3_features_exact_and_are_counted() -> None:
    # Only block 3 pruned: its input is dense RIFE's, so its active tiles must match dense exactly.
    img0, img1 = shifted_pair(128, 128, seed=1)
    feats, fractions = {}, {}
    for halo in (0, 1):
        torch.manual_seed(3)  # the same heads for both models
        model = build_model(
            "ugsp-rife", pruned_blocks=(3,), tile_px=32, prune_padding=False, active_halo_tiles=halo
        )
        model.eval()
        randomise_mask_heads(model)
        with torch.no_grad():
            with execution_mode(model, "masked"):
                model(img0, img1)
            model.threshold = float(keep_probability(model._state["logits"][3]).median())  # prune ~half
            for mode in ("dense", "masked", "sparse"):
                with execution_mode(model, mode):
                    model(img0, img1)
                feats[halo, mode] = model._state["features"][3]
                if mode == "sparse":
                    mask = model._state["masks"][3]
                    fractions[halo] = float(model.skip_report().units["block3.convblock"].fraction)
        torch.testing.assert_close(feats[halo, "sparse"], feats[halo, "masked"], rtol=0, atol=1e-4)
    active = expand_mask(mask, tuple(feats[1, "dense"].shape[-2:])).bool().expand_as(feats[1, "dense"])
    assert 0 < float(mask.mean()) < 0.7  # the random heads prune part of block 3
    torch.testing.assert_close(feats[1, "masked"][active], feats[1, "dense"][active], rtol=0, atol=1e-5)
    assert float((feats[0, "masked"][active] - feats[0, "dense"][active]).abs().max()) > 1e-3
    assert fractions[0] == float(mask.mean())
    assert fractions[1] == float(dilate_tiles(mask[:, 0], 1).mean()) > fractions[0]  # the ring is paid for


def test_all_masks_on_reproduces_dense_rife_exactly() -> None:
    rife = build_model("rife", weights="rife-v3.9").eval()
    model = build_model("ugsp-rife", weights="rife-v3.9", threshold=0.0).eval()  # the shipped checkpoint
    img0, img1 = shifted_pair(128, 128, seed=2)
    with torch.no_grad():
        ref = rife(img0, img1, 0.5)
        for mode in ("sparse", "masked"):
            with execution_mode(model, mode):
                assert torch.equal(model(img0, img1, 0.5), ref)
        model.prune_padding = False  # any size: padding tiles on too
        small0, small1 = img0[..., :72, :88], img1[..., :72, :88]
        assert torch.equal(model(small0, small1), rife(small0, small1))


def test_shipped_checkpoint_runs_sparse() -> None:
    model = build_model("ugsp-rife", weights="rife-v3.9").eval()
    img0, img1 = shifted_pair(144, 176, seed=3)
    with torch.no_grad():
        out = model(img0, img1, 0.5)
    assert out.shape == (1, 3, 144, 176) and torch.isfinite(out).all()
    report = model.skip_report()
    assert report.macs_saved_fraction() > 0.3  # the padding (176x144 -> 256x256) at least
    assert set(report.maps) == {"mask/block2", "mask/block3"}


def test_export_with_backbone_deltas_names_official_rife_as_baseline(tmp_path) -> None:
    from dynskip.methods.ugsp.models import export_checkpoint

    model = build_model("ugsp-rife", weights="rife-v3.9").eval()
    assert model.dense_reference is None  # heads only: its own dense mode is RIFE v3.9
    with torch.no_grad():
        model.block3.lastconv.bias.add_(0.01)  # a fine-tuned backbone tensor
    path = export_checkpoint(model, tmp_path / "ft.pt")
    assert list(torch.load(path, weights_only=True)["backbone_deltas"]) == ["block3.lastconv.bias"]
    again = build_model("ugsp-rife", weights=str(path)).eval()
    img0, img1 = shifted_pair(64, 64, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(again(img0, img1), model(img0, img1))
        reference = again.dense_reference()
        assert torch.equal(reference(img0, img1), build_model("rife", weights="rife-v3.9")(img0, img1))
    assert str(again.dense_reference) == "official rife (rife-v3.9)"


@pytest.mark.parametrize("halo", [0, 1])
def test_soft_masks_train_the_heads(halo: int) -> None:
    model = build_model("ugsp-rife", active_halo_tiles=halo).train()
    model.execution_mode = "train"
    img0, img1 = shifted_pair(64, 64, seed=4, batch=2)
    out = model.forward_train(img0, img1, torch.full((2,), 0.5), uncertainty=True)
    assert out["frame"].shape == out["frame_dense"].shape == (2, 3, 64, 64)
    assert out["uncertainty"].shape == (2, 1, 64, 64)
    (out["frame"].mean() + out["report"].density(prunable_only=True) + out["uncertainty"].mean()).backward()
    assert model.mask_heads["block3"].body[0].weight.grad is not None
    assert model.uncertainty_head.body[0].weight.grad is not None
    assert model.block3.convblock[0][0].weight.grad is None


def test_all_masks_off_skips_the_pruned_blocks_whole() -> None:
    model = build_model("ugsp-rife", threshold=1.0, prune_padding=False).eval()
    randomise_mask_heads(model)
    with torch.no_grad():
        model.mask_heads["block2"].body[2].bias.copy_(torch.tensor([50.0, -50.0]))  # p_keep ~ 0: all off
    img0, img1 = shifted_pair(128, 128, seed=5)
    with torch.no_grad():
        out = model(img0, img1)
        report = model.skip_report()
        with execution_mode(model, "masked"):
            assert torch.equal(model(img0, img1), out)
    assert float(report.units["block3.convblock"].fraction) == 0.0
    assert float(report.units["block3.conv0"].fraction) == 0.0  # conv0 and lastconv skipped too
    assert report.macs_saved_fraction() > 0.75


@pytest.mark.parametrize(("delta_dtype", "mantissa_bits"), [("float16", 10), ("bfloat16", 7)])
def test_export_stores_deltas_in_half_precision_and_loads_in_float32(
    delta_dtype: str, mantissa_bits: int, tmp_path
) -> None:
    from dynskip.methods.ugsp.models import export_checkpoint

    model = build_model("ugsp-rife", weights="rife-v3.9").eval()
    delta = torch.linspace(-1e-3, 1e-3, model.block3.lastconv.bias.numel())
    with torch.no_grad():
        model.block3.lastconv.bias.add_(delta)
    path = export_checkpoint(model, tmp_path / "ft.pt", delta_dtype=delta_dtype)
    stored = torch.load(path, weights_only=True)["backbone_deltas"]["block3.lastconv.bias"]
    assert stored.dtype == getattr(torch, delta_dtype)
    again = build_model("ugsp-rife", weights=str(path))
    loaded = again.block3.lastconv.bias
    assert loaded.dtype == torch.float32
    # only the delta's rounding separates the two: half an ulp of a delta of at most 1e-3, plus the
    # float32 rounding of the sum (weights below 1)
    atol = 1e-3 * 2.0 ** -(mantissa_bits + 1) + 2.0**-24
    torch.testing.assert_close(loaded, model.block3.lastconv.bias, rtol=0.0, atol=atol)


def test_export_rejects_an_unknown_delta_dtype(tmp_path) -> None:
    from dynskip.methods.ugsp.models import export_checkpoint

    with pytest.raises(ValueError, match=r"delta_dtype must be one of .*'int8'"):
        export_checkpoint(build_model("ugsp-rife"), tmp_path / "x.pt", delta_dtype="int8")
    model = build_model("ugsp-rife", weights="rife-v3.9")
    with torch.no_grad():
        model.block3.lastconv.bias[0] += 1e5  # beyond float16's range
    with pytest.raises(ValueError, match=r"block3\.lastconv\.bias does not fit in float16"):
        export_checkpoint(model, tmp_path / "x.pt", delta_dtype="float16")


@pytest.mark.parametrize("pruned", ["block3", "block2"])
def test_report_counts_the_mask_heads_of_blocks_skipped_whole(pruned: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model("ugsp-rife", prune_padding=False).eval()
    model.execution_mode = "sparse"
    randomise_mask_heads(model)
    with torch.no_grad():
        for name, head in model.mask_heads.items():
            keep = -50.0 if name == pruned else 50.0  # p_keep ~ 0 for the pruned block, ~ 1 elsewhere
            head.body[2].bias.copy_(torch.tensor([-keep, keep]))
    img0, img1 = shifted_pair(128, 128, seed=6)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(img0, img1)
    report = model.skip_report()
    assert float(report.units[f"{pruned}.convblock"].fraction) == 0.0
    assert report.gmacs_actual() * 1e9 == pytest.approx(counter.get_total_flops() / 2, rel=1e-9)


def test_a_batch_where_only_some_samples_restart_matches_each_sample_alone(monkeypatch) -> None:
    # IFNet reruns the samples with large motion at doubled scales, as a group of their own. Each group's
    # kept tiles must stay its own: after a window-path block 3 (one kept tile) only those tiles are
    # rewarped, and the other group (block 3 dense) must not take that shortcut.
    from dynskip.methods.ugsp import rife_arch

    model = build_model("ugsp-rife", prune_padding=False).eval()
    model.execution_mode = "sparse"
    block3_masks: list[torch.Tensor] = []

    def designed(logits, mode, temperature=1.0, threshold=0.5, training=False):
        if logits.shape[-2:] != (8, 8):  # block 2 (4x4 tiles of 64 px): keep everything
            return torch.ones_like(logits[:, :1])
        return block3_masks.pop(0)

    one_tile = torch.zeros(1, 1, 8, 8)  # block 3: 8x8 tiles of 32 px
    one_tile[..., 3, 5] = 1.0
    monkeypatch.setattr(rife_arch, "sample_mask", designed)
    decisions: list[torch.Tensor] = []
    monkeypatch.setattr(model, "_needs_restart", lambda flow_delta: decisions.pop(0))
    img0, img1 = shifted_pair(256, 256, seed=7, batch=2)
    with torch.no_grad():
        decisions.append(torch.tensor([True, False]))
        block3_masks += [one_tile, torch.ones(1, 1, 8, 8)]  # restarted group first (IFNet._restart)
        together = model(img0, img1)
        together_masks = model.skip_report().maps["mask/block3"]
        alone, alone_masks = [], []
        for i, (restart, mask) in enumerate(((True, one_tile), (False, torch.ones(1, 1, 8, 8)))):
            decisions.append(torch.tensor([restart]))
            block3_masks.append(mask)
            alone.append(model(img0[i : i + 1], img1[i : i + 1]))
            alone_masks.append(model.skip_report().maps["mask/block3"])
    torch.testing.assert_close(together, torch.cat(alone), rtol=0, atol=1e-5)
    assert torch.equal(together_masks, torch.cat(alone_masks))  # in batch order
    assert not block3_masks  # every designed mask was used


@pytest.mark.parametrize(
    ("delta", "message"),
    [
        (
            torch.zeros(1),
            r"ft\.pt: backbone delta 'block3\.lastconv\.bias' is \(1,\), expected a tensor of shape",
        ),
        ("0.1", r"backbone delta 'block3\.lastconv\.bias' is str, expected a tensor"),
    ],
)
def test_exception_a_delta_of_the_wrong_shape_is_named(delta, message, tmp_path) -> None:
    from dynskip.methods.ugsp.models import FORMAT
    from dynskip.zoo.checkpoint import CheckpointMismatchError

    heads = {k: v for k, v in build_model("ugsp-rife").state_dict().items() if k.startswith("mask_heads.")}
    heads |= {
        k: v for k, v in build_model("ugsp-rife").state_dict().items() if k.startswith("uncertainty_head.")
    }
    payload = {
        "format": FORMAT,
        "backbone": "rife-v3.9",
        "heads": heads,
        "backbone_deltas": {"block3.lastconv.bias": delta},
    }
    torch.save(payload, tmp_path / "ft.pt")
    with pytest.raises(CheckpointMismatchError, match=message):
        build_model("ugsp-rife", weights=str(tmp_path / "ft.pt"))
