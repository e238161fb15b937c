"""Many scenarios of one model, solved in parallel on ``parlearn.parallel``: ``solve_many``.

Two ways to describe the scenarios:

- a base :class:`Model` and one :class:`Scenario` per case (new costs, bounds, right-hand
  sides). The changes are turned into index/value arrays here; the base model travels to each
  worker once per call (once per pool with ``pool=``, where it is a resident function), and
  the worker keeps one HiGHS instance with it:

  ::

      parent: Scenario ─► _Changes (column/row indices + values) ─► chunks ─► worker
      worker: _ModelTask: HighsSolver(base arrays) built once per worker
              put back what the last scenario changed and this one does not,
              apply this one's changes ─► clearSolver + run
              ─► Result (what ``returns`` asks for) ─► parent
      parent: Result (+ scenario index, + the model's names), streamed in input order

- a function ``build(item) -> Model`` and the items (data per scenario): each worker builds
  and solves the model of its item (:class:`_BuildTask`).

Scenarios travel in chunks sized by the engine from measured solve times (about 50 ms of work
each, shrinking towards the end so both workers finish together), and messages carry no more
than they must: index runs as (first, count), a result's mostly-zero values sparsely. On 2
cores the caller's CPU time is taken from the workers: for 500 scenarios of 5 ms it measured
0.30 s with one scenario per message, 0.18 s in chunks (``docs/performance.md``).

A scenario that fails (bad data, a worker that dies) comes back as a ``Result`` with status
``error`` and the reason in ``message``; the others are unaffected (the engine's
``errors="collect"``; a chunk whose worker dies is run again one scenario at a time). Each
solve starts from scratch, so results do not depend on which worker ran what, and each HiGHS
instance uses one thread unless ``threads=`` says otherwise: the parallelism is across
scenarios.
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
from parlearn.optimize._solve import RETURNS, HighsSolver, Returns, SolveOptions

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

    def __reduce__(self) -> tuple[Any, ...]:
        # Indices of a whole variable or constraint array are a run (first, count): sent as
        # such, a scenario that changes every cost is half the bytes (measured: the caller
        # copies each message several times on its way to the pipe).
        cost_idx, cost_val = self.cost
        cols, lo, hi = self.columns
        rows, row_lo, row_hi = self.rows
        packed = (_run_of(cost_idx), cost_val, _run_of(cols), lo, hi, _run_of(rows), row_lo, row_hi)
        return (_rebuild_changes, packed)


Packed = IntArray | tuple[int, int]


def _run_of(indices: IntArray) -> Packed:
    """``(first, count)`` when ``indices`` are consecutive integers, else ``indices``."""
    count = len(indices)
    if count > 1 and indices[-1] - indices[0] == count - 1 and (np.diff(indices) == 1).all():
        return (int(indices[0]), count)
    return indices


def _from_run(packed: Packed) -> IntArray:
    if isinstance(packed, tuple):
        first, count = packed
        return np.arange(first, first + count, dtype=np.int64)
    return packed


def _rebuild_changes(
    cost_idx: Packed,
    cost_val: FloatArray,
    cols: Packed,
    lo: FloatArray,
    hi: FloatArray,
    rows: Packed,
    row_lo: FloatArray,
    row_hi: FloatArray,
) -> _Changes:
    return _Changes(
        cost=(_from_run(cost_idx), cost_val),
        columns=(_from_run(cols), lo, hi),
        rows=(_from_run(rows), row_lo, row_hi),
    )


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
    """The worker side of the base-model form: one HiGHS instance per worker, reused.

    The instance holds the base model with the last scenario's changes. A scenario first puts
    back the base values of what the last one changed and it does not, then sets its own: when
    scenarios change the same entries (new costs for every variable, say), nothing is put back,
    which halves the calls into HiGHS (a cost change of 4,000 columns costs 0.2 ms). The model
    HiGHS solves is the base model plus this scenario's changes either way.
    """

    def __init__(self, arrays: ModelArrays, options: SolveOptions, returns: Returns) -> None:
        self.arrays = arrays
        self.options = options
        self.returns = returns
        self._solver: HighsSolver | None = None
        self._changed = _Changed()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "arrays": self.arrays,
            "options": self.options,
            "returns": self.returns,
            "_solver": None,
            "_changed": _Changed(),
        }

    def __call__(self, item: tuple[int, _Changes]) -> Result:
        index, changes = item
        if self._solver is None:
            self._solver = HighsSolver(self.arrays, self.options)
        solver, base, changed = self._solver, self.arrays, self._changed
        highs = solver.highs
        cost_idx, cost_val = changes.cost
        cols, col_lo, col_hi = changes.columns
        rows, row_lo, row_hi = changes.rows
        # Until the old entries are back and the new ones set, the model may differ from the
        # base in either set: recorded first, so a failure here leaves nothing unaccounted.
        stale_cost = _left_behind(changed.cost, cost_idx)
        stale_cols = _left_behind(changed.columns, cols)
        stale_rows = _left_behind(changed.rows, rows)
        changed.cost = _union(changed.cost, cost_idx)
        changed.columns = _union(changed.columns, cols)
        changed.rows = _union(changed.rows, rows)
        if len(stale_cost):
            highs.changeColsCost(len(stale_cost), _i32(stale_cost), base.cost[stale_cost])
        if len(stale_cols):
            highs.changeColsBounds(
                len(stale_cols),
                _i32(stale_cols),
                base.col_lower[stale_cols],
                base.col_upper[stale_cols],
            )
        if len(stale_rows):
            highs.changeRowsBounds(
                len(stale_rows),
                _i32(stale_rows),
                base.row_lower[stale_rows],
                base.row_upper[stale_rows],
            )
        if len(cost_idx):
            highs.changeColsCost(len(cost_idx), _i32(cost_idx), cost_val)
        if len(cols):
            highs.changeColsBounds(len(cols), _i32(cols), col_lo, col_hi)
        if len(rows):
            highs.changeRowsBounds(len(rows), _i32(rows), row_lo, row_hi)
        changed.cost, changed.columns, changed.rows = cost_idx, cols, rows
        return _tagged(solver.run(self.returns), index)


@dataclass
class _Changed:
    """Which entries of the worker's HiGHS model differ from the base model."""

    cost: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    columns: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    rows: IntArray = field(default_factory=lambda: np.empty(0, np.int64))


def _left_behind(before: IntArray, now: IntArray) -> IntArray:
    """Entries changed before and not now: they go back to the base values."""
    if len(before) == 0 or np.array_equal(before, now):
        return before[:0]
    return np.setdiff1d(before, now, assume_unique=False)


def _union(a: IntArray, b: IntArray) -> IntArray:
    if len(a) == 0 or np.array_equal(a, b):
        return b
    return np.union1d(a, b)


def _i32(indices: IntArray) -> Any:
    return indices.astype(np.int32)


class _BuildTask:
    """The worker side of the builder form: build the item's model, solve it."""

    def __init__(
        self, build: Callable[[Any], Model], options: SolveOptions, returns: Returns
    ) -> None:
        self.build = build
        self.options = options
        self.returns = returns

    def __call__(self, item: tuple[int, Any]) -> Result:
        index, data = item
        model = self.build(data)
        if not isinstance(model, Model):
            raise TypeError(
                f"build must return a parlearn.optimize.Model, got {type(model).__name__}"
            )
        result = HighsSolver(model.arrays(), self.options).run(self.returns)
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
    returns: Returns = "all",
    chunksize: int | None = None,
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

    ``returns`` says what each result carries: ``"all"`` (default: values, row activities,
    duals and reduced costs), ``"values"`` (values and row activities) or ``"objective"``
    (status and objective only). Less is quicker to read out of HiGHS and to send back.

    ``chunksize``: scenarios per message to a worker. None (default) sizes chunks from
    measured solve times (about 50 ms of work each, smaller towards the end); 1 sends each
    scenario alone, which costs the caller more per scenario when solves are short.
    """
    if returns not in RETURNS:
        raise ModelError(
            f"returns must be one of {', '.join(map(repr, RETURNS))}, got {returns!r}; "
            "'all' keeps values, duals and reduced costs"
        )
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1
    ):
        raise ModelError(
            f"chunksize must be a positive int, got {chunksize!r}; pass None to size chunks "
            "from measured solve times"
        )
    dispatch = _Dispatch(backend, workers, pool, ordered, progress, timeout, chunksize)
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
        task: Callable[[Any], Result] = _ModelTask(base, options, returns)
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
        task = _BuildTask(model, options, returns)
        items = iter(enumerate(scenarios))
    else:
        raise TypeError(
            f"solve_many takes a Model or a function item -> Model, got {type(model).__name__}"
        )
    return _stream(task, items, names, dispatch)


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


@dataclass(frozen=True)
class _Dispatch:
    """How the scenarios reach the workers: ``solve_many``'s ``parlearn.parallel`` arguments."""

    backend: str
    workers: int | None
    pool: parallel.Pool | None
    ordered: bool
    progress: bool
    timeout: float | None
    chunksize: int | None


def _stream(
    task: Callable[[Any], Result],
    items: Iterator[tuple[int, Any]],
    names: Any,
    dispatch: _Dispatch,
) -> Iterator[Result]:
    # Items are (index, payload) in input order, so a Failure's index is the scenario's.
    # chunksize=None lets the engine size chunks from measured solve times: several scenarios
    # per message, so the caller, which shares the cores with the workers, handles fewer
    # messages (docs/performance.md measures both).
    common: dict[str, Any] = {
        "chunksize": dispatch.chunksize,
        "ordered": dispatch.ordered,
        "progress": dispatch.progress,
        "timeout": dispatch.timeout,
        "errors": "collect",
    }
    if dispatch.pool is not None:
        with dispatch.pool.resident(task) as resident:
            yield from _finish(resident.imap(items, **common), names)
    else:
        outcomes = parallel.imap(
            task, items, backend=dispatch.backend, workers=dispatch.workers, **common
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
