"""UGSP phase-1 machinery: the uncertainty loss, uncertainty -> labels, the label cache and its command,
the objectives, and both training phases through Hydra on synthetic clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dynskip.cli.ugsp_labels import main
from dynskip.config import compose_config
from dynskip.losses import laplacian_nll
from dynskip.methods.ugsp.labels import (
    LabelCache,
    LabelSettings,
    align_cached_labels,
    build_label_cache,
    fingerprint_path,
    uncertainty_to_labels,
)
from dynskip.models import build_model
from dynskip.train import build_components, train

SMOKE = [
    "debug=smoke",
    "test=false",
    "logger=none",
    "callbacks=none",
    "trainer.max_steps=2",
    "trainer.val_check_interval=2",
]
# Phase 2's recipe mixes carphone and synthetic clips: shrink both for the smoke run.
PHASE2_SMOKE = [
    "synthetic_crop=64",
    "carphone_train_clips.count=3",
    "data.train.datasets.1.size=[96,96]",
    "data.val.count=3",
]


def _designed_error() -> tuple[torch.Tensor, torch.Tensor]:
    """A prediction that is nearly right on the left half and wrong on the right half of a 64x64 image."""
    target = torch.full((1, 3, 32, 32), 0.5)
    pred = target.clone()
    pred[..., :16] += 0.01
    pred[..., 16:] += 0.3
    return pred, target


def test_uncertainty_loss_gives_low_uncertainty_where_the_error_is_low() -> None:
    pred, target = _designed_error()
    u = torch.zeros(1, 1, 32, 32, requires_grad=True)
    opt = torch.optim.Adam([u], lr=0.2)
    for _ in range(150):
        opt.zero_grad()
        laplacian_nll(pred, target, u).backward()
        opt.step()
    left, right = u[..., :16].mean().item(), u[..., 16:].mean().item()
    assert left < right
    # The optimum of exp(-U) e + 2U is U = log(e / 2).
    assert left == pytest.approx(torch.log(torch.tensor(0.005)).item(), abs=0.1)
    assert right == pytest.approx(torch.log(torch.tensor(0.15)).item(), abs=0.1)
    labels = uncertainty_to_labels(u, LabelSettings(("block2", "block3"), (0.5, 0.25), cell_px=8))
    assert labels["block2"].shape == (1, 1, 4, 4)
    assert labels["block2"][..., :2].sum() == 0 and labels["block2"][..., 2:].all()  # keep the hard half
    assert labels["block3"].sum() >= 4 and bool((labels["block3"] <= labels["block2"]).all())  # hierarchical


def test_label_rules() -> None:
    u = torch.arange(16.0).view(1, 1, 4, 4)
    quant = uncertainty_to_labels(u, LabelSettings(("a",), (0.25,), "quantile", cell_px=1))
    assert quant["a"].sum() == 4 and quant["a"][0, 0, 3].all()
    rule = LabelSettings(("a", "b"), (10.0, 12.0), "threshold", cell_px=2, pool="mean")
    thr = uncertainty_to_labels(u, rule)
    assert thr["a"][0, 0].tolist() == [[0, 0], [1, 1]] and thr["b"][0, 0].tolist() == [[0, 0], [0, 1]]
    with pytest.raises(ValueError):
        LabelSettings(("a",), (0.5, 0.2))


class _FakeModel(torch.nn.Module):
    """Uncertainty = the image's red channel: a designed, deterministic phase-1 model."""

    calls = 0

    def forward_train(self, img0, img1, t, pruned=False, non_pruned=True, uncertainty=True):
        type(self).calls += 1
        return {"uncertainty": img0[:, :1]}


def _samples(n: int = 3) -> list[dict]:
    return [
        {
            "img0": torch.rand(3, 32, 48),
            "img1": torch.rand(3, 32, 48),
            "timestep": torch.tensor(0.5),
            "key": f"clip/{i:06d}",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("pool", ["max", "mean"])
def test_cached_labels_follow_the_crop_and_flips_of_their_frames(pool: str) -> None:
    """Labels are cached per whole frame. A cropped, flipped, transposed sample must get the labels of
    the region it shows: the same as pushing the label image itself through the sample's augmentation."""
    from dynskip.data.augment import Augment
    from dynskip.data.samples import vfi_sample

    settings = LabelSettings(levels=("block2", "block3"), keep=(0.6, 0.4), cell_px=16, pool=pool)
    g = torch.Generator().manual_seed(0)
    coarse = (torch.rand(3, 1, 8, 10, generator=g) < 0.5).float()  # 128x160 frames, 16-px cells
    cached = {"block2": coarse, "block3": coarse * (torch.rand(coarse.shape, generator=g) < 0.5)}
    augment = Augment(crop_size=72, transpose=True, seed=3)  # 72: crops straddle cells
    records, expected = [], {level: [] for level in cached}
    for item in range(3):
        frame = torch.zeros(3, 128, 160)
        sample = vfi_sample(frame, frame, frame, f"s{item}", augment=augment, index=item)
        records.append(sample["augment"])
        for level, label in cached.items():
            pixels = label[item].repeat_interleave(16, -2).repeat_interleave(16, -1).expand(3, -1, -1)
            moved = vfi_sample(pixels, pixels, pixels, f"s{item}", augment=augment, index=item)["gt"][:1]
            pooled = torch.nn.functional.max_pool2d if pool == "max" else torch.nn.functional.avg_pool2d
            expected[level].append(pooled(moved[None], 16, 16, ceil_mode=True)[0])
    assert len({tuple(r.tolist()) for r in records}) == 3  # three different draws
    aligned = align_cached_labels(cached, (72, 72), settings, torch.stack(records), ["s0", "s1", "s2"])
    for level in cached:
        assert aligned[level].shape == (3, 1, 5, 5)
        assert torch.equal(aligned[level], torch.stack(expected[level])), level
    whole = align_cached_labels(cached, (128, 160), settings)  # whole frames: labels as they are
    assert all(torch.equal(whole[level], cached[level]) for level in cached)


def test_pruning_objective_aligns_cached_labels_with_the_crop(tmp_path: Path) -> None:
    """The cache keeps the left half of a 64x128 frame; a batch cropped to the right half must be
    trained towards "prune everywhere" (found in review: the whole-frame label was pooled into the crop)."""
    from dynskip.methods.ugsp.objective import UGSPPruningObjective

    settings = LabelSettings(levels=("block2",), keep=(0.5,), cell_px=16)
    cache = LabelCache(tmp_path, "frames", settings, source="x").open()
    left_half = torch.zeros(1, 4, 8)
    left_half[..., :4] = 1
    cache.save("clip/0", {"block2": left_half})
    objective = UGSPPruningObjective(
        labels="cache",
        label_cache=str(cache.folder),
        label_settings=dict(levels=["block2"], keep=[0.5], cell_px=16),
    )
    masks = {2: torch.zeros(1, 1, 8, 8)}  # prune everything, on the 128x128 padded grid
    frame = torch.zeros(1, 3, 64, 64)
    right = {"key": ["clip/0"], "gt": frame, "augment": torch.tensor([[0, 64, 0, 0, 0, 0]])}
    left = {**right, "augment": torch.tensor([[0, 0, 0, 0, 0, 0]])}
    assert float(objective._label_loss({"frame": frame}, right, masks)) == 0.0
    # Every image cell is wrong by 1; L_ugm averages over the 4x4 image cells, not the 8x8 padded grid
    # (which gave 1/4 of it), and is divided by label_div = 10.
    assert float(objective._label_loss({"frame": frame}, left, masks)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no augmentation record"):
        objective._label_loss({"frame": frame}, {"key": ["clip/0"], "gt": frame}, masks)


def test_cached_labels_refuse_frames_they_do_not_cover() -> None:
    settings = LabelSettings(levels=("block2",), keep=(0.5,), cell_px=16)
    cached = {"block2": torch.ones(1, 1, 8, 10)}
    with pytest.raises(
        ValueError, match=r"sample clip/7 are a 8x10 grid of 16-px cells, but the batch frames are 64x64"
    ):
        align_cached_labels(cached, (64, 64), settings, keys=["clip/7"])
    record = torch.tensor([[100, 0, 0, 0, 0, 0]])  # a crop below the frame: the cache is stale
    with pytest.raises(ValueError, match=r"sample clip/7: its 64x64 crop at \(100, 0\) lies outside"):
        align_cached_labels(cached, (64, 64), settings, record, keys=["clip/7"])


def test_cache_reuses_and_rebuilds_when_stale(tmp_path: Path) -> None:
    source = tmp_path / "video.bin"
    source.write_bytes(b"abc")
    settings = LabelSettings(cell_px=16)
    samples = _samples()

    def cache(settings=settings, model="m1") -> LabelCache:
        return LabelCache(tmp_path / "cache", "video-clip", settings, fingerprint_path(source), model)

    assert build_label_cache(_FakeModel(), samples, cache()) == 3
    first = cache().load("clip/000000")
    assert first["block2"].shape == (1, 2, 3)
    assert cache().load_batch(["clip/000001"])["block3"].shape == (1, 1, 2, 3)
    assert build_label_cache(_FakeModel(), samples, cache()) == 0  # fresh: nothing recomputed
    assert build_label_cache(_FakeModel(), samples, cache(LabelSettings(keep=(0.5, 0.2), cell_px=16))) == 3
    assert build_label_cache(_FakeModel(), samples, cache(model="m2")) == 3  # new uncertainty model
    source.write_bytes(b"abcd")  # the source changed
    stale = cache(model="m2")
    assert stale.is_stale()
    assert build_label_cache(_FakeModel(), samples, stale) == 3 and stale.rebuilt
    with pytest.raises(KeyError):
        stale.load("clip/999999")


def test_training_refuses_a_cache_built_with_other_settings(tmp_path: Path) -> None:
    from dynskip.methods.ugsp.objective import UGSPPruningObjective

    built = LabelSettings(keep=(0.9, 0.9), cell_px=16)
    cache = LabelCache(tmp_path, "video-clip", built, source="s", model="m")
    build_label_cache(_FakeModel(), _samples(), cache)
    folder = str(tmp_path / "video-clip")
    UGSPPruningObjective(
        labels="cache", label_cache=folder, label_settings={"keep": (0.9, 0.9), "cell_px": 16}
    )
    with pytest.raises(
        ValueError, match=r"keep: cache \(0\.9, 0\.9\) vs config \(0\.6, 0\.4\); cell_px: cache 16"
    ):
        UGSPPruningObjective(labels="cache", label_cache=folder, label_settings={"keep": (0.6, 0.4)})


def test_uncertainty_for_labels_never_restarts_also_in_eval_mode(monkeypatch) -> None:
    # Cached labels are built in eval mode, where inference would rerun large motion at doubled scales;
    # the uncertainty head was trained without that, so labels must come from the same forward pass.
    model = build_model("ugsp-rife", weights="rife-v3.9")
    monkeypatch.setattr(
        model, "_needs_restart", lambda flow_delta: torch.ones(flow_delta.shape[0], dtype=torch.bool)
    )
    g = torch.Generator().manual_seed(0)
    img0, img1 = torch.rand(1, 3, 128, 128, generator=g), torch.rand(1, 3, 128, 128, generator=g)
    with torch.no_grad():
        trained = model.train().forward_train(img0, img1, 0.5, pruned=False, uncertainty=True)["uncertainty"]
        evaluated = model.eval().forward_train(img0, img1, 0.5, pruned=False, uncertainty=True)["uncertainty"]
        restarted = model.eval().predict(img0, img1, 0.5)["restarted"]
    assert bool(restarted.all())  # inference does restart these samples
    assert torch.equal(trained, evaluated)


def test_label_command_on_synthetic_clips(tmp_path: Path, capsys) -> None:
    argv = ["--weights", "rife-v3.9-backbone", "--synthetic", "1", "--size", "64", "--cache", str(tmp_path)]
    torch.manual_seed(0)  # the untrained heads of rife-v3.9-backbone are drawn at random
    assert main(argv) == 0
    assert "1 computed" in capsys.readouterr().out
    folder = next(tmp_path.iterdir())
    assert (folder / "manifest.json").is_file() and len(list(folder.glob("*.pt"))) == 1
    torch.manual_seed(0)  # same model, same data: the cache is fresh
    assert main(argv) == 0 and "0 computed" in capsys.readouterr().out
    torch.manual_seed(1)  # other uncertainty weights: stale, rebuilt
    assert main(argv) == 0 and "1 computed" in capsys.readouterr().out


def test_phase1_then_phase2_smoke_train_through_hydra(tmp_path: Path) -> None:
    phase1 = ["experiment=ugsp_rife_video_uncertainty", "data=synthetic_vfi"]
    phase1.append("data.train.augment.crop_size=64")
    m1 = train(compose_config("train", [*phase1, *SMOKE], tmp_path / "p1"))
    assert m1["global_step"] == 2 and "train/nll" in m1
    phase2 = ["experiment=ugsp_rife_video", "model.budget=0.3", "data=synthetic_vfi", *SMOKE]
    phase2.append("data.train.augment.crop_size=64")
    cfg = compose_config("train", phase2, tmp_path / "p2")
    assert cfg.model.budget == 0.3 and cfg.task.objective.steps_per_epoch == 10
    m2 = train(cfg)
    assert m2["global_step"] == 2
    for term in ("train/rec", "train/consistency", "train/sparsity", "train/density", "val/psnr"):
        assert term in m2
    mixed = ["experiment=ugsp_rife_video_mixed", *PHASE2_SMOKE, *SMOKE]
    mixed = compose_config("train", mixed, tmp_path / "p3")
    assert mixed.data.train.datasets[1].size == [96, 96]


def test_backbone_finetune_recipe_smoke_trains_through_hydra(tmp_path: Path) -> None:
    overrides = ["experiment=ugsp_rife_video_finetune", *PHASE2_SMOKE, *SMOKE]
    cfg = compose_config("train", overrides, tmp_path)
    assert cfg.model.train_backbone and cfg.model.weights == "rife-v3.9"
    assert [r["prefix"] for r in cfg.task.module_rules] == ["block0", "block1", "block2", "block3"]
    datamodule, task, trainer = build_components(cfg)
    trainer.fit(task, datamodule=datamodule)
    assert trainer.global_step == 2
    groups = {g["name"]: g["lr"] for g in trainer.optimizers[0].param_groups}
    assert groups["block3"] == pytest.approx(0.01 * cfg.task.lr)
    official = build_model("rife", weights="rife-v3.9").state_dict()
    moved = task.model.state_dict()
    assert not torch.equal(moved["block3.convblock.0.0.weight"], official["block3.convblock.0.0.weight"])


def test_label_command_on_a_dataset_config(tiny_data_dir: Path, tmp_path: Path, capsys) -> None:
    """--data composes conf/data/<name>.yaml and caches its split's whole frames, keyed as training
    reads them."""
    from dynskip.data.vimeo90k import Vimeo90KTriplet

    argv = ["--weights", "rife-v3.9-backbone", "--data", "vimeo90k_triplet", "--split", "train"]
    argv += [
        "--cache",
        str(tmp_path),
        "--override",
        f"paths.data_dir={tiny_data_dir}",
        "data.train.val_fraction=0.25",
    ]
    torch.manual_seed(0)
    assert main(argv) == 0
    assert "3 computed" in capsys.readouterr().out  # 4 train triplets, the last 25% validate
    settings = LabelSettings(levels=("block2", "block3"), keep=(0.6, 0.4), cell_px=32)
    cache = LabelCache(tmp_path, "vimeo90k_triplet-train", settings, source="")
    train = Vimeo90KTriplet(tiny_data_dir / "vimeo_triplet", "train", val_fraction=0.25)
    keys = [train[i]["key"] for i in range(len(train))]
    labels = cache.load_batch(keys)
    height, width = train[0]["gt"].shape[-2:]
    assert labels["block2"].shape == (3, 1, -(-height // 32), -(-width // 32))
    with pytest.raises(ValueError, match="data=vimeo90k_triplet has no 'train' dataset"):
        main([*argv, "data.train=null"])
