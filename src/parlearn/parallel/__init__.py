"""parlearn.parallel: run a function over many items, on every core or a whole cluster.

>>> from parlearn import parallel
>>> parallel.map(abs, [-1, -2, 3], backend="threads")
[1, 2, 3]

Backends: ``serial``, ``threads``, ``processes``, ``async``, ``ray``, and ``auto`` (the default),
which picks one from what the first items cost. See ``docs/parallel.md``.
"""

from parlearn.errors import (
    BrokenPoolError,
    PoolClosedError,
    SerializationError,
    TaskTimeoutError,
    WorkerCrashedError,
)
from parlearn.parallel._api import BACKENDS, Pool, Resident, imap, map, shutdown_default_pools
from parlearn.parallel._backend import Backend, cpu_count
from parlearn.parallel._results import Failure, Results
from parlearn.parallel._shm import SEGMENT_PREFIX, SharedArray, share, shared_empty, shared_zeros

__all__ = [
    "BACKENDS",
    "SEGMENT_PREFIX",
    "Backend",
    "BrokenPoolError",
    "Failure",
    "Pool",
    "PoolClosedError",
    "Resident",
    "Results",
    "SerializationError",
    "SharedArray",
    "TaskTimeoutError",
    "WorkerCrashedError",
    "cpu_count",
    "imap",
    "map",
    "share",
    "shared_empty",
    "shared_zeros",
    "shutdown_default_pools",
]
