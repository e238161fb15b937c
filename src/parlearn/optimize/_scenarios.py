"""Many scenarios of one model, solved in parallel on ``parlearn.parallel``: ``solve_many``.

Two ways to describe the scenarios:

- a base :class:`Model` and one :class:`Scenario` per case (new costs, bounds, right-hand
  sides). The changes are turned into index/value arrays here; the base model travels to each
  worker once per call (once per pool with ``pool=``, where it is a resident function), and
  the worker keeps one HiGHS instance with it:

  ::

      parent: Scenario ─► _Changes (column/row indices + values) ───────────► worker
      worker: _ModelTask: HighsSolver(base arrays) built once per worker
              apply changes ─► clearSolver + run ─► Result ─► put the base values back
      parent: Result (+ scenario index, + the model's names), streamed in input order

- a function ``build(item) -> Model`` and the items (data per scenario): each worker builds
  and solves the model of its item (:class:`_BuildTask`).

A scenario that fails (bad data, a worker that dies) comes back as a ``Result`` with status
``error`` and the reason in ``message``; the others are unaffected (the engine's
``errors="collect"``). Each solve starts from scratch, so results do not depend on which
worker ran what, and each HiGHS instance uses one thread unless ``threads=`` says otherwise:
the parallelism is across scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parlearn import parallel
from parlearn.optimize._arrays import ConstraintArray, VariableArray
from parlearn.optimize._errors import ModelError
from parlearn.optimize._expr import Constraint, FloatArray, IntArray, Variable
from parlearn.optimize._model import Model, ModelArrays
from parlearn.optimize._result import Result, Status
from parlearn.optimize._solve import HighsSolver, SolveOptions

__all__ = ["Scenario", "solve_many"]

Target = Any  # Variable, VariableArray, Constraint or ConstraintArray


@dataclass(frozen=True)
class Scenario:
    """How one scenario differs from the base model. Each field maps variables or
    constraints (single or arrays) to new values (a number, or an array of their shape):

    - ``cost``: objective coefficients;
    - ``lower``, ``upper``: variable bounds;
    - ``rhs``: right-hand sides: the upper bound of ``<=`` rows, the lower bound of ``>=`` rows,
      both of ``==`` rows (ranged rows take ``row_lower`` / ``row_upper``);
    - ``row_lower``, ``row_upper``: row bounds directly.

    >>> Scenario(rhs={demand: forecast[k]}, cost={x: prices[k]})   # doctest: +SKIP
    """

    cost: Mapping[Target, Any] = field(default_factory=dict)
    lower: Mapping[Target, Any] = field(default_factory=dict)
    upper: Mapping[Target, Any] = field(default_factory=dict)
    rhs: Mapping[Target, Any] = field(default_factory=dict)
    row_lower: Mapping[Target, Any] = field(default_factory=dict)
    row_upper: Mapping[Target, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Changes:
    """A scenario as arrays: what crosses to a worker."""

    cost: tuple[IntArray, FloatArray]
    columns: tuple[IntArray, FloatArray, FloatArray]  # indices, lower, upper
    rows: tuple[IntArray, FloatArray, FloatArray]


def _columns_of(target: Target, model: Model, field_name: str) -> IntArray:
    if isinstance(target, Variable):
        indices = np.array([target.index], np.int64)
    elif isinstance(target, VariableArray):
        indices = target.indices.ravel()
    else:
        raise ModelError(
            f"Scenario.{field_name} maps variables to values; got a key of type "
            f"{type(target).__name__}"
        )
    if target.model is not model:
        raise ModelError(f"Scenario.{field_name} names variables of another model")
    return indices


def _rows_of(target: Target, model: Model, field_name: str) -> IntArray:
    if isinstance(target, Constraint | ConstraintArray) and target.model is model:
        rows = target.row if isinstance(target, Constraint) else target.rows
        if rows is not None:
            return np.atleast_1d(np.asarray(rows, np.int64)).ravel()
    raise ModelError(
        f"Scenario.{field_name} maps constraints of the base model (as returned by "
        f"add_constraint/add_constraints) to values; got {type(target).__name__}"
    )


def _values(value: Any, count: int, what: str) -> FloatArray:
    try:
        array = np.broadcast_to(np.asarray(value, np.float64).ravel(), (count,))
    except ValueError:
        raise ModelError(
            f"{what}: {np.size(value)} values for {count} entries; pass a number or one "
            "value per entry"
        ) from None
    if np.isnan(array).any():
        raise ModelError(f"{what} contains NaN")
    return np.array(array)


def _changes(scenario: Scenario | Mapping[str, Any], model: Model, base: ModelArrays) -> _Changes:
    if not isinstance(scenario, Scenario):
        try:
            scenario = Scenario(**scenario)
        except TypeError as exc:
            raise ModelError(
                f"a scenario is a Scenario or a dict with keys cost, lower, upper, rhs, "
                f"row_lower, row_upper ({exc})"
            ) from None
    cost_idx, cost_val = [], []
    for target, value in scenario.cost.items():
        idx = _columns_of(target, model, "cost")
        cost_idx.append(idx)
        cost_val.append(_values(value, len(idx), "cost"))
    col_lower, col_upper = base.col_lower.copy(), base.col_upper.copy()
    touched_cols: list[IntArray] = []
    for name, store in (("lower", col_lower), ("upper", col_upper)):
        for target, value in getattr(scenario, name).items():
            idx = _columns_of(target, model, name)
            store[idx] = _values(value, len(idx), name)
            touched_cols.append(idx)
    row_lower, row_upper = base.row_lower.copy(), base.row_upper.copy()
    touched_rows: list[IntArray] = []
    for target, value in scenario.rhs.items():
        rows = _rows_of(target, model, "rhs")
        values = _values(value, len(rows), "rhs")
        has_lower = np.isfinite(base.row_lower[rows])
        has_upper = np.isfinite(base.row_upper[rows])
        ranged = has_lower & has_upper & (base.row_lower[rows] != base.row_upper[rows])
        if ranged.any():
            raise ModelError(
                "Scenario.rhs names a ranged constraint (finite lower and upper bounds); set "
                "row_lower and row_upper for it instead"
            )
        row_upper[rows] = np.where(has_upper, values, row_upper[rows])
        row_lower[rows] = np.where(has_lower, values, row_lower[rows])
        touched_rows.append(rows)
    for name, store in (("row_lower", row_lower), ("row_upper", row_upper)):
        for target, value in getattr(scenario, name).items():
            rows = _rows_of(target, model, name)
            store[rows] = _values(value, len(rows), name)
            touched_rows.append(rows)
    cols = np.unique(np.concatenate(touched_cols)) if touched_cols else np.empty(0, np.int64)
    rows_all = np.unique(np.concatenate(touched_rows)) if touched_rows else np.empty(0, np.int64)
    for kind, lo, hi, idx in (
        ("variable", col_lower, col_upper, cols),
        ("row", row_lower, row_upper, rows_all),
    ):
        bad = idx[lo[idx] > hi[idx]]
        if len(bad):
            raise ModelError(f"the scenario gives {kind} {int(bad[0])} a lower bound above its upper bound")  # fmt: skip
    empty = np.empty(0, np.int64)
    return _Changes(
        cost=(
            np.concatenate(cost_idx) if cost_idx else empty,
            np.concatenate(cost_val) if cost_val else np.empty(0),
        ),
        columns=(cols, col_lower[cols], col_upper[cols]),
        rows=(rows_all, row_lower[rows_all], row_upper[rows_all]),
    )


class _ModelTask:
    """The worker side of the base-model form: one HiGHS instance per worker, reused."""

    def __init__(self, arrays: ModelArrays, options: SolveOptions) -> None:
        self.arrays = arrays
        self.options = options
        self._solver: HighsSolver | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"arrays": self.arrays, "options": self.options, "_solver": None}

    def __call__(self, item: tuple[int, _Changes]) -> Result:
        index, changes = item
        if self._solver is None:
            self._solver = HighsSolver(self.arrays, self.options)
        solver, base = self._solver, self.arrays
        highs = solver.highs
        cost_idx, cost_val = changes.cost
        cols, col_lo, col_hi = changes.columns
        rows, row_lo, row_hi = changes.rows
        try:
            if len(cost_idx):
                highs.changeColsCost(len(cost_idx), cost_idx.astype(np.int32), cost_val)
            if len(cols):
                highs.changeColsBounds(len(cols), cols.astype(np.int32), col_lo, col_hi)
            if len(rows):
                highs.changeRowsBounds(len(rows), rows.astype(np.int32), row_lo, row_hi)
            result = solver.run()
        finally:  # the next scenario starts from the base model
            if len(cost_idx):
                highs.changeColsCost(len(cost_idx), cost_idx.astype(np.int32), base.cost[cost_idx])
            if len(cols):
                highs.changeColsBounds(
                    len(cols), cols.astype(np.int32), base.col_lower[cols], base.col_upper[cols]
                )
            if len(rows):
                highs.changeRowsBounds(
                    len(rows), rows.astype(np.int32), base.row_lower[rows], base.row_upper[rows]
                )
        return _tagged(result, index)


class _BuildTask:
    """The worker side of the builder form: build the item's model, solve it."""

    def __init__(self, build: Callable[[Any], Model], options: SolveOptions) -> None:
        self.build = build
        self.options = options

    def __call__(self, item: tuple[int, Any]) -> Result:
        index, data = item
        model = self.build(data)
        if not isinstance(model, Model):
            raise TypeError(
                f"build must return a parlearn.optimize.Model, got {type(model).__name__}"
            )
        result = HighsSolver(model.arrays(), self.options).run()
        return _tagged(result, index).with_names(model.names())


def _tagged(result: Result, index: int) -> Result:
    from dataclasses import replace

    return replace(result, scenario=index)


def _failed(index: int, exception: BaseException) -> Result:
    return Result(
        status=Status.ERROR,
        objective=None,
        message=f"scenario {index} failed: {type(exception).__name__}: {exception}",
        scenario=index,
    )


def solve_many(
    model: Model | Callable[[Any], Model],
    scenarios: Iterable[Any],
    *,
    backend: str = "processes",
    workers: int | None = None,
    pool: parallel.Pool | None = None,
    ordered: bool = True,
    progress: bool = False,
    timeout: float | None = None,
    time_limit: float | None = None,
    mip_gap: float | None = None,
    threads: int = 1,
    sensitivity: bool = False,
    highs_options: Mapping[str, Any] | None = None,
) -> Iterator[Result]:
    """Solve many scenarios in parallel; yield one :class:`Result` per scenario.

    ``model`` is a base :class:`Model` with ``scenarios`` of :class:`Scenario` (or dicts with
    the same keys), or a function ``build(item) -> Model`` with ``scenarios`` its items.
    Results come in input order (``ordered=False``: as they finish), each with ``scenario`` set
    to its position; a scenario that fails yields a result with status ``error`` and the
    reason in ``message``, and the rest go on.

    ``backend``, ``workers``, ``progress`` and ``timeout`` (seconds per scenario, stopping the
    worker) are ``parlearn.parallel``'s; ``"ray"`` runs the scenarios on a Ray cluster.
    ``pool=`` reuses a pool across calls (the model is then kept in its workers).
    ``time_limit``, ``mip_gap``, ``threads`` (HiGHS threads per scenario, default 1) and
    ``sensitivity`` are :func:`solve`'s.
    """
    options = SolveOptions(
        time_limit=time_limit,
        mip_gap=mip_gap,
        threads=threads,
        sensitivity=sensitivity,
        highs_options=dict(highs_options or {}),
    )
    names = None
    if isinstance(model, Model):
        base = model.arrays()
        task: Callable[[Any], Result] = _ModelTask(base, options)
        names = model.names()

        def prepared() -> Iterator[tuple[int, Any]]:
            for index, scenario in enumerate(scenarios):
                try:
                    yield index, _changes(scenario, model, base)
                except ModelError as exc:
                    yield index, _BadScenario(exc)

        items: Iterator[tuple[int, Any]] = prepared()
        task = _GuardedTask(task)
    elif callable(model):
        task = _BuildTask(model, options)
        items = iter(enumerate(scenarios))
    else:
        raise TypeError(
            f"solve_many takes a Model or a function item -> Model, got {type(model).__name__}"
        )
    return _stream(task, items, names, backend, workers, pool, ordered, progress, timeout)


@dataclass(frozen=True)
class _BadScenario:
    """A scenario that could not be turned into changes: reported in order, as a failure."""

    error: ModelError


class _GuardedTask:
    def __init__(self, task: Callable[[Any], Result]) -> None:
        self.task = task

    def __call__(self, item: tuple[int, Any]) -> Result:
        index, payload = item
        if isinstance(payload, _BadScenario):
            return _failed(index, payload.error)
        return self.task(item)


def _stream(
    task: Callable[[Any], Result],
    items: Iterator[tuple[int, Any]],
    names: Any,
    backend: str,
    workers: int | None,
    pool: parallel.Pool | None,
    ordered: bool,
    progress: bool,
    timeout: float | None,
) -> Iterator[Result]:
    # Items are (index, payload) in input order, so a Failure's index is the scenario's.
    # One scenario per chunk: a scenario is costly enough to carry its own dispatch, it keeps
    # every message small, and results stream back one by one.
    if pool is not None:
        with pool.resident(task) as resident:
            outcomes = resident.imap(
                items,
                chunksize=1,
                ordered=ordered,
                progress=progress,
                timeout=timeout,
                errors="collect",
            )
            yield from _finish(outcomes, names)
    else:
        outcomes = parallel.imap(
            task,
            items,
            backend=backend,
            workers=workers,
            chunksize=1,
            ordered=ordered,
            progress=progress,
            timeout=timeout,
            errors="collect",
        )
        yield from _finish(outcomes, names)


def _finish(outcomes: Iterator[Any], names: Any) -> Iterator[Result]:
    for outcome in outcomes:
        if isinstance(outcome, parallel.Failure):
            yield _failed(outcome.index, outcome.exception)
        elif names is not None:
            yield outcome.with_names(names)
        else:
            yield outcome
