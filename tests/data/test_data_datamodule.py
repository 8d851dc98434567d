"""The generic datamodule, its epoch-seeded shuffling, and every conf/data config built on tiny data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from dynskip.assets import asset_path
from dynskip.config import config_dir
from dynskip.data.augment import Augment
from dynskip.data.datamodule import EpochShuffleSampler, RestorationDataModule, UnpaddedDistributedSampler
from dynskip.data.synthetic import SyntheticClips

CONF_DATA = config_dir() / "data"
EXPECTED_CONFIGS = {
    "vimeo90k_triplet", "vimeo90k_septuplet", "ucf101", "middlebury", "snu_film", "reds", "vid4",
    "video_vsr", "video_vfi", "synthetic_vsr", "synthetic_vfi",
}  # fmt: skip


def test_batches_have_the_documented_shapes():
    vsr = SyntheticClips("vsr", num_samples=5, size=32, num_frames=3)
    module = RestorationDataModule(train=vsr, val=SyntheticClips("vsr", 2, 32, 3, seed=1), batch_size=2)
    batch = next(iter(module.train_dataloader()))
    assert batch["lq"].shape == (2, 3, 3, 8, 8) and batch["gt"].shape == (2, 3, 3, 32, 32)
    assert isinstance(batch["key"], list) and len(batch["key"]) == 2
    assert len(module.train_dataloader()) == 3 and len(module.val_dataloader()) == 2
    assert module.has_train() and module.has_val() and not module.has_test()
    assert module.test_dataloader() == []
    vfi = RestorationDataModule(test=SyntheticClips("vfi", 3, 32), val_batch_size=3)
    batch = next(iter(vfi.test_dataloader()))
    assert batch["img0"].shape == (3, 3, 32, 32) and batch["timestep"].shape == (3,)
    assert batch["timestep"].dtype == torch.float32
    with pytest.raises(RuntimeError, match="no train dataset"):
        vfi.train_dataloader()


def test_epoch_seeds_order_and_augmentation():
    data = SyntheticClips("vfi", num_samples=6, size=32, augment=Augment(crop_size=16))
    module = RestorationDataModule(train=data, batch_size=6, seed=3)
    loader = module.train_dataloader()
    assert isinstance(loader.sampler, EpochShuffleSampler)

    def epoch(number: int) -> tuple[list[str], torch.Tensor]:
        loader.sampler.set_epoch(number)  # what Lightning does before each training epoch
        batch = next(iter(loader))
        return batch["key"], batch["gt"]

    keys0, gt0 = epoch(0)
    keys1, gt1 = epoch(1)
    assert sorted(keys0) == sorted(keys1) and keys0 != keys1
    by_key0, by_key1 = dict(zip(keys0, gt0)), dict(zip(keys1, gt1))
    assert any(not torch.equal(by_key0[k], by_key1[k]) for k in keys0)  # new crops / flips each epoch
    assert data.augment.epoch == 1
    again_keys, again_gt = epoch(0)
    assert again_keys == keys0 and torch.equal(again_gt, gt0)


def test_rejects_bad_settings():
    with pytest.raises(ValueError, match="batch_size >= 1"):
        RestorationDataModule(batch_size=0)


def _compose(name: str, data_dir: Path):
    root = OmegaConf.create(
        {"seed": 5, "paths": {"data_dir": str(data_dir), "carphone": str(asset_path("carphone"))}}
    )
    root.data = OmegaConf.load(CONF_DATA / f"{name}.yaml")
    return root


def test_every_dataset_has_a_config():
    assert {path.stem for path in CONF_DATA.glob("*.yaml")} >= EXPECTED_CONFIGS


@pytest.mark.parametrize("name", sorted(EXPECTED_CONFIGS))
def test_config_instantiates_and_yields_batches(name, tiny_data_dir):
    cfg = _compose(name, tiny_data_dir)
    if name == "vimeo90k_triplet":  # the tiny list has 4 entries: hold out one
        cfg.data.train.val_fraction = cfg.data.val.val_fraction = 0.25
    if name in ("vimeo90k_triplet", "vimeo90k_septuplet", "reds"):  # tiny 32x32 frames
        cfg.data.train.augment.crop_size = 16
    if name == "reds":
        cfg.data.train.num_frames = 2
    if name.startswith("video_"):  # keep carphone decoding short
        cfg.data.train.count = 12
        cfg.data.val.count = cfg.data.test.count = 6
    cfg.data.num_workers = 0
    module = hydra.utils.instantiate(cfg.data)
    assert isinstance(module, RestorationDataModule)
    assert module.has_test() or module.has_val()
    if module.has_train():
        assert module.train_set.augment is not None and module.train_set.augment.seed == 5
        assert module.train_set.augment is not getattr(module.val_set, "augment", None)
        next(iter(module.train_dataloader()))
    for loader in (module.val_dataloader(), module.test_dataloader()):
        if loader != []:
            batch = next(iter(loader))
            assert isinstance(batch["key"], list) and ("lq" in batch or "img0" in batch)


def test_epoch_reaches_every_concatenated_dataset():
    parts = [SyntheticClips("vfi", 3, 32, seed=s, augment=Augment(crop_size=16)) for s in (1, 2)]
    mixed = torch.utils.data.ConcatDataset([parts[0], torch.utils.data.Subset(parts[1], [0, 2])])
    loader = RestorationDataModule(train=mixed, batch_size=5).train_dataloader()
    loader.sampler.set_epoch(4)
    assert [p.augment.epoch for p in parts] == [4, 4]


def test_a_resumed_run_starts_its_workers_in_the_resumed_epoch():
    # Resuming, Lightning starts the first iterator before it sets the sampler's epoch, and loader
    # workers copy the dataset then: the module sets the epoch it is about to run when it builds the loader.
    progress = SimpleNamespace(current=SimpleNamespace(processed=3))  # the path Lightning keeps it at
    resumed_trainer = SimpleNamespace(fit_loop=SimpleNamespace(epoch_progress=progress))

    def first_batch(module: RestorationDataModule) -> dict:
        return next(iter(module.train_dataloader()))

    def data() -> SyntheticClips:
        return SyntheticClips("vfi", num_samples=4, size=32, augment=Augment(crop_size=16))

    resumed = RestorationDataModule(train=data(), batch_size=4, num_workers=2, seed=3)
    resumed.trainer = resumed_trainer
    fresh = RestorationDataModule(train=data(), batch_size=4, seed=3)
    loader = fresh.train_dataloader()
    loader.sampler.set_epoch(3)
    expected, got = next(iter(loader)), first_batch(resumed)
    assert got["key"] == expected["key"] and torch.equal(got["gt"], expected["gt"])
    assert first_batch(RestorationDataModule(train=data(), batch_size=4, seed=3))["key"] != expected["key"]


def test_ddp_evaluation_visits_every_item_exactly_once():
    # torch's DistributedSampler would pad 5 items to 6 over 2 ranks, counting one clip twice.
    val = SyntheticClips("vfi", num_samples=5, size=32)
    keys: list[str] = []
    for rank in (0, 1):
        module = RestorationDataModule(val=val, test=val)
        module.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        loader = module.val_dataloader()
        assert isinstance(
            loader.sampler, UnpaddedDistributedSampler
        )  # a DistributedSampler: Lightning keeps it
        assert len(loader) == (3, 2)[rank]
        keys += [key for batch in loader for key in batch["key"]]
        assert len(module.test_dataloader()) == (3, 2)[rank]
    assert sorted(keys) == sorted(val[i]["key"] for i in range(5))

    single = RestorationDataModule(val=val)
    single.trainer = SimpleNamespace(world_size=1, global_rank=0)
    assert not isinstance(single.val_dataloader().sampler, UnpaddedDistributedSampler)
    with pytest.raises(ValueError, match="has 1 items, fewer than the 2 DDP ranks"):
        UnpaddedDistributedSampler(SyntheticClips("vfi", num_samples=1, size=32), num_replicas=2, rank=0)


def test_datasets_with_and_without_augmentation_collate_together():
    # Every sample of a task has the same keys (the augmentation record, the clip name), so a mixed
    # training set of augmented and plain datasets still collates.
    from torch.utils.data import ConcatDataset, DataLoader

    for task, frames in (("vfi", {}), ("vsr", {"num_frames": 3})):
        plain = SyntheticClips(task, num_samples=2, size=32, **frames)
        augmented = SyntheticClips(
            task, num_samples=2, size=32, augment=Augment(crop_size=32), seed=1, **frames
        )
        batch = next(iter(DataLoader(ConcatDataset([plain, augmented]), batch_size=4)))
        if task == "vfi":
            assert batch["augment"].shape == (4, 6) and not batch["augment"][:2].any()
        else:
            assert batch["clip"] == batch["key"]  # whole clips: each its own
