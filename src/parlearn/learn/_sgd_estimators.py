"""``SGDClassifier`` and ``SGDRegressor``: mini-batch local SGD on parallel workers, on arrays
in memory, on chunked sources larger than memory, and one batch at a time (``partial_fit``).

::

    fit(X, y)            X in shared memory once ─┐
    fit(source)          chunks read ahead by a   ├─► LocalSGD.epoch on a pool where
                         thread, each copied into │   run_replica is resident ─► weights
                         a reused shared buffer ──┘   (stops on scikit-learn's tol rule)
    partial_fit(X, y)    one epoch over X, continuing from the current weights
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from parlearn import parallel
from parlearn.learn._base import (
    FLOAT_DTYPES,
    LinearClassifierMixin,
    LinearPredictorMixin,
    check_nonnegative,
    check_numeric_targets,
    check_sample_weight,
    validate_fit_data,
)
from parlearn.learn._blocks import assert_finite, keep_shared, placed
from parlearn.learn._execution import BlockExecutor, check_workers, resolve_backend
from parlearn.learn._local_sgd import Chunk, EpochResult, LocalSGD, SGDState, run_replica
from parlearn.learn._logistic import class_weights
from parlearn.learn._prefetch import prefetch
from parlearn.learn._sgd import (
    LOSS_CURVATURE,
    SGDSettings,
    auto_batch_size,
    largest_eigenvalue,
    optimal_t0,
)
from parlearn.learn.sources import ArraySource, Source

__all__ = ["SGDClassifier", "SGDRegressor"]

Array = NDArray[Any]
CLASSIFIER_LOSSES = ("hinge", "log_loss", "squared_hinge", "modified_huber")
REGRESSOR_LOSSES = ("squared_error", "huber", "epsilon_insensitive")
PENALTIES = ("l2", "l1", "elasticnet", None)
LEARNING_RATES = ("optimal", "constant", "invscaling")
# Rows of the first data seen that estimate the largest eigenvalue behind the step limit.
EIGENVALUE_ROWS = 8192


class _ChunkBuffers:
    """Shared-memory buffers that chunks are copied into, reused (grown when needed), so
    process workers read every chunk without another copy."""

    def __init__(self) -> None:
        self._arrays: dict[str, parallel.SharedArray] = {}

    def put(self, name: str, values: Array) -> Array:
        buffer = self._arrays.get(name)
        if (
            buffer is None
            or len(buffer) < len(values)
            or buffer.shape[1:] != values.shape[1:]
            or (buffer.dtype != values.dtype)
        ):
            if buffer is not None:
                buffer.close()
            buffer = self._arrays[name] = parallel.shared_empty(values.shape, values.dtype)
        view = buffer[: len(values)]
        np.copyto(view, values)
        return view

    def close(self) -> None:
        for buffer in self._arrays.values():
            buffer.close()
        self._arrays.clear()


class _BaseSGD(BaseEstimator):
    """Parameters, checks and the training loop shared by the two estimators."""

    _losses: tuple[str, ...] = ()
    loss: str
    penalty: str | None
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    shuffle: bool
    random_state: Any
    learning_rate: str
    eta0: float
    power_t: float
    epsilon: float
    batch_size: int | str
    replicas: int
    average_every: int
    workers: int | None
    backend: str
    coef_: Array
    intercept_: Array
    _state: SGDState | None

    # ------------------------------------------------------------------ parameters

    def _check_params(self) -> None:
        if self.loss not in self._losses:
            raise ValueError(
                f"loss must be one of {', '.join(map(repr, self._losses))}, got {self.loss!r}"
            )
        if self.penalty not in PENALTIES:
            raise ValueError(
                f"penalty must be one of 'l2', 'l1', 'elasticnet' or None, got {self.penalty!r}"
            )
        check_nonnegative("alpha", self.alpha, strict=self.learning_rate == "optimal")
        ratio = check_nonnegative("l1_ratio", self.l1_ratio)
        if ratio > 1:
            raise ValueError(f"l1_ratio must be in [0, 1], got {self.l1_ratio!r}")
        for name in ("max_iter", "n_iter_no_change", "replicas", "average_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.tol is not None:
            check_nonnegative("tol", self.tol)
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(
                f"learning_rate must be one of {', '.join(map(repr, LEARNING_RATES))}, got "
                f"{self.learning_rate!r}"
            )
        if self.learning_rate != "optimal":
            check_nonnegative("eta0", self.eta0, strict=True)
        check_nonnegative("power_t", self.power_t)
        check_nonnegative("epsilon", self.epsilon)
        if self.batch_size != "auto" and (
            isinstance(self.batch_size, bool)
            or not isinstance(self.batch_size, int)
            or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be 'auto' or an int >= 1, got {self.batch_size!r}")
        check_workers(self.workers)

    def _settings(self, sample: Array) -> SGDSettings:
        """The step rule, with the step limit estimated on ``sample`` (the first rows)."""
        n_features = sample.shape[1]
        batch = auto_batch_size(n_features) if self.batch_size == "auto" else int(self.batch_size)
        alpha = 0.0 if self.penalty is None else float(self.alpha)
        ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": float(self.l1_ratio), None: 0.0}[self.penalty]
        param = float(self.epsilon)
        lam = largest_eigenvalue(sample[:EIGENVALUE_ROWS], bool(self.fit_intercept))
        spread = (1.0 + math.sqrt(n_features / batch)) ** 2
        return SGDSettings(
            loss=self.loss,
            loss_param=param,
            alpha=alpha,
            l1_ratio=ratio,
            learning_rate=self.learning_rate,
            eta0=float(self.eta0),
            power_t=float(self.power_t),
            t0=optimal_t0(self.loss, param, float(self.alpha)) if self.alpha > 0 else 1.0,
            max_step=1.0 / (LOSS_CURVATURE[self.loss] * lam * spread),
            batch_size=batch,
            fit_intercept=bool(self.fit_intercept),
        )

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    # ------------------------------------------------------------------ hooks

    def _outputs(self) -> int:
        raise NotImplementedError

    def _encode(self, y: Array, dtype: Any) -> Array:
        """Targets as the loss reads them (+-1 per class, or real values)."""
        raise NotImplementedError

    def _store(self, state: SGDState, dtype: Any) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ training

    def _new_state(self, n_features: int) -> SGDState:
        k = self._outputs()
        shape: tuple[int, ...] = (n_features,) if k == 1 else (n_features, k)
        return SGDState(np.zeros(shape), np.zeros(() if k == 1 else (k,)))

    @contextlib.contextmanager
    def _pool(self, data_bytes: int) -> Iterator[BlockExecutor]:
        name, count = resolve_backend(
            self.backend, self.workers, data_bytes, parallel_backend="threads"
        )
        with BlockExecutor(run_replica, name, count) as run:
            self.backend_, self.workers_ = run.backend, run.workers
            yield run

    def _epochs(
        self, trainer: LocalSGD, state: SGDState, epoch_chunks: Any, first_epoch: int = 0
    ) -> int:
        """Epochs until scikit-learn's stopping rule holds (the epoch's mean training loss
        has not dropped by ``tol`` below the best for ``n_iter_no_change`` epochs) or
        ``max_iter``; returns the epochs run."""
        best = math.inf
        stalled = 0
        for epoch in range(self.max_iter):
            result: EpochResult = trainer.epoch(epoch_chunks(), state, first_epoch + epoch)
            self.loss_ = result.mean_loss
            if self.tol is not None:
                stalled = stalled + 1 if result.mean_loss > best - self.tol else 0
                best = min(best, result.mean_loss)
                if stalled >= self.n_iter_no_change:
                    return epoch + 1
        if self.tol is not None and self.max_iter > 1:
            warnings.warn(
                f"Maximum number of iterations ({self.max_iter}) reached before convergence; "
                "increase max_iter to improve the fit",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self.max_iter

    def _trainer(self, run: BlockExecutor, settings: SGDSettings, seed: int) -> LocalSGD:
        return LocalSGD(
            run,
            settings,
            replicas=self.replicas,
            average_every=self.average_every,
            seed=seed,
            shuffle=bool(self.shuffle),
        )

    def _fit_arrays(self, X: Array, targets: Array, weights: Array | None) -> None:
        state = self._new_state(X.shape[1])
        seed = self._partial_seed = self._seed()  # later partial_fit calls continue with it
        with (
            self._pool(X.nbytes) as run,
            placed(run.backend, X, targets, weights, check_finite="X") as (Xs, Ts, Ws),
        ):
            settings = self._settings(X)
            trainer = self._trainer(run, settings, seed)
            epochs = self._epochs(trainer, state, lambda: [Chunk(Xs, Ts, Ws)])
        self._finish(state, settings, epochs, X.dtype)

    def _fit_source(self, source: Source) -> None:
        self.n_features_in_ = source.n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        state = self._new_state(source.n_features)
        seed = self._partial_seed = self._seed()
        first = next(iter(source.chunks()), None)
        if first is None:
            raise ValueError("the source holds no rows; a model needs at least one sample")
        assert_finite(first[0], "X")
        settings = self._settings(np.asarray(first[0][:EIGENVALUE_ROWS], dtype=np.float64))
        chunk_bytes = first[0].nbytes
        del first
        buffers = _ChunkBuffers()

        def chunks() -> Iterator[Chunk]:
            for X, y in prefetch(source.chunks()):
                assert_finite(X, "X")
                targets = self._encode(y, X.dtype)
                if shared:
                    yield Chunk(buffers.put("X", X), buffers.put("y", targets))
                else:
                    yield Chunk(X, targets)

        try:
            with self._pool(chunk_bytes * 4) as run:
                shared = run.backend == "processes"
                trainer = self._trainer(run, settings, seed)
                epochs = self._epochs(trainer, state, chunks)
        finally:
            buffers.close()
        self._finish(state, settings, epochs, source.dtype)

    def _finish(self, state: SGDState, settings: SGDSettings, epochs: int, dtype: Any) -> None:
        self.n_iter_ = epochs
        self.t_ = state.t + 1.0
        self.step_limit_ = settings.max_step
        self._state = state
        self._settings_fitted = settings
        self._store(state, dtype)

    def _partial(self, X: Array, targets: Array, weights: Array | None) -> None:
        assert_finite(X, "X")
        state: SGDState | None = getattr(self, "_state", None)
        if state is None:
            state = self._new_state(X.shape[1])
            self._settings_fitted = self._settings(X)
            self.n_iter_ = 0
            self._partial_seed = self._seed()
        settings: SGDSettings = self._settings_fitted
        with (
            self._pool(X.nbytes) as run,
            placed(run.backend, X, targets, weights, check_finite="X") as (Xs, Ts, Ws),
        ):
            trainer = self._trainer(run, settings, self._partial_seed)
            result = trainer.epoch([Chunk(Xs, Ts, Ws)], state, self.n_iter_)
        self.loss_ = result.mean_loss
        self._finish(state, settings, self.n_iter_ + 1, X.dtype)


_SHARED_DOC = """
    Parameters (as scikit-learn's, plus the parallel ones)
    ----------
    loss, penalty (``"l2"``, ``"l1"``, ``"elasticnet"``, None), alpha, l1_ratio,
    fit_intercept, max_iter (epochs), tol (None: run max_iter epochs), n_iter_no_change,
    shuffle, random_state (an int gives the same model on every run and any worker count),
    learning_rate (``"optimal"``, ``"invscaling"``, ``"constant"``), eta0, power_t, epsilon
    (for ``huber``, ``epsilon_insensitive``).
    batch_size : rows per step; ``"auto"``: 65536 // n_features, between 32 and 4096.
    replicas : models trained side by side and averaged (local SGD); fixed, so the model does
        not depend on the workers. Each replica sees 1/replicas of every epoch.
    average_every : local steps between two averages.
    workers : worker count; None for every core.
    backend : ``"auto"`` (the calling process for data under 32 MiB, else ``"threads"``: a
        batch is a few NumPy calls on ~65,000 numbers, which release the GIL, and threads need
        no copy of the data), ``"serial"``, ``"threads"``, ``"processes"`` (data in shared
        memory) or ``"ray"``.

    Steps are mini-batch steps, limited for stability (see ``parlearn/learn/_sgd.py``): the
    same parameters give a model of the same quality as scikit-learn's, not the same numbers.
"""


def _has_proba(estimator: Any) -> bool:
    return estimator.loss in ("log_loss", "modified_huber")


class SGDClassifier(LinearClassifierMixin, ClassifierMixin, _BaseSGD):
    __doc__ = (
        """Linear classification by mini-batch SGD on parallel workers (local SGD, Stich 2018),
    one-vs-rest for more than two classes, on arrays, chunked sources and in
    ``partial_fit`` batches.
"""
        + _SHARED_DOC
        + """
    Attributes: ``classes_``, ``coef_`` (1 or n_classes, n_features), ``intercept_``,
    ``n_iter_`` (epochs), ``t_``, ``loss_`` (last epoch's mean training loss),
    ``step_limit_``, ``n_features_in_``, ``backend_``, ``workers_``.
    """
    )

    _losses = CLASSIFIER_LOSSES

    def __init__(
        self,
        loss: str = "hinge",
        *,
        penalty: str | None = "l2",
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        n_iter_no_change: int = 5,
        shuffle: bool = True,
        random_state: Any = None,
        learning_rate: str = "optimal",
        eta0: float = 0.01,
        power_t: float = 0.5,
        epsilon: float = 0.1,
        class_weight: Any = None,
        batch_size: int | str = "auto",
        replicas: int = 8,
        average_every: int = 64,
        workers: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.epsilon = epsilon
        self.class_weight = class_weight
        self.batch_size = batch_size
        self.replicas = replicas
        self.average_every = average_every
        self.workers = workers
        self.backend = backend

    def _outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _encode(self, y: Array, dtype: Any) -> Array:
        y = np.asarray(y)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(
                f"the data holds label(s) {np.unique(y[unknown])[:5].tolist()} that are not "
                f"among the classes {self.classes_.tolist()}; pass every label in classes="
            )
        if len(self.classes_) == 2:
            return np.where(index == 1, 1, -1).astype(dtype)
        out: Array = np.where(index[:, None] == np.arange(len(self.classes_)), 1, -1).astype(dtype)
        return out

    def _store(self, state: SGDState, dtype: Any) -> None:
        k = self._outputs()
        self.coef_ = np.asarray(state.coef, dtype=dtype).T.reshape(k, -1).copy()
        self.intercept_ = np.asarray(state.intercept, dtype=dtype).reshape(k).copy()

    def fit(
        self, X: Any, y: Any = None, sample_weight: Any = None, *, classes: Any = None
    ) -> SGDClassifier:
        """Fit on ``X`` and labels ``y``, or on a chunked source (``y`` None; ``classes``
        skips the pass that finds the labels), or on an ``np.memmap`` ``X`` in chunks."""
        self._check_params()
        self._state = None
        if isinstance(X, (Source, np.memmap)):
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with chunked sources")
            if self.class_weight == "balanced":
                raise ValueError(
                    "class_weight='balanced' needs all the labels in memory; pass a dict of "
                    "class weights with a chunked source"
                )
            if self.class_weight is not None:
                raise ValueError("class_weight is not supported with chunked sources yet")
            source = _as_source(X, y)
            labels = np.asarray(source.labels() if classes is None else classes)
            self.classes_ = _check_classes(np.unique(labels))
            self._fit_source(source)
            return self
        X, y = validate_fit_data(self, X, y, classifier=True)
        self.classes_ = _check_classes(np.unique(y) if classes is None else np.unique(classes))
        targets = self._encode(y, X.dtype)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        weights = class_weights(self.class_weight, y, weights, X.dtype)
        self._fit_arrays(X, targets, weights)
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> SGDClassifier:
        """One epoch over ``X``, ``y``, continuing from the current model. ``classes`` (every
        label the model will ever see) is required on the first call."""
        self._check_params()
        first = getattr(self, "_state", None) is None
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every label the "
                "model will see, e.g. classes=np.unique(y_all)"
            )
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit; pass a dict of "
                "class weights, or weigh samples with sample_weight"
            )
        original = X
        X, y = validate_data(self, X, y, reset=first, dtype=FLOAT_DTYPES, order="C",
                             ensure_all_finite=False)  # fmt: skip
        X = keep_shared(original, X)
        if first:
            self.classes_ = _check_classes(np.unique(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the first call's "
                f"{self.classes_.tolist()}; pass the same classes every time (or none)"
            )
        targets = self._encode(y, X.dtype)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        weights = class_weights(self.class_weight, y, weights, X.dtype)
        self._partial(X, targets, weights)
        return self

    @available_if(_has_proba)  # type: ignore[untyped-decorator,misc]
    def predict_proba(self, X: Any) -> Array:
        """Class probabilities (``log_loss``: the sigmoid of each one-vs-rest score,
        normalised; ``modified_huber``: clipped scores, as scikit-learn)."""
        scores = self._raw_scores(X)
        proba = expit(scores) if self.loss == "log_loss" else (np.clip(scores, -1, 1) + 1) / 2
        if proba.shape[1] == 1:
            return np.column_stack([1 - proba[:, 0], proba[:, 0]])
        total = proba.sum(axis=1, keepdims=True)
        uniform = total[:, 0] == 0
        proba[uniform] = 1.0
        total[uniform] = proba.shape[1]
        out: Array = proba / total
        return out

    @available_if(_has_proba)  # type: ignore[untyped-decorator,misc]
    def predict_log_proba(self, X: Any) -> Array:
        """Log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            out: Array = np.log(self.predict_proba(X))
        return out


class SGDRegressor(LinearPredictorMixin, RegressorMixin, _BaseSGD):
    __doc__ = (
        """Linear regression by mini-batch SGD on parallel workers (local SGD, Stich 2018),
    on arrays, chunked sources and in ``partial_fit`` batches.
"""
        + _SHARED_DOC
        + """
    Attributes: ``coef_`` (n_features,), ``intercept_`` (1,), ``n_iter_``, ``t_``,
    ``loss_``, ``step_limit_``, ``n_features_in_``, ``backend_``, ``workers_``.
    """
    )

    _losses = REGRESSOR_LOSSES

    def __init__(
        self,
        loss: str = "squared_error",
        *,
        penalty: str | None = "l2",
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        max_iter: int = 1000,
        tol: float | None = 1e-3,
        n_iter_no_change: int = 5,
        shuffle: bool = True,
        random_state: Any = None,
        learning_rate: str = "invscaling",
        eta0: float = 0.01,
        power_t: float = 0.25,
        epsilon: float = 0.1,
        batch_size: int | str = "auto",
        replicas: int = 8,
        average_every: int = 64,
        workers: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.epsilon = epsilon
        self.batch_size = batch_size
        self.replicas = replicas
        self.average_every = average_every
        self.workers = workers
        self.backend = backend

    def _outputs(self) -> int:
        return 1

    def _encode(self, y: Array, dtype: Any) -> Array:
        return _numeric_targets(y, dtype)

    def _store(self, state: SGDState, dtype: Any) -> None:
        self.coef_ = np.asarray(state.coef, dtype=dtype).copy()
        self.intercept_ = np.asarray(state.intercept, dtype=dtype).reshape(1).copy()

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> SGDRegressor:
        """Fit on ``X`` and targets ``y``, or on a chunked source (``y`` None), or on an
        ``np.memmap`` ``X`` in chunks."""
        self._check_params()
        self._state = None
        if isinstance(X, (Source, np.memmap)):
            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with chunked sources")
            self._fit_source(_as_source(X, y))
            return self
        X, y = validate_fit_data(self, X, y, classifier=False)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        self._fit_arrays(X, y, weights)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> SGDRegressor:
        """One epoch over ``X``, ``y``, continuing from the current model."""
        self._check_params()
        first = getattr(self, "_state", None) is None
        check_numeric_targets(self, y)
        original = X
        X, y = validate_data(self, X, y, reset=first, dtype=FLOAT_DTYPES, order="C",
                             ensure_all_finite=False, y_numeric=True)  # fmt: skip
        X = keep_shared(original, X)
        targets = _numeric_targets(y, X.dtype)
        weights = check_sample_weight(sample_weight, len(X), X.dtype)
        self._partial(X, targets, weights)
        return self

    def predict(self, X: Any) -> Array:
        """Predicted targets."""
        check_is_fitted(self, "coef_")
        out: Array = self._raw_scores(X)[:, 0]
        return out


def _as_source(X: Any, y: Any) -> Source:
    if isinstance(X, Source):
        if y is not None:
            raise ValueError("a chunked source holds its own targets; call fit(source) without y")
        return X
    if y is None:
        raise ValueError("fit(X, y) with a memory-mapped X needs y, the targets")
    return ArraySource(X, y)


def _check_classes(classes: Array) -> Array:
    if len(classes) < 2:
        raise ValueError(
            "The number of classes has to be greater than one; got "
            f"{len(classes)} class: {classes.tolist()}"
        )
    return classes


def _numeric_targets(y: Any, dtype: Any) -> Array:
    """Targets as a 1-d float array of ``dtype`` (text refused by check_numeric_targets)."""
    out: Array = np.asarray(y, dtype=dtype)
    if out.ndim != 1:
        raise ValueError(f"y must be 1-d (one target per sample), got shape {out.shape}")
    assert_all_finite(out, input_name="y")
    return out
