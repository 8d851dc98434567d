"""ugsp, the UGSP paper network: shapes and parameters, FLOPs, sparse = masked emulation, the training
outputs, the official-key loader, the LR schedule, and both phases (plus evaluation) through Hydra."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dynskip.config import compose_config
from dynskip.methods.ugsp.arch import PRUNED_LEVELS, UGSP, official_key
from dynskip.methods.ugsp.pruning import expand_mask
from dynskip.models import build_model
from dynskip.skip.plan import TilePlan
from dynskip.skip.protocol import SkippingModel, execution_mode
from dynskip.tasks.schedulers import WarmupCosineLR, warmup_cosine_factor
from dynskip.train import build_components, train
from helpers.clips import shifted_pair

OFFICIAL_PARAMS = 6_764_702  # the official IFNet, counted by instantiating it
OFFICIAL_CONV_MASK = 72 * 2 * 9 + 2 + 48 * 2 * 9 + 2 + 32 * 2 * 9 + 2  # its pixel-level heads: 2,742
# Shared MaskHead(C, 16) = C*16*9 + 16 + 16 (PReLU) + 16*2 + 2 on the 72 / 48 / 32 channel features.
MASK_HEADS = sum(c * 16 * 9 + 16 + 16 + 16 * 2 + 2 for c in (72, 48, 32))  # 22,086
UNCERTAINTY_HEAD = 100 * 32 * 9 + 32 + 32 + 32 * 9 + 1  # UncertaintyHead(100, 32): 29,153

SMOKE = ["data=synthetic_vfi", "debug=smoke", "test=false", "logger=none", "callbacks=none",
         "trainer.max_steps=1", "trainer.val_check_interval=1"]  # fmt: skip


def _only_checkpoint(run: Path) -> Path:
    """The run's Lightning checkpoint (``callbacks=none``: Lightning's own ``epoch=0-step=1.ckpt``) under a
    name Hydra overrides can carry (``=`` would need quoting)."""
    (ckpt,) = (run / "checkpoints").glob("*.ckpt")
    return ckpt.rename(run / "run.ckpt")


def _prune_heads(
    model: UGSP, img0: torch.Tensor, img1: torch.Tensor, keep: float = 0.6, seed: int = 0
) -> None:
    """Random heads whose biases are set, level by level, so that about ``keep`` of each level's tiles
    pass the head on these inputs (random weights alone read near-constant untrained features)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad(), execution_mode(model, "masked"):
        for head in model.mask_heads.values():
            head.body[2].weight.copy_(300 * torch.randn(head.body[2].weight.shape, generator=g))
            head.body[2].bias.zero_()
        for level in PRUNED_LEVELS:
            logits = model.forward_train(img0, img1, pruned=True, non_pruned=False)["logits"][level]
            cut = torch.quantile((logits[:, 1] - logits[:, 0]).flatten(), 1 - keep)
            model.mask_heads[level].body[2].bias.add_(torch.stack((cut / 2, -cut / 2)))


def test_shapes_parameter_count_and_units() -> None:
    model = build_model("ugsp").eval()
    assert isinstance(model, SkippingModel)
    heads = sum(
        p.numel() for k, p in model.named_parameters() if k.startswith(("mask_heads.", "uncertainty_head."))
    )
    backbone = sum(p.numel() for p in model.parameters()) - heads
    # The backbone is the official network less its conv_mask heads, replaced by the shared heads.
    assert backbone == OFFICIAL_PARAMS - OFFICIAL_CONV_MASK == 6_761_960
    assert heads == MASK_HEADS + UNCERTAINTY_HEAD == 51_239
    img0, img1 = shifted_pair(40, 72)  # padded to 64 x 96 inside (multiples of 32), cropped back
    with torch.no_grad():
        assert model(img0, img1, 0.5).shape == (1, 3, 40, 72)
        out = model.forward_train(*shifted_pair(64, 96, batch=2), uncertainty=True)
    assert out["frame"].shape == out["frame_dense"].shape == (2, 3, 64, 96)
    assert out["uncertainty"].shape == (2, 1, 64, 96)
    # forward_train pads to 128 (the objective's label grid): tile grids of 32 / 16 / 16 px.
    assert {k: tuple(m.shape) for k, m in out["masks"].items()} == {
        "decoder8": (2, 1, 4, 4), "decoder4": (2, 1, 8, 8), "decoder2": (2, 1, 8, 8)}  # fmt: skip
    assert {k: tuple(f.shape) for k, f in out["features"].items()} == {
        "decoder8": (2, 48, 16, 24), "decoder4": (2, 32, 32, 48), "decoder2": (2, 100, 32, 48)}  # fmt: skip
    units = {u.name: u for u in model.skip_units()}
    assert [n for n, u in units.items() if u.prunable] == list(PRUNED_LEVELS)
    assert units["decoder2"].macs_per_pixel == 5 * 100 * 100 * 9 + 500 * 100
    with pytest.raises(ValueError, match="midpoint"):
        model(img0, img1, 0.3)


def test_dense_gmacs_against_the_official_constants() -> None:
    from dynskip.flops import flops_report

    report = flops_report("ugsp", size=(256, 448))
    assert report["counted_on"] == "meta" and report["params"] == 6_813_199
    # 31.758 official = our 30.630 (FlopCounter: conv MACs, no biases) + 1.102 (the official constant counts
    # the ConvTranspose2d per output pixel, 4x its MACs) + 0.013 (official conv_mask) + ~0.012 (bias adds).
    assert report["gmacs_dense_per_frame"] == pytest.approx(30.630412288, abs=1e-6)
    units = {u["name"]: u["gmacs_per_frame"] for u in report["skip_units"]}
    analytic = sum(v for k, v in units.items() if k != "uncertainty_head")
    assert analytic == pytest.approx(report["gmacs_dense_per_frame"], rel=1e-9)  # units cover the network
    assert units["final_upconv"] * 4 + 0.000917504 == pytest.approx(1.468923904)  # official constant
    assert report["gmacs_prunable_per_frame"] == pytest.approx(
        units["decoder8"] + units["decoder4"] + units["decoder2"]
    )


def test_decoder_sparse_equals_masked_with_bias_where_pruned() -> None:
    torch.manual_seed(0)
    decoder = build_model("ugsp").decoders["decoder4"].eval()
    x = torch.randn(2, 148, 16, 24)
    tiles = torch.rand(2, 4, 6) > 0.5
    tiles[0, 0, 0], tiles[1, -1, -1], tiles[1, 0, 0] = True, True, False  # border tiles on and off
    plan = TilePlan.from_mask(tiles, 4, (16, 24))
    pixel = expand_mask(tiles[:, None].float(), (16, 24))
    with torch.no_grad():
        ref = decoder.masked(x, pixel)
        sparse = decoder.sparse(x, plan)
        auto = decoder.sparse(x, plan, "auto")
    torch.testing.assert_close(sparse, ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(auto, ref, rtol=0, atol=1e-5)
    pruned = (1 - pixel).bool().expand_as(ref)
    bias = decoder.conv_last.bias.view(1, -1, 1, 1).expand_as(ref)
    assert torch.equal(sparse[pruned], bias[pruned])  # conv_last reads zeros where pruned: its bias


def test_model_sparse_equals_masked_emulation_and_reports_levels() -> None:
    model = build_model("ugsp").eval()
    img0, img1 = shifted_pair(96, 128, seed=1, batch=2)
    _prune_heads(model, img0, img1)
    outs, reports = {}, {}
    with torch.no_grad():
        for mode in ("masked", "sparse", "dense"):
            with execution_mode(model, mode):
                outs[mode] = model(img0, img1)
                reports[mode] = model.skip_report()
    torch.testing.assert_close(outs["sparse"], outs["masked"], rtol=0, atol=1e-4)
    assert float((outs["sparse"] - outs["dense"]).abs().max()) > 1e-3  # really pruned
    fractions = [float(reports["sparse"].units[level].fraction) for level in PRUNED_LEVELS]
    assert 0 < fractions[2] <= fractions[1] <= fractions[0] < 1  # hierarchical
    saved = reports["sparse"].macs_saved_fraction()
    assert saved == pytest.approx(reports["masked"].macs_saved_fraction()) and saved > 0.2
    assert reports["dense"].macs_saved_fraction() == 0.0
    assert set(reports["sparse"].maps) == {f"mask/{level}" for level in PRUNED_LEVELS}
    # Hierarchy on the grids themselves: a finer tile runs only inside a coarser tile that ran.
    masks = model.forward_train(img0, img1, pruned=True, non_pruned=False)["masks"]
    coarse = torch.nn.functional.interpolate(masks["decoder8"], size=masks["decoder4"].shape[-2:])
    assert bool((masks["decoder4"] <= coarse).all()) and bool((masks["decoder2"] <= masks["decoder4"]).all())


def test_untrained_heads_keep_everything_sparse_is_dense_exactly() -> None:
    model = build_model("ugsp").eval()  # heads start at p_keep ~ 0.998
    img0, img1 = shifted_pair(64, 64, seed=2)
    with torch.no_grad():
        with execution_mode(model, "dense"):
            dense = model(img0, img1)
        assert torch.equal(model(img0, img1), dense)  # sparse with every tile on runs the dense decoders
        with execution_mode(model, "masked"):
            torch.testing.assert_close(model(img0, img1), dense, rtol=0, atol=1e-5)
    assert model.skip_report().macs_saved_fraction() < 0  # all on: only the heads' overhead


def test_padding_tiles_are_off_and_do_not_count_in_the_density() -> None:
    model = build_model("ugsp").eval()
    img0, img1 = shifted_pair(40, 40, seed=3)  # padded to 64 x 64 at inference
    with torch.no_grad():
        out = model.forward_train(img0, img1, pruned=True, non_pruned=False)  # padded to 128 x 128
    assert out["masks"]["decoder2"][0, 0].sum() == 9  # the 3 x 3 tiles of 16 px covering 40 x 40
    assert float(out["report"].units["decoder2"].fraction) == 1.0  # all image tiles on


def test_training_forward_returns_everything_and_trains_all_parts() -> None:
    model = build_model("ugsp", execution_mode="train").train()
    model.temperature = 0.5
    img0, img1 = shifted_pair(64, 64, seed=4, batch=2)
    out = model(img0, img1, torch.full((2,), 0.5))
    assert isinstance(out, dict) and {"frame", "masks", "uncertainty", "frame_dense", "report"} <= set(out)
    soft = out["masks"]["decoder8"]
    assert bool(((soft > 0) & (soft < 1)).any())  # Gumbel-softmax, differentiable
    density = out["report"].density(prunable_only=True)
    (out["frame"].mean() + out["frame_dense"].mean() + density + out["uncertainty"].mean()).backward()
    for name in ("mask_heads.decoder4.body.0.weight", "uncertainty_head.body.0.weight",
                 "decoders.decoder2.layers.0.0.weight", "encoder.pyramid1.0.0.weight"):  # fmt: skip
        assert model.get_parameter(name).grad is not None, name


def test_official_checkpoint_keys_load(tmp_path: Path) -> None:
    model = build_model("ugsp")
    own = model.state_dict()
    names = {
        "decoder16": "glblock_first",
        "decoder8": "glblock_1",
        "decoder4": "glblock_2",
        "decoder2": "glblock_final",
    }
    official: dict[str, torch.Tensor] = {}
    for key, value in own.items():  # the official names of our backbone (IFNet.py naming)
        if key.startswith(("mask_heads.", "uncertainty_head.")):
            continue
        parts = key.split(".")
        if parts[0] == "encoder":
            name = "context." + ".".join(parts[1:])
        elif parts[0] in ("final_act", "final_upconv"):
            name = {"final_act": "glblock_final.prelu_last.", "final_upconv": "glblock_final.dconv_last."}[
                parts[0]
            ]
            name += parts[-1]
        elif parts[2] == "conv_last":
            name = f"{names[parts[1]]}.conv_last.{parts[3]}"
        elif parts[3] == "0":
            name = f"{names[parts[1]]}.conv_head.{parts[4]}.{parts[5]}"
        else:
            kind = "convblock_l" if parts[4] == "0" else "prelu_l"
            name = f"{names[parts[1]]}.{kind}.{int(parts[3]) - 1}.{parts[5]}"
        official["module." + name] = torch.randn_like(value)
    official["module.glblock_1.conv_mask.weight"] = torch.zeros(2, 48, 3, 3)
    assert official_key("module.glblock_1.conv_mask.weight") is None
    torch.save(official, tmp_path / "flownet_299.pkl")
    loaded = build_model("ugsp", weights=tmp_path / "flownet_299.pkl")
    assert torch.equal(
        loaded.decoders["decoder8"].layers[3][1].weight, official["module.glblock_1.prelu_l.2.weight"]
    )
    assert torch.equal(loaded.final_upconv.weight, official["module.glblock_final.dconv_last.weight"])
    torch.save(loaded.state_dict(), tmp_path / "full.pt")  # our own state dict round-trips strictly
    again = build_model("ugsp", weights=tmp_path / "full.pt")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in again.state_dict().items())


def test_warmup_cosine_schedule() -> None:
    assert warmup_cosine_factor(0, 2000, 10000, 0.1) == 0.0
    assert warmup_cosine_factor(1000, 2000, 10000, 0.1) == 0.5
    assert warmup_cosine_factor(2000, 2000, 10000, 0.1) == 1.0
    assert warmup_cosine_factor(6000, 2000, 10000, 0.1) == pytest.approx(0.55)
    assert warmup_cosine_factor(10000, 2000, 10000, 0.1) == pytest.approx(0.1)
    assert warmup_cosine_factor(20000, 2000, 10000, 0.1) == pytest.approx(0.1)
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched = WarmupCosineLR(opt, warmup_steps=2, total_steps=4)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.0, 5e-5, 1e-4, 5.5e-5, 1e-5])


def test_both_phases_smoke_train_through_hydra(tmp_path: Path) -> None:
    p1 = compose_config("train", ["experiment=ugsp_vimeo_uncertainty", *SMOKE], tmp_path / "p1")
    assert p1.task.scheduler.total_steps == 1 and p1.task.objective.rec_weight == 1.0
    m1 = train(p1)
    assert m1["global_step"] == 1 and {"train/nll", "train/rec", "val/psnr"} <= set(m1)
    phase1 = _only_checkpoint(tmp_path / "p1")
    with pytest.raises(Exception, match="Missing mandatory value"):  # phase 2 needs phase1_ckpt
        build_components(compose_config("train", ["experiment=ugsp_vimeo", *SMOKE], tmp_path / "missing"))
    p2_overrides = ["experiment=ugsp_vimeo", f"phase1_ckpt={phase1}", "model.budget=0.3", *SMOKE]
    p2 = compose_config("train", p2_overrides, tmp_path / "p2")
    assert p2.model.budget == 0.3 and p2.task.objective.steps_per_epoch == 1523
    assert list(p2.task.objective.label_settings.levels) == list(PRUNED_LEVELS)
    m2 = train(p2)
    assert m2["global_step"] == 1
    for term in (
        "train/rec",
        "train/aux",
        "train/consistency",
        "train/sparsity",
        "train/density",
        "val/psnr",
    ):
        assert term in m2, term


def test_evaluation_through_hydra_on_the_tiny_vimeo_layout(tmp_path: Path, tiny_data_dir: Path) -> None:
    from dynskip.eval import evaluate

    torch.save(build_model("ugsp").state_dict(), tmp_path / "ugsp.pt")
    overrides = ["experiment=ugsp_eval_vimeo90k", f"paths.data_dir={tiny_data_dir}", "logger=none",
                 f"model.weights={tmp_path / 'ugsp.pt'}", "data.num_workers=0"]  # fmt: skip
    metrics = evaluate(compose_config("eval", overrides, tmp_path / "eval"))
    assert {"test/psnr", "test/ssim", "test/ie"} <= set(metrics)


@pytest.mark.parametrize("name", ["vimeo90k", "ucf101", "middlebury", "snu_film"])
def test_eval_configs_compose(name: str, tmp_path: Path, tiny_data_dir: Path) -> None:
    cfg = compose_config(
        "eval", [f"experiment=ugsp_eval_{name}", f"paths.data_dir={tiny_data_dir}"], tmp_path
    )
    assert cfg.model.name == "ugsp" and cfg.model.execution_mode == "sparse"
    assert Path(cfg.data.test.root).is_dir()
