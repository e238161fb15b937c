"""Split one labelled dataset among simulated clients.

Every partitioner is a pure function of the labels (or sample count) and a seeded NumPy
``Generator``: the same seed gives the same partition. The result is a :class:`Partition`, two
flat int64 arrays in the compressed-sparse-row layout, so 10,000 clients cost two arrays, not
10,000 Python objects::

    order   = [ 4  9  0 | 7  2 | 1  3  8  5 ]   sample indices, grouped by client
    offsets = [ 0        3     5           9 ]   client c holds order[offsets[c]:offsets[c + 1]]

The built-in partitioners list each client's indices in ascending order (cache-friendly gathers;
local trainers shuffle per epoch anyway). A partition may hold only some samples (a test split).

- :func:`partition_iid`: a random permutation cut into near-equal parts.
- :func:`partition_dirichlet`: label skew of Hsu et al. 2019.
- :func:`partition_shards`: the pathological non-IID split of McMahan et al. 2017.
- :func:`partition_natural`: one client per distinct value of a client-id column.
- :func:`train_test_split_per_client`: each client's own samples split into train and test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Partition",
    "partition_dirichlet",
    "partition_iid",
    "partition_natural",
    "partition_shards",
    "train_test_split_per_client",
]

IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Partition:
    """Which samples each client holds: client ``c`` holds ``order[offsets[c]:offsets[c + 1]]``.

    Both arrays are stored as read-only int64 views; ``offsets`` starts at 0, never decreases and
    ends at ``len(order)``.
    """

    order: IntArray
    offsets: IntArray

    def __post_init__(self) -> None:
        order = _read_only(self.order, "order")
        offsets = _read_only(self.offsets, "offsets")
        if offsets.size < 1 or offsets[0] != 0 or offsets[-1] != order.size:
            raise ValueError(
                f"offsets must start at 0 and end at len(order) = {order.size}, got "
                f"{offsets[:1].tolist()} ... {offsets[-1:].tolist()}; build partitions with "
                f"Partition.from_assignment or the partition_* functions"
            )
        if np.any(np.diff(offsets) < 0):
            raise ValueError("offsets must never decrease: a client cannot have a negative size")
        if order.size and order.min() < 0:
            raise ValueError(f"order holds sample indices, which must be >= 0, got {order.min()}")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "offsets", offsets)

    @classmethod
    def from_assignment(cls, client_of_sample: ArrayLike, num_clients: int) -> Partition:
        """The partition in which sample ``i`` belongs to client ``client_of_sample[i]``.

        A negative entry leaves that sample out. Indices within each client come out ascending.
        """
        assignment = np.asarray(client_of_sample, dtype=np.int64)
        if assignment.ndim != 1:
            raise ValueError(
                f"client_of_sample must be 1-D (one client id per sample), got shape "
                f"{assignment.shape}"
            )
        _check_count("num_clients", num_clients)
        if assignment.size and assignment.max() >= num_clients:
            raise ValueError(
                f"client_of_sample holds client {assignment.max()}, but num_clients is "
                f"{num_clients}; client ids must lie in [0, num_clients)"
            )
        kept = np.flatnonzero(assignment >= 0)
        order = kept[np.argsort(assignment[kept], kind="stable")]
        counts = np.bincount(assignment[kept], minlength=num_clients)
        return cls(order, _offsets_from_counts(counts))

    @property
    def num_clients(self) -> int:
        """The number of clients (some may hold no samples)."""
        return int(self.offsets.size - 1)

    @property
    def num_samples(self) -> int:
        """The number of samples held by all clients together."""
        return int(self.order.size)

    def sizes(self) -> IntArray:
        """The number of samples of each client, as an int64 array of length ``num_clients``."""
        return np.diff(self.offsets)

    def client_indices(self, cid: int) -> IntArray:
        """The sample indices held by client ``cid`` (a read-only view, no copy)."""
        if not 0 <= cid < self.num_clients:
            raise IndexError(
                f"client id {cid} is out of range: this partition has {self.num_clients} "
                f"clients, ids 0 to {self.num_clients - 1}"
            )
        return self.order[self.offsets[cid] : self.offsets[cid + 1]]

    def client_of_position(self) -> IntArray:
        """For each entry of ``order``, the client that holds it."""
        return np.repeat(np.arange(self.num_clients, dtype=np.int64), self.sizes())


def partition_iid(n_samples: int, num_clients: int, rng: np.random.Generator | int) -> Partition:
    """Shuffle the samples and cut them into ``num_clients`` parts whose sizes differ by <= 1.

    The IID baseline of McMahan et al. 2017 ("Communication-Efficient Learning of Deep Networks
    from Decentralized Data", arXiv 1602.05629).
    """
    _check_count("n_samples", n_samples)
    _check_clients(num_clients, n_samples)
    generator = _as_generator(rng)
    bounds = np.arange(num_clients + 1, dtype=np.int64) * n_samples // num_clients
    assignment = np.empty(n_samples, dtype=np.int64)
    assignment[generator.permutation(n_samples)] = np.repeat(
        np.arange(num_clients, dtype=np.int64), np.diff(bounds)
    )
    return Partition.from_assignment(assignment, num_clients)


def partition_dirichlet(
    labels: ArrayLike,
    num_clients: int,
    alpha: float,
    rng: np.random.Generator | int,
    *,
    min_size: int = 10,
    max_tries: int = 1000,
) -> Partition:
    """Label skew: each class is split among the clients in proportions drawn from Dir(alpha).

    Hsu, Qi and Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for
    Federated Visual Classification" (arXiv 1909.06335). Small ``alpha`` (0.1) gives each client
    few classes; large ``alpha`` (100) approaches IID. As in the NIID-Bench code of Li et al.
    2022 (arXiv 2102.02079), the draw is repeated until every client holds at least ``min_size``
    samples (default 10, theirs), at most ``max_tries`` times.
    """
    classes = _class_indices(labels)
    n_samples = classes.size
    _check_clients(num_clients, n_samples)
    if not alpha > 0 or not np.isfinite(alpha):
        raise ValueError(
            f"alpha must be a finite number > 0, got {alpha}; use e.g. 0.1 for strong label "
            f"skew, 100 for nearly IID clients"
        )
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}; pass 0 to allow empty clients")
    if min_size * num_clients > n_samples:
        raise ValueError(
            f"min_size={min_size} for {num_clients} clients needs {min_size * num_clients} "
            f"samples but the labels have {n_samples}; lower min_size or num_clients"
        )
    _check_count("max_tries", max_tries)
    generator = _as_generator(rng)
    num_classes = int(classes.max()) + 1
    # Shuffle once: class c's samples, in a random order, are dealt out by the proportions.
    by_class = generator.permutation(n_samples)
    by_class = by_class[np.argsort(classes[by_class], kind="stable")]
    class_sizes = np.bincount(classes, minlength=num_classes)
    for _ in range(max_tries):
        proportions = generator.dirichlet(np.full(num_clients, float(alpha)), size=num_classes)
        if not np.all(np.isfinite(proportions)):
            continue  # tiny alpha can underflow to 0/0: treat as a failed draw
        counts = _split_counts(proportions, class_sizes)  # (num_classes, num_clients)
        if counts.sum(axis=0).min() >= min_size:
            break
    else:
        raise ValueError(
            f"partition_dirichlet: after {max_tries} draws with alpha={alpha}, some client "
            f"still held fewer than min_size={min_size} samples ({n_samples} samples, "
            f"{num_clients} clients); raise alpha, lower num_clients or min_size, or raise "
            f"max_tries"
        )
    clients = np.tile(np.arange(num_clients, dtype=np.int64), num_classes)
    assignment = np.empty(n_samples, dtype=np.int64)
    assignment[by_class] = np.repeat(clients, counts.ravel())
    return Partition.from_assignment(assignment, num_clients)


def partition_shards(
    labels: ArrayLike, num_clients: int, shards_per_client: int, rng: np.random.Generator | int
) -> Partition:
    """Sort by label, cut into ``num_clients * shards_per_client`` shards, deal k to each client.

    The pathological non-IID split of McMahan et al. 2017 (arXiv 1602.05629, section 3: MNIST
    sorted by digit, 200 shards of 300, two per client). Samples of one label are shuffled before
    the cut, so shards do not depend on the file's order; shard sizes differ by at most one. A
    client holds at most ``shards_per_client`` labels when shards are no larger than the smallest
    class, and at most ``2 * shards_per_client`` when no shard spans more than two labels.
    """
    classes = _class_indices(labels)
    n_samples = classes.size
    _check_count("shards_per_client", shards_per_client)
    _check_clients(num_clients, n_samples)
    num_shards = num_clients * shards_per_client
    if num_shards > n_samples:
        raise ValueError(
            f"{num_clients} clients x {shards_per_client} shards = {num_shards} shards, more "
            f"than the {n_samples} samples; lower num_clients or shards_per_client"
        )
    generator = _as_generator(rng)
    shuffled = generator.permutation(n_samples)
    by_label = shuffled[np.argsort(classes[shuffled], kind="stable")]
    bounds = np.arange(num_shards + 1, dtype=np.int64) * n_samples // num_shards
    client_of_shard = np.empty(num_shards, dtype=np.int64)
    client_of_shard[generator.permutation(num_shards)] = (
        np.arange(num_shards, dtype=np.int64) // shards_per_client
    )
    assignment = np.empty(n_samples, dtype=np.int64)
    assignment[by_label] = np.repeat(client_of_shard, np.diff(bounds))
    return Partition.from_assignment(assignment, num_clients)


def partition_natural(client_ids: ArrayLike) -> Partition:
    """One client per distinct value of ``client_ids`` (a writer, a device, a user), in sorted
    id order: client ``c`` is ``np.unique(client_ids)[c]``."""
    ids = np.asarray(client_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(
            f"client_ids must be a non-empty 1-D column (one id per sample), got shape {ids.shape}"
        )
    _, inverse = np.unique(ids, return_inverse=True)
    inverse = inverse.reshape(-1)  # numpy 2.0.x returned the input's shape here
    return Partition.from_assignment(inverse, int(inverse.max()) + 1)


def train_test_split_per_client(
    partition: Partition, test_fraction: float, rng: np.random.Generator | int
) -> tuple[Partition, Partition]:
    """Split each client's own samples into a train and a test partition with the same clients.

    A client of size ``s >= 2`` keeps ``s * test_fraction`` test samples (rounded half up), clipped to
    ``[1, s - 1]`` so both sides are non-empty; a client of one sample keeps it for training.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"test_fraction must lie strictly between 0 and 1, got {test_fraction}; "
            f"e.g. 0.2 keeps a fifth of each client's samples for testing"
        )
    generator = _as_generator(rng)
    sizes = partition.sizes()
    num_test = np.floor(sizes * test_fraction + 0.5).astype(np.int64)
    num_test = np.where(sizes >= 2, np.clip(num_test, 1, np.maximum(sizes - 1, 1)), 0)
    client = partition.client_of_position()
    # Rank each client's samples by a random key; the lowest num_test ranks go to test.
    by_client_then_key = np.lexsort((generator.random(partition.num_samples), client))
    rank = np.arange(partition.num_samples, dtype=np.int64) - partition.offsets[client]
    is_test = np.empty(partition.num_samples, dtype=bool)
    is_test[by_client_then_key] = rank < num_test[client]
    train = Partition(partition.order[~is_test], _offsets_from_counts(sizes - num_test))
    test = Partition(partition.order[is_test], _offsets_from_counts(num_test))
    return train, test


def _as_generator(rng: np.random.Generator | int) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy Generator or an int seed, got {type(rng).__name__}; "
        f"pass np.random.default_rng(seed) or the seed itself"
    )


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_clients(num_clients: int, n_samples: int) -> None:
    _check_count("num_clients", num_clients)
    if num_clients > n_samples:
        raise ValueError(
            f"num_clients={num_clients} is more than the {n_samples} samples: some clients "
            f"would hold nothing; pass num_clients <= {n_samples}"
        )


def _class_indices(labels: ArrayLike) -> IntArray:
    """Labels as class indices 0..K-1 (in sorted label order), validated."""
    values = np.asarray(labels)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {values.shape}")
    if values.dtype.kind not in "biuU":
        raise ValueError(
            f"labels must be class labels (integers or strings), got dtype {values.dtype}; "
            f"for regression targets use partition_iid"
        )
    _, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64, copy=False)


def _split_counts(proportions: NDArray[np.float64], class_sizes: IntArray) -> IntArray:
    """Cut each class's ``n_c`` samples at ``floor(cumsum(p) * n_c)``: counts per (class, client)."""
    cuts = np.floor(np.cumsum(proportions, axis=1) * class_sizes[:, None]).astype(np.int64)
    cuts = np.minimum(cuts, class_sizes[:, None])
    cuts[:, -1] = class_sizes  # the cumulative sum may end at 0.9999...
    return np.diff(cuts, axis=1, prepend=0)


def _offsets_from_counts(counts: IntArray) -> IntArray:
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _read_only(values: ArrayLike, name: str) -> IntArray:
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D integer array, got {array.dtype} {array.shape}")
    view: IntArray = array.astype(np.int64, copy=False).view()
    view.flags.writeable = False  # a view: the caller's own array stays writeable
    return view
