"""Seeded loaders: every sample once per epoch, reproducible orders, resumable epochs, shards."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, TensorDataset

from imcpnn.data import make_loader, set_loader_epoch

N = 50


def _dataset() -> TensorDataset:
    return TensorDataset(torch.arange(N, dtype=torch.float32)[:, None], torch.arange(N) % 10)


def _epoch_order(loader) -> list[int]:
    return [int(v) for x, _ in loader for v in x[:, 0]]


def test_batches_cover_every_sample_once() -> None:
    loader = make_loader(_dataset(), batch_size=16, shuffle=True, seed=0)
    batches = list(loader)
    assert [len(x) for x, _ in batches] == [16, 16, 16, 2]
    assert sorted(_epoch_order(batches)) == list(range(N))
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(y, x[:, 0].long() % 10)  # features and labels stay paired
    assert [len(x) for x, _ in make_loader(_dataset(), 16, seed=0, drop_last=True)] == [16, 16, 16]


def test_same_seed_same_order_new_order_each_epoch() -> None:
    first = make_loader(_dataset(), 8, seed=3)
    second = make_loader(_dataset(), 8, seed=3)
    epoch0, epoch1 = _epoch_order(first), _epoch_order(first)
    assert epoch0 == _epoch_order(second) and epoch1 == _epoch_order(second)
    assert epoch0 != epoch1
    assert epoch0 != _epoch_order(make_loader(_dataset(), 8, seed=4))


def test_resume_at_epoch() -> None:
    loader = make_loader(_dataset(), 8, seed=3)
    orders = [_epoch_order(loader) for _ in range(3)]
    resumed = make_loader(_dataset(), 8, seed=3)
    set_loader_epoch(resumed, 2)
    assert _epoch_order(resumed) == orders[2]


def test_no_shuffle_keeps_order() -> None:
    loader = make_loader(_dataset(), 7, shuffle=False)
    assert _epoch_order(loader) == list(range(N)) == _epoch_order(loader)


def test_shards_split_each_epoch() -> None:
    shards = [make_loader(_dataset(), 5, seed=1, num_replicas=2, rank=r) for r in (0, 1)]
    orders = [_epoch_order(s) for s in shards]
    assert len(orders[0]) == len(orders[1]) == N // 2
    assert sorted(orders[0] + orders[1]) == list(range(N))


class _Squares(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(index**2)]), index


def test_generic_dataset_is_collated() -> None:
    batches = list(make_loader(_Squares(), 4, seed=0))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 1) and torch.equal(x[:, 0], (y**2).float())
