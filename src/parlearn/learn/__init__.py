"""parlearn.learn: scikit-learn compatible linear models trained in parallel.

>>> from parlearn.learn import LogisticRegression
>>> model = LogisticRegression(workers=2).fit(X, y)          # doctest: +SKIP

Full-batch estimators (``LogisticRegression``, ``LinearSVC``, ``Ridge``,
``LinearRegression``) compute each loss and gradient in parallel over row blocks of the data,
which stays in shared memory for the whole fit. See ``docs/learn.md``.

The estimators are imported on first use: worker processes unpickle the per-block tasks from
this package's private modules, which need NumPy only, and should not pay for importing
scikit-learn and SciPy (about a second) in every new worker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parlearn.learn._logistic import LogisticRegression
    from parlearn.learn._ridge import LinearRegression, Ridge
    from parlearn.learn._sgd_estimators import SGDClassifier, SGDRegressor
    from parlearn.learn._svm import LinearSVC
    from parlearn.learn.sources import ArraySource, CsvSource, NpySource, ParquetSource, Source

__all__ = [
    "ArraySource",
    "CsvSource",
    "LinearRegression",
    "LinearSVC",
    "LogisticRegression",
    "NpySource",
    "ParquetSource",
    "Ridge",
    "SGDClassifier",
    "SGDRegressor",
    "Source",
]

_LAZY = {
    "LogisticRegression": "parlearn.learn._logistic",
    "LinearRegression": "parlearn.learn._ridge",
    "Ridge": "parlearn.learn._ridge",
    "LinearSVC": "parlearn.learn._svm",
    "SGDClassifier": "parlearn.learn._sgd_estimators",
    "SGDRegressor": "parlearn.learn._sgd_estimators",
    "ArraySource": "parlearn.learn.sources",
    "CsvSource": "parlearn.learn.sources",
    "NpySource": "parlearn.learn.sources",
    "ParquetSource": "parlearn.learn.sources",
    "Source": "parlearn.learn.sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'parlearn.learn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
