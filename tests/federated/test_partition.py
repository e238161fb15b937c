"""Partitioners: coverage, determinism, skew, compactness at 10,000 clients, per-client splits."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from parlearn.federated.partition import (
    Partition,
    partition_dirichlet,
    partition_iid,
    partition_natural,
    partition_shards,
    train_test_split_per_client,
)

LABELS = np.random.default_rng(123).integers(0, 10, size=2_000)

PARTITIONERS: dict[str, Callable[[int], Partition]] = {
    "iid": lambda seed: partition_iid(LABELS.size, 20, seed),
    "dirichlet": lambda seed: partition_dirichlet(LABELS, 20, 0.5, seed),
    "shards": lambda seed: partition_shards(LABELS, 20, 2, seed),
}


def assert_covers_exactly_once(partition: Partition, n_samples: int) -> None:
    assert np.array_equal(np.sort(partition.order), np.arange(n_samples))
    assert partition.sizes().sum() == n_samples == partition.num_samples
    pieces = [partition.client_indices(c) for c in range(partition.num_clients)]
    assert np.array_equal(np.sort(np.concatenate(pieces)), np.arange(n_samples))


def label_entropy(labels: np.ndarray, partition: Partition) -> float:
    """Mean over clients of the entropy (nats) of the client's label distribution."""
    entropies = []
    for cid in range(partition.num_clients):
        counts = np.bincount(labels[partition.client_indices(cid)], minlength=10)
        p = counts[counts > 0] / counts.sum()
        entropies.append(float(-(p * np.log(p)).sum()))
    return float(np.mean(entropies))


@pytest.mark.parametrize("kind", sorted(PARTITIONERS))
def test_partition_covers_every_sample_once(kind: str) -> None:
    partition = PARTITIONERS[kind](0)
    assert partition.num_clients == 20
    assert_covers_exactly_once(partition, LABELS.size)
    assert (partition.sizes() > 0).all()


@pytest.mark.parametrize("kind", sorted(PARTITIONERS))
def test_same_seed_same_partition_other_seed_differs(kind: str) -> None:
    first, again, other = PARTITIONERS[kind](7), PARTITIONERS[kind](7), PARTITIONERS[kind](8)
    assert np.array_equal(first.order, again.order)
    assert np.array_equal(first.offsets, again.offsets)
    assert not np.array_equal(first.order, other.order)


def test_generator_and_int_seed_agree() -> None:
    by_seed = partition_dirichlet(LABELS, 5, 1.0, 3)
    by_generator = partition_dirichlet(LABELS, 5, 1.0, np.random.default_rng(3))
    assert np.array_equal(by_seed.order, by_generator.order)


def test_iid_sizes_differ_by_at_most_one() -> None:
    sizes = partition_iid(1_003, 10, 0).sizes()
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 1_003


def test_dirichlet_skew_grows_as_alpha_shrinks() -> None:
    skewed = partition_dirichlet(LABELS, 10, 0.1, 0)
    nearly_iid = partition_dirichlet(LABELS, 10, 100.0, 0)
    assert label_entropy(LABELS, skewed) < label_entropy(LABELS, nearly_iid) - 0.5
    assert label_entropy(LABELS, nearly_iid) > 0.95 * np.log(10)


def test_dirichlet_respects_min_size() -> None:
    partition = partition_dirichlet(LABELS, 20, 1.0, 0, min_size=50)
    assert partition.sizes().min() >= 50
    assert_covers_exactly_once(partition, LABELS.size)


def test_dirichlet_gives_up_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"after 5 draws with alpha=0.01.*raise alpha"):
        partition_dirichlet(LABELS, 150, 0.01, 0, min_size=10, max_tries=5)


def test_shards_limit_labels_per_client() -> None:
    # 2,000 samples / 40 shards = 50 per shard, smaller than any class (~200): a shard spans
    # at most 2 labels, so a client with k = 2 shards has at most 4.
    partition = partition_shards(LABELS, 20, 2, 0)
    labels_per_client = [
        np.unique(LABELS[partition.client_indices(c)]).size for c in range(partition.num_clients)
    ]
    assert max(labels_per_client) <= 2 * 2
    assert np.mean(labels_per_client) < 4  # far from the 10 labels of an IID client
    sizes = partition.sizes()
    assert sizes.max() - sizes.min() <= 2  # two shards whose sizes differ by at most 1


def test_shards_with_one_shard_per_small_class_is_one_label() -> None:
    labels = np.repeat(np.arange(5), 40)  # 5 classes of 40; 5 clients x 1 shard of 40
    partition = partition_shards(labels, 5, 1, 0)
    assert sorted(int(labels[partition.client_indices(c)][0]) for c in range(5)) == list(range(5))
    for cid in range(5):
        assert np.unique(labels[partition.client_indices(cid)]).size == 1


def test_natural_partition_one_client_per_id_in_sorted_order() -> None:
    ids = np.array([30, 10, 20, 10, 30, 30])
    partition = partition_natural(ids)
    assert partition.num_clients == 3
    assert partition.client_indices(0).tolist() == [1, 3]  # id 10
    assert partition.client_indices(1).tolist() == [2]  # id 20
    assert partition.client_indices(2).tolist() == [0, 4, 5]  # id 30
    assert_covers_exactly_once(partition, ids.size)
    assert partition_natural(np.array(["bob", "ann", "bob"])).client_indices(0).tolist() == [1]


def test_ten_thousand_clients_fast_and_compact() -> None:
    labels = np.random.default_rng(0).integers(0, 10, size=200_000)
    start = time.perf_counter()
    partitions = [
        partition_iid(labels.size, 10_000, 0),
        partition_dirichlet(labels, 10_000, 1.0, 0, min_size=1),
        partition_shards(labels, 10_000, 2, 0),
        partition_natural(np.arange(labels.size) % 10_000),
    ]
    assert time.perf_counter() - start < 10.0  # about 1 s on a laptop core
    for partition in partitions:
        assert partition.num_clients == 10_000
        # Two flat int64 arrays, no per-client objects.
        assert set(vars(partition)) == {"order", "offsets"}
        assert partition.order.dtype == np.int64 and partition.order.shape == (labels.size,)
        assert partition.offsets.dtype == np.int64 and partition.offsets.shape == (10_001,)
        assert partition.order.nbytes + partition.offsets.nbytes == 8 * (labels.size + 10_001)
        assert_covers_exactly_once(partition, labels.size)


def test_partition_arrays_are_read_only_views() -> None:
    order = np.array([2, 0, 1])
    partition = Partition(order, np.array([0, 1, 3]))
    with pytest.raises(ValueError):
        partition.order[0] = 5
    order[0] = 2  # the caller's own array stays writeable
    assert partition.client_indices(1).tolist() == [0, 1]


def test_partition_rejects_inconsistent_offsets() -> None:
    with pytest.raises(ValueError, match="end at len"):
        Partition(np.arange(3), np.array([0, 2]))
    with pytest.raises(ValueError, match="never decrease"):
        Partition(np.arange(3), np.array([0, 2, 1, 3]))
    with pytest.raises(IndexError, match="3 clients"):
        Partition(np.arange(3), np.array([0, 1, 2, 3])).client_indices(3)


def test_from_assignment_skips_negative_entries() -> None:
    partition = Partition.from_assignment([1, -1, 0, 1], num_clients=3)
    assert partition.order.tolist() == [2, 0, 3]
    assert partition.sizes().tolist() == [1, 2, 0]


def test_per_client_split_keeps_each_clients_samples() -> None:
    partition = partition_dirichlet(LABELS, 20, 0.5, 0)
    train, test = train_test_split_per_client(partition, 0.25, 0)
    assert train.num_clients == test.num_clients == partition.num_clients
    assert_covers_exactly_once(
        Partition(np.concatenate([train.order, test.order]), _stack(train, test)), LABELS.size
    )
    for cid in range(partition.num_clients):
        whole = set(partition.client_indices(cid).tolist())
        train_ids, test_ids = train.client_indices(cid), test.client_indices(cid)
        assert set(train_ids.tolist()) | set(test_ids.tolist()) == whole
        assert not set(train_ids.tolist()) & set(test_ids.tolist())
        assert test_ids.size == max(1, int(np.floor(0.25 * len(whole) + 0.5)))  # half up
    again = train_test_split_per_client(partition, 0.25, 0)
    assert np.array_equal(again[1].order, test.order)


def test_per_client_split_keeps_both_sides_non_empty() -> None:
    partition = Partition(np.arange(6), np.array([0, 1, 3, 6]))  # sizes 1, 2, 3
    train, test = train_test_split_per_client(partition, 0.9, 0)
    assert train.sizes().tolist() == [1, 1, 1]
    assert test.sizes().tolist() == [0, 1, 2]


def _stack(train: Partition, test: Partition) -> np.ndarray:
    """Offsets for train's clients followed by test's, as one partition of 2x clients."""
    return np.concatenate([train.offsets, train.offsets[-1] + test.offsets[1:]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: partition_iid(10, 0, 0), "num_clients must be an integer >= 1, got 0"),
        (lambda: partition_iid(10, 11, 0), "num_clients=11 is more than the 10 samples"),
        (lambda: partition_dirichlet(LABELS, 5, 0.0, 0), "alpha must be a finite number > 0"),
        (lambda: partition_dirichlet(LABELS, 300, 1.0, 0), "lower min_size or num_clients"),
        (lambda: partition_dirichlet(LABELS * 0.5, 5, 1.0, 0), "partition_iid"),
        (lambda: partition_shards(LABELS, 1_500, 2, 0), "3000 shards, more than the 2000"),
        (lambda: partition_shards(LABELS, 5, 0, 0), "shards_per_client must be"),
        (lambda: partition_natural(np.array([])), "non-empty 1-D"),
        (lambda: partition_iid(10, 2, np.random.RandomState(0)), "numpy Generator or an int"),
        (
            lambda: train_test_split_per_client(partition_iid(10, 2, 0), 1.0, 0),
            "strictly between 0 and 1, got 1.0",
        ),
    ],
)
def test_bad_input_names_value_and_fix(call: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()
