"""Seeded mini-batch loaders for the trainer.

The order of epoch ``e`` depends only on ``(seed, e)``: a run is reproducible, and a resumed run
that calls :func:`set_loader_epoch` sees the same batches as an uninterrupted one. ``num_replicas``
and ``rank`` shard each epoch for data-parallel training (as ``DistributedSampler`` does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, TensorDataset


class EpochSampler(Sampler[int]):
    """Sample indices, reshuffled every epoch from ``(seed, epoch)``; optionally one shard of them.

    Each ``iter()`` uses the current epoch and then advances it by one, so a loader iterated once
    per epoch gets a fresh order each time without any call; :meth:`set_epoch` jumps to an epoch
    (for ``--resume``). With ``num_replicas > 1`` the index list is padded by wrapping around to a
    multiple of ``num_replicas`` and rank ``r`` takes every ``num_replicas``-th index from ``r``.
    """

    def __init__(
        self, num_samples: int, *, shuffle: bool = True, seed: int = 0, num_replicas: int = 1, rank: int = 0
    ) -> None:
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"need num_replicas >= 1 and 0 <= rank < num_replicas, got {num_replicas}, {rank}")
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce the order of ``epoch`` (0-based)."""
        self.epoch = epoch

    def indices_for_epoch(self, epoch: int) -> list[int]:
        """This shard's indices for ``epoch``, without changing the sampler's state."""
        if self.shuffle:
            seed_words = np.random.SeedSequence([self.seed, epoch]).generate_state(2)
            generator = torch.Generator().manual_seed(int(seed_words[0]) << 32 | int(seed_words[1]))
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        if self.num_replicas > 1 and order:
            total = len(self) * self.num_replicas
            order = (order * math.ceil(total / len(order)))[:total]
        return order[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        indices = self.indices_for_epoch(self.epoch)
        self.epoch += 1
        return iter(indices)

    def __len__(self) -> int:
        return math.ceil(self.num_samples / self.num_replicas)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    drop_last: bool = False,
    num_replicas: int = 1,
    rank: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of ``(features, labels)`` batches with a seeded, per-epoch order.

    ``shuffle=False`` keeps the data set order (evaluation). For a ``TensorDataset`` each batch is
    one tensor index (no per-sample collation: fast for 60000 small samples) and comes as a tuple;
    other data sets use the default collation. Use :func:`set_loader_epoch` to resume at an epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not isinstance(dataset, Sized):
        raise TypeError("make_loader needs a data set with a length")
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, num_replicas=num_replicas, rank=rank)
    generator = torch.Generator().manual_seed(seed)  # seeds worker processes, if any
    common = {"num_workers": num_workers, "pin_memory": pin_memory, "generator": generator}
    if isinstance(dataset, TensorDataset):
        batches = BatchSampler(sampler, batch_size, drop_last)
        return DataLoader(dataset, sampler=batches, batch_size=None, **common)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, **common)


def loader_sampler(loader: DataLoader) -> EpochSampler:
    """The :class:`EpochSampler` behind a loader built by :func:`make_loader`."""
    sampler = loader.sampler
    if isinstance(sampler, BatchSampler):
        sampler = sampler.sampler
    if not isinstance(sampler, EpochSampler):
        raise TypeError("loader was not built by make_loader")
    return sampler


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Make the loader's next pass produce the batches of ``epoch`` (0-based), e.g. after ``--resume``."""
    loader_sampler(loader).set_epoch(epoch)
