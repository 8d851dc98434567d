"""One LightningDataModule for every task: it wraps the train / val / test Dataset objects it is given
(Hydra builds them from ``conf/data/*.yaml``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler, Sampler, Subset


def set_dataset_epoch(dataset: Dataset, epoch: int) -> None:
    """Pass ``epoch`` to ``dataset`` and to every dataset it concatenates or wraps (``ConcatDataset``,
    ``Subset``), so that each one's augmentation draws per ``(epoch, index)``."""
    if isinstance(dataset, ConcatDataset):
        for part in dataset.datasets:
            set_dataset_epoch(part, epoch)
    elif isinstance(dataset, Subset):
        set_dataset_epoch(dataset.dataset, epoch)
    set_epoch = getattr(dataset, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)


class EpochShuffleSampler(Sampler[int]):
    """Shuffles with a generator seeded by ``(seed, epoch)`` and passes the epoch on to the dataset.

    Lightning calls ``set_epoch`` on a loader's sampler before each training epoch; forwarding it lets
    datasets seed their augmentation per ``(epoch, index)`` (see ``dynskip.data.augment``). Loader
    workers copy the dataset when an epoch's iterator starts, which is after ``set_epoch`` except when a
    run resumes: then Lightning starts the iterator first, so ``RestorationDataModule.train_dataloader``
    sets the resumed epoch itself. Workers are not persistent.
    """

    def __init__(self, dataset: Dataset, seed: int = 0) -> None:
        self.dataset, self.seed, self.epoch = dataset, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        set_dataset_epoch(self.dataset, self.epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.dataset))
        return iter(order.tolist())


class UnpaddedDistributedSampler(DistributedSampler):
    """Evaluation sampler for DDP: rank ``r`` of ``W`` gets items ``r, r + W, r + 2W, ...``, each item
    exactly once over the ranks.

    torch's ``DistributedSampler`` (which Lightning injects by default) pads the last round with
    repeated items so that every rank gets as many; the repeats then count twice in metrics synced over
    the ranks. Ranks may get one item fewer here, which is safe because evaluation syncs only at epoch
    end (torchmetrics ``compute``), not per batch. Being a ``DistributedSampler``, Lightning keeps it.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        size = len(dataset)  # type: ignore[arg-type]
        if size < num_replicas:
            # A rank without items would skip the epoch-end syncs the others wait in.
            raise ValueError(
                f"evaluation set {type(dataset).__name__} has {size} items, fewer than the {num_replicas} "
                "DDP ranks; every rank needs at least one (use fewer devices or a larger set)"
            )
        self.num_samples = len(range(rank, size, num_replicas))
        self.total_size = size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.total_size, self.num_replicas))


class RestorationDataModule(pl.LightningDataModule):
    """Loaders for the given datasets; a missing split (None) yields no loader.

    Args:
        train, val, test: Dataset objects (VSR or VFI sample dicts) or None.
        batch_size: training batch size.
        val_batch_size: val / test batch size (1 for whole clips of differing length).
        num_workers, pin_memory: DataLoader settings.
        seed: base seed of the training shuffle order.
        drop_last: drop a final incomplete training batch.
    """

    def __init__(
        self,
        train: Dataset | None = None,
        val: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1 or val_batch_size < 1 or num_workers < 0:
            raise ValueError(
                f"need batch_size >= 1, val_batch_size >= 1, num_workers >= 0; "
                f"got {batch_size}, {val_batch_size}, {num_workers}"
            )
        for name, dataset in (("train", train), ("val", val), ("test", test)):
            if dataset is not None and len(dataset) == 0:
                raise ValueError(f"the {name} dataset {type(dataset).__name__} is empty")
        self.train_set, self.val_set, self.test_set = train, val, test
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.seed, self.drop_last = seed, drop_last

    def has_train(self) -> bool:
        return self.train_set is not None

    def has_val(self) -> bool:
        return self.val_set is not None

    def has_test(self) -> bool:
        return self.test_set is not None

    def _loader(
        self, dataset: Dataset, batch_size: int, sampler: Sampler | None = None, drop_last: bool = False
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            # Pinning only helps copies to a GPU; without one torch warns on every loader.
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            drop_last=drop_last,
        )

    def train_dataloader(self) -> DataLoader:
        if self.train_set is None:
            raise RuntimeError("RestorationDataModule has no train dataset (data.train is null)")
        sampler = EpochShuffleSampler(self.train_set, self.seed)
        # The epoch Lightning is about to run (restored when resuming). Lightning sets it on the sampler
        # only after starting the first iterator of a resumed run, too late for loader workers.
        sampler.set_epoch(self._epoch_to_run())
        return self._loader(self.train_set, self.batch_size, sampler, self.drop_last)

    def _epoch_to_run(self) -> int:
        trainer = self.trainer  # None when the module is used without a Trainer
        if trainer is None:
            return 0
        return int(trainer.fit_loop.epoch_progress.current.processed)

    def _eval_loader(self, dataset: Dataset | None) -> DataLoader | list:
        if dataset is None:
            return []  # an empty list tells Lightning there is nothing to run for that stage
        trainer = self.trainer
        sampler = None
        if trainer is not None and trainer.world_size > 1:
            sampler = UnpaddedDistributedSampler(dataset, trainer.world_size, trainer.global_rank)
        return self._loader(dataset, self.val_batch_size, sampler)

    def val_dataloader(self) -> DataLoader | list:
        return self._eval_loader(self.val_set)

    def test_dataloader(self) -> DataLoader | list:
        return self._eval_loader(self.test_set)
