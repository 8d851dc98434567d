"""SkipVSR through Hydra (smoke training on synthetic clips), the objective, and the shipped checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynskip.config import compose_config
from dynskip.methods.skipvsr.v1.models import SHIPPED, export_skipvsr_checkpoint
from dynskip.methods.skipvsr.v1.objective import SkipVSRObjective, taylor_labels
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode
from dynskip.train import train

# A tiny SkipVSR (no official backbone) on the synthetic clips, through the real experiment config.
TINY = [
    "experiment=skipvsr_video",
    "data=synthetic_vsr",
    "data.train.augment.crop_size=64",
    "model.backbone=null",
    "model.num_feat=16",
    "model.num_block=4",
    "model.num_groups=2",
    "model.hidden=8",
    "debug=smoke",
    "test=false",
    "phase1_steps=1",
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
]


def test_hydra_smoke_training_both_phases(tmp_path: Path) -> None:
    metrics = train(compose_config("train", [*TINY, "model.budget=0.4"], tmp_path))
    assert metrics["global_step"] == 2
    assert "val/psnr" in metrics
    assert metrics["train/phase"] == 2.0  # step 2 ran in phase 2 (phase1_steps=1)
    for term in ("train/rec", "train/distill", "train/budget", "train/label"):
        assert term in metrics
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    model = build_model(
        "skipvsr",
        weights=str(ckpt),
        num_feat=16,
        num_block=4,
        num_groups=2,
        hidden=8,
        execution_mode="sparse",
    )
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    torch.testing.assert_close(
        model.forward_estimator.net[0].weight, state["model.forward_estimator.net.0.weight"]
    )


def test_budget_comes_from_model_config(tmp_path: Path) -> None:
    cfg = compose_config("train", [*TINY, "model.budget=0.3"], tmp_path)
    assert cfg.model.budget == 0.3
    assert cfg.task.objective.phase1_steps == 1
    cfg = compose_config("train", ["experiment=skipvsr_reds"], tmp_path)
    assert cfg.model.name == "skipvsr" and cfg.data.train.val_partition == "REDS4"


def test_taylor_labels_follow_the_budget() -> None:
    torch.manual_seed(0)
    model = build_model("skipvsr", num_feat=16, num_block=4, num_groups=2, hidden=8, tile=8).train()
    lq, gt = torch.rand(1, 3, 3, 16, 24), torch.rand(1, 3, 3, 64, 96)
    labels, dense = taylor_labels(model, lq, gt, budget=0.25)
    assert len(labels) == 2 * 3 and labels[0].shape == (1, 2, 2, 3)
    frac = float(torch.stack(labels).mean())
    assert 0 < frac <= 0.25 + 1e-6
    with torch.no_grad(), execution_mode(model, "dense"):
        torch.testing.assert_close(dense, model(lq))  # forced all-ones masks = the dense model


def test_objective_terms_and_gradients() -> None:
    torch.manual_seed(0)
    model = build_model("skipvsr", num_feat=16, num_block=4, num_groups=2, hidden=8).train()
    model.budget = 0.5

    class Task:
        global_step = 0

    Task.model = model
    pred, terms = SkipVSRObjective(label_weight=0.1)(
        Task(), {"lq": torch.rand(1, 2, 3, 16, 16), "gt": torch.rand(1, 2, 3, 64, 64)}
    )
    assert pred.shape == (1, 2, 3, 64, 64)
    assert set(terms) == {"rec", "distill", "budget", "label"}
    sum(terms.values()).backward()
    assert model.backward_estimator.net[-1].weight.grad.abs().sum() > 0


def _official_available() -> bool:
    try:
        from dynskip.assets import asset_path

        asset_path("basicvsr-reds4")
        return True
    except Exception:
        return False


needs_official = pytest.mark.skipif(
    not _official_available(), reason="official BasicVSR weights not installed"
)


@needs_official
def test_shipped_checkpoint_is_small_loads_and_runs() -> None:
    path = SHIPPED["reds4"]
    assert path.is_file() and path.stat().st_size < 5e6
    obj = torch.load(path, map_location="cpu", weights_only=True)
    assert obj["format"] == "skipvsr-v1" and obj["backbone"] == "reds4"
    model = build_model("skipvsr", weights="reds4").eval()
    lr = torch.rand(1, 3, 3, 16, 20)
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (1, 3, 3, 64, 80) and torch.isfinite(out).all()
    assert 0.0 <= float(model.skip_report().density()) <= 1.0


@needs_official
def test_export_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("skipvsr", backbone="reds4").eval()
    for est in (model.backward_estimator, model.forward_estimator):
        torch.nn.init.normal_(est.net[-1].weight, std=1.0)
    with torch.no_grad():
        model.fusion.bias.add_(1e-3)  # a fine-tuned backbone tensor: exported as an fp16 delta
    path = export_skipvsr_checkpoint(model, tmp_path / "s.pt")
    obj = torch.load(path, weights_only=True)
    assert list(obj["backbone_delta"]) == ["fusion.bias"]
    again = build_model("skipvsr", weights=str(path)).eval()
    lr = torch.rand(1, 2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(again(lr), model(lr), atol=1e-5, rtol=1e-4)
    # With deltas its all-active mode is no longer official BasicVSR: the baseline is named instead.
    assert str(again.dense_reference) == "official basicvsr (reds4)"
    assert build_model("skipvsr", weights="reds4").dense_reference is None  # no deltas: itself, dense
    from dynskip.zoo.checkpoint import CheckpointMismatchError

    for broken, message in (
        ({**obj, "backbone_delta": {"fusion.bias": torch.zeros(1)}}, r"'fusion\.bias' is \(1,\), expected"),
        ({k: v for k, v in obj.items() if k != "estimator"}, r"s\.pt: no 'estimator' tensors"),
    ):
        torch.save(broken, path)
        with pytest.raises(CheckpointMismatchError, match=message):
            build_model("skipvsr", weights=str(path))


@needs_official
def test_compare_dense_uses_the_named_dense_reference() -> None:
    from dynskip.assets import asset_path
    from dynskip.evaluation.footage import evaluate_footage
    from dynskip.models import PretrainedModel

    torch.manual_seed(0)
    model = build_model("skipvsr", weights="reds4").eval()
    with torch.no_grad():
        model.conv_last.bias.add_(0.05)  # a visibly different "fine-tuned" backbone
    video = asset_path("carphone")
    own_dense = evaluate_footage(model, "vsr", video, frames=3, compare_dense=True, repeats=1)
    model.dense_reference = PretrainedModel("basicvsr", "reds4")
    named = evaluate_footage(model, "vsr", video, frames=3, compare_dense=True, repeats=1)
    official = evaluate_footage(
        build_model("skipvsr", weights="reds4", threshold=0.0).eval(), "vsr", video, frames=3, repeats=1
    )
    assert named["dense"]["baseline"] == "official basicvsr (reds4)"
    assert named["dense"]["psnr"] == pytest.approx(official["psnr"], abs=1e-6)
    assert abs(own_dense["dense"]["psnr"] - official["psnr"]) > 0.05


@pytest.mark.slow
@needs_official
def test_all_active_official_equals_basicvsr() -> None:
    skip = build_model("skipvsr", weights="reds4", threshold=0.0).eval()
    dense = build_model("basicvsr", weights="reds4").eval()
    lr = torch.rand(1, 3, 3, 24, 40)
    with torch.no_grad():
        assert torch.equal(skip(lr), dense(lr))


@needs_official
def test_frozen_teacher_is_official_basicvsr_and_stays_out_of_the_state() -> None:
    torch.manual_seed(0)
    model = build_model("skipvsr", weights="reds4").train()
    with torch.no_grad():  # a "fine-tuned" backbone: its own dense output is no longer the official one
        model.backward_trunk.residual_blocks[0].conv1.weight.add_(0.05)
    objective = SkipVSRObjective(rec_weight=0.0, label_weight=0.0, teacher_weights="reds4")
    lq = torch.rand(1, 2, 3, 16, 16)
    target = objective.dense_target(lq)
    official = build_model("basicvsr", weights="reds4").eval()
    with torch.no_grad():
        torch.testing.assert_close(target, official(lq))
        with execution_mode(model, "dense"):
            assert (model(lq) - target).abs().max() > 1e-3
    assert objective.state_dict() == {} and not list(objective.parameters())
    assert not any(p.requires_grad for p in objective.frozen_teacher(lq).parameters())

    class Task:
        global_step = 0

    Task.model = model
    _, terms = objective(Task(), {"lq": lq, "gt": torch.rand(1, 2, 3, 64, 64)})
    assert set(terms) == {"rec", "distill", "budget"}


def test_finetune_experiment_composes(tmp_path: Path) -> None:
    cfg = compose_config("train", ["experiment=skipvsr_video_finetune", "model.max_stale=2"], tmp_path)
    assert cfg.model.weights == "reds4" and cfg.model.max_stale == 2
    assert cfg.task.objective.teacher_weights == "reds4" and cfg.phase1_steps == 0
    assert any(r["prefix"] == "backward_trunk.main" for r in cfg.task.module_rules)


@needs_official
def test_finetune_recipe_smoke_trains_through_hydra(tmp_path: Path) -> None:
    # The phase-2 recipe on a tiny student; the teacher is the real frozen official BasicVSR.
    overrides = [o for o in TINY if not o.startswith(("experiment=", "phase1_steps="))]
    cfg = compose_config(
        "train", ["experiment=skipvsr_video_finetune", *overrides, "model.weights=null"], tmp_path
    )
    metrics = train(cfg)
    assert metrics["global_step"] == 2
    assert {"train/distill", "train/budget"} <= set(metrics) and "train/label" not in metrics
