"""LP modelling and solving: parlearn.optimize side by side with PuLP (CBC and HiGHS back ends).

Two questions, in the same run:

1. ``transport``: build and solve a transportation model of 200 sources x 500 sinks
   (100,000 variables, 700 constraints). parlearn builds it in bulk (``x.sum(axis=1) <=
   supply``); PuLP the way its documentation does (``LpVariable.dicts`` and ``lpSum``), then
   solves it with CBC (``PULP_CBC_CMD``, its default) and with HiGHS (``pulp.HiGHS``).
   Target: building at least 10x faster than PuLP; the same objective.
2. ``scenarios``: 500 scenarios of a 50 x 80 transportation LP (4,000 variables; demand and
   costs change per scenario): ``solve_many`` on 2 workers against the same scenarios one after
   another (``solve_many(backend="serial")``: one HiGHS instance, the base model passed once;
   each scenario does the same work on either path). Target: speedup >= 1.8 on 2 cores; the
   same objectives. Measured with full results (values, duals, reduced costs: the default),
   with ``returns="objective"``, and with one scenario per message (``chunksize=1``, how
   ``solve_many`` sent them before chunks were sized from solve times); the table also shows
   the CPU time of the calling process, which shares the 2 cores with the workers. PuLP's way
   (rebuild, solve with HiGHS) runs on the first 50 scenarios and is scaled to 500, for
   reference.

Method (see ``../shared/BENCHMARKS.md``): each measurement runs in a fresh subprocess with
``OMP/OPENBLAS/MKL_NUM_THREADS=1`` and one HiGHS/CBC thread per solve; configurations alternate
(A B C, A B C, ...) for ``--repeats`` rounds; tables show the median and the min-max. The
scenario runs warm up first (the worker pool starts on a few scenarios, not timed).

Run::

    flock /tmp/parlearn-bench.lock .venv/bin/python -m benchmarks.optimize
    flock /tmp/parlearn-bench.lock .venv/bin/python -m benchmarks.optimize --only scenarios
    .venv/bin/python -m benchmarks.optimize --quick      # smoke run, small sizes
    .venv/bin/python -m benchmarks.optimize --check      # exit 1 when a target is missed

It prints Markdown tables and writes JSON with the machine's facts to
``benchmarks/results/optimize.json`` (``optimize-scenarios.json`` / ``optimize-transport.json``
with --only, ``optimize-quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import THREAD_VARS, machine_facts, markdown_table, ratio, stats, value_range

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
NAME = "optimize"
CHILD_TIMEOUT = 1800

TARGET_BUILD_RATIO = 10.0
TARGET_SPEEDUP = 1.8
FULL = {"sources": 200, "sinks": 500, "scenarios": 500, "s_sources": 50, "s_sinks": 80,
        "pulp_sample": 50, "warmup": 8}  # fmt: skip
QUICK = {"sources": 40, "sinks": 100, "scenarios": 40, "s_sources": 10, "s_sinks": 15,
         "pulp_sample": 10, "warmup": 4}  # fmt: skip


def transport_data(sources: int, sinks: int, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    supply = rng.uniform(50, 100, sources)
    demand = rng.uniform(10, 30, sinks)
    demand *= 0.9 * supply.sum() / demand.sum()  # feasible with 10% spare supply
    return {"supply": supply, "demand": demand, "cost": rng.uniform(1, 10, (sources, sinks))}


# --------------------------------------------------------------------------- question 1


def parlearn_transport(p: dict[str, Any]) -> dict[str, Any]:
    from parlearn import optimize

    data = transport_data(p["sources"], p["sinks"])
    started = time.perf_counter()
    m = optimize.Model("transport")
    x = m.add_variables((p["sources"], p["sinks"]), name="x")
    m.add_constraints(x.sum(axis=1) <= data["supply"], name="supply")
    m.add_constraints(x.sum(axis=0) >= data["demand"], name="demand")
    m.minimize((data["cost"] * x).sum())
    m.arrays()  # the model complete, in the solver's form
    built = time.perf_counter()
    result = m.solve(threads=1)
    solved = time.perf_counter()
    return {"build": built - started, "solve": solved - built, "total": solved - started,
            "objective": result.objective, "status": result.status.value}  # fmt: skip


def pulp_transport(solver_name: str) -> Any:
    def run(p: dict[str, Any]) -> dict[str, Any]:
        import pulp

        data = transport_data(p["sources"], p["sinks"])
        S, D = range(p["sources"]), range(p["sinks"])
        started = time.perf_counter()
        prob = pulp.LpProblem("transport", pulp.LpMinimize)
        x = pulp.LpVariable.dicts("x", (S, D), lowBound=0)
        prob += pulp.lpSum(data["cost"][i][j] * x[i][j] for i in S for j in D)
        for i in S:
            prob += pulp.lpSum(x[i][j] for j in D) <= data["supply"][i]
        for j in D:
            prob += pulp.lpSum(x[i][j] for i in S) >= data["demand"][j]
        built = time.perf_counter()
        if solver_name == "cbc":
            solver = pulp.PULP_CBC_CMD(msg=False, threads=1)
        else:
            solver = pulp.HiGHS(msg=False, threads=1)
        prob.solve(solver)
        solved = time.perf_counter()
        return {"build": built - started, "solve": solved - built, "total": solved - started,
                "objective": pulp.value(prob.objective), "status": pulp.LpStatus[prob.status]}  # fmt: skip

    return run


# --------------------------------------------------------------------------- question 2


def scenario_inputs(p: dict[str, Any]) -> tuple[dict[str, Any], list[np.ndarray], list[np.ndarray]]:
    base = transport_data(p["s_sources"], p["s_sinks"], seed=1)
    rng = np.random.default_rng(2)
    demands, costs = [], []
    for _ in range(p["scenarios"]):
        demands.append(base["demand"] * rng.uniform(0.7, 1.1, p["s_sinks"]))
        costs.append(base["cost"] * rng.uniform(0.8, 1.2, base["cost"].shape))
    return base, demands, costs


def _solve_many(
    backend: str, workers: int, returns: str = "all", chunksize: int | None = None
) -> Any:
    def run(p: dict[str, Any]) -> dict[str, Any]:
        from parlearn import optimize, parallel

        base, demands, costs = scenario_inputs(p)
        m = optimize.Model("scenarios")
        x = m.add_variables(base["cost"].shape, name="x")
        m.add_constraints(x.sum(axis=1) <= base["supply"])
        demand = m.add_constraints(x.sum(axis=0) >= base["demand"])
        m.minimize((base["cost"] * x).sum())
        scenarios = [optimize.Scenario(rhs={demand: d}, cost={x: c})
                     for d, c in zip(demands, costs, strict=True)]  # fmt: skip
        kwargs: dict[str, Any] = {"backend": backend, "workers": workers, "returns": returns,
                                  "chunksize": chunksize}  # fmt: skip
        try:
            list(optimize.solve_many(m, scenarios[: p["warmup"]], **kwargs))
            started, cpu = time.perf_counter(), time.process_time()
            results = list(optimize.solve_many(m, scenarios, **kwargs))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            parallel.shutdown_default_pools()
        # parent_cpu: this process's CPU time (all its threads) while it waited for the results;
        # on 2 cores what the parent spends, the workers do not get.
        return {"seconds": seconds, "parent_cpu": cpu, "objectives": [r.objective for r in results],
                "optimal": sum(r.ok for r in results),
                "has_values": all(r.values is not None for r in results)}  # fmt: skip

    return run


def pulp_scenarios(p: dict[str, Any]) -> dict[str, Any]:
    import pulp

    base, demands, costs = scenario_inputs(p)
    n = p["pulp_sample"]
    S, D = range(base["cost"].shape[0]), range(base["cost"].shape[1])
    objectives = []
    started = time.perf_counter()
    for d, c in zip(demands[:n], costs[:n], strict=True):
        prob = pulp.LpProblem("scenario", pulp.LpMinimize)
        x = pulp.LpVariable.dicts("x", (S, D), lowBound=0)
        prob += pulp.lpSum(c[i][j] * x[i][j] for i in S for j in D)
        for i in S:
            prob += pulp.lpSum(x[i][j] for j in D) <= base["supply"][i]
        for j in D:
            prob += pulp.lpSum(x[i][j] for i in S) >= d[j]
        prob.solve(pulp.HiGHS(msg=False, threads=1))
        objectives.append(pulp.value(prob.objective))
    measured = time.perf_counter() - started
    return {"seconds": measured * p["scenarios"] / n, "measured_seconds": measured,
            "measured_scenarios": n, "objectives": objectives}  # fmt: skip


CONFIGS: dict[str, tuple[str, str, Any]] = {
    # key: (question, label, runner)
    "transport/parlearn": ("transport", "parlearn.optimize (bulk) + HiGHS", parlearn_transport),
    "transport/pulp-cbc": ("transport", "PuLP + CBC", pulp_transport("cbc")),
    "transport/pulp-highs": ("transport", "PuLP + HiGHS", pulp_transport("highs")),
    "scenarios/serial": ("scenarios", "solve_many, serial (one after another)", _solve_many("serial", 1)),
    "scenarios/parallel": ("scenarios", "solve_many, processes, 2 workers", _solve_many("processes", 2)),
    "scenarios/parallel-chunk1": ("scenarios", "solve_many, 2 workers, chunksize=1 (one scenario per message)", _solve_many("processes", 2, chunksize=1)),
    "scenarios/serial-objective": ("scenarios", 'solve_many, serial, returns="objective"', _solve_many("serial", 1, "objective")),
    "scenarios/parallel-objective": ("scenarios", 'solve_many, 2 workers, returns="objective"', _solve_many("processes", 2, "objective")),
    "scenarios/pulp": ("scenarios", "PuLP + HiGHS, rebuilt per scenario (50 run, x10)", pulp_scenarios),
}  # fmt: skip


# --------------------------------------------------------------------------- orchestration


def child(key: str, params: dict[str, Any]) -> None:
    result = CONFIGS[key][2](params)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


def run_child(key: str, params: dict[str, Any]) -> dict[str, Any] | None:
    env = dict(os.environ, **dict.fromkeys(THREAD_VARS, "1"))
    cmd = [sys.executable, "-m", "benchmarks.optimize", "--child", key, "--params",
           json.dumps(params)]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=CHILD_TIMEOUT)  # fmt: skip
    except subprocess.TimeoutExpired:
        print(f"  {key}: timed out", file=sys.stderr)
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            parsed: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return parsed
    print(f"  {key} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["transport", "scenarios"])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--params")
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.params))
        return 0
    params = QUICK if args.quick else FULL
    keys = [k for k, (q, _, _) in CONFIGS.items() if args.only in (None, q)]
    # The facts (load average included) before the runs, as the field name says.
    facts = machine_facts(["highspy", "pulp", "numpy", "scipy"], command=" ".join(sys.argv))
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for round_ in range(args.repeats):
        for key in keys:  # alternate: A B C, A B C, ...
            print(f"round {round_ + 1}/{args.repeats}: {key}", file=sys.stderr, flush=True)
            outcome = run_child(key, params)
            if outcome is not None:
                runs[key].append(outcome)
    report = summarize(runs, params)
    print(report["markdown"])
    facts["loadavg_at_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else f"-{args.only}" if args.only else ""
    out = RESULTS / f"{NAME}{suffix}.json"
    out.write_text(json.dumps({"machine": facts, "params": params, "runs": runs,
                               "summary": report["summary"]}, indent=2))  # fmt: skip
    print(f"\nwrote {out.relative_to(ROOT)}", file=sys.stderr)
    if args.check and not report["summary"].get("targets_met", False):
        return 1
    return 0


def _objective_spread(values: list[float | None]) -> float:
    finite = [v for v in values if v is not None]
    if not finite:
        return float("nan")
    return (max(finite) - min(finite)) / max(1.0, abs(statistics.median(finite)))


def summarize(runs: dict[str, list[dict[str, Any]]], params: dict[str, Any]) -> dict[str, Any]:
    lines, summary = [], {}
    if "transport/parlearn" in runs:
        rows = []
        ours = runs["transport/parlearn"]
        for key in ("transport/parlearn", "transport/pulp-cbc", "transport/pulp-highs"):
            got = runs.get(key, [])
            objective = got[0]["objective"] if got else None
            build_ratio = (
                stats([b["build"] / a["build"] for a, b in zip(ours, got, strict=False)])
                if key != "transport/parlearn"
                else None
            )
            rows.append([
                CONFIGS[key][1],
                value_range(stats([r["build"] for r in got]), digits=3),
                value_range(stats([r["solve"] for r in got]), digits=3),
                value_range(stats([r["total"] for r in got]), digits=3),
                ratio(build_ratio) if build_ratio else "1x",
                f"{objective:.6f}" if objective is not None else "failed",
            ])  # fmt: skip
            summary[key] = {
                "build": stats([r["build"] for r in got]),
                "solve": stats([r["solve"] for r in got]),
                "total": stats([r["total"] for r in got]),
                "build_ratio_vs_parlearn": build_ratio,
                "objective": objective,
            }
        n = params["sources"] * params["sinks"]
        lines.append(f"### Transportation model, {params['sources']} x {params['sinks']} "
                     f"({n:,} variables, {params['sources'] + params['sinks']} constraints)\n")  # fmt: skip
        lines.append(markdown_table(
            ["", "build (s)", "solve (s)", "build + solve (s)", "PuLP build / parlearn build", "objective"], rows))  # fmt: skip
        objectives = [summary[k]["objective"] for k in summary if k.startswith("transport/")]
        summary["transport_objectives_agree"] = _objective_spread(objectives) <= 1e-6
        build = [
            summary[k]["build_ratio_vs_parlearn"]
            for k in ("transport/pulp-cbc", "transport/pulp-highs")
        ]
        summary["build_target_met"] = all(b is not None and b["median"] >= TARGET_BUILD_RATIO for b in build)  # fmt: skip
    if "scenarios/serial" in runs:
        summarize_scenarios(runs, params, lines, summary)
    summary["targets_met"] = bool(summary.get("build_target_met", True)) and bool(summary.get("speedup_target_met", True))  # fmt: skip
    return {"markdown": "\n".join(lines), "summary": summary}


# (serial, parallel) pairs: each round runs both, so the speedup is taken round by round.
SCENARIO_PAIRS = {
    "default": ("scenarios/serial", "scenarios/parallel"),
    "chunksize=1": ("scenarios/serial", "scenarios/parallel-chunk1"),
    'returns="objective"': ("scenarios/serial-objective", "scenarios/parallel-objective"),
}


def _same(a: list[float | None], b: list[float | None]) -> bool:
    return a == b  # JSON keeps a float's every bit, so this is bit-for-bit


def summarize_scenarios(
    runs: dict[str, list[dict[str, Any]]],
    params: dict[str, Any],
    lines: list[str],
    summary: dict[str, Any],
) -> None:
    n = params["scenarios"]
    reference = runs["scenarios/serial"][0]["objectives"] if runs["scenarios/serial"] else []
    pairs: dict[str, dict[str, Any]] = {}
    for label, (serial_key, par_key) in SCENARIO_PAIRS.items():
        serial, par = runs.get(serial_key, []), runs.get(par_key, [])
        if not serial or not par:
            continue
        medians = statistics.median(r["seconds"] for r in serial) / statistics.median(
            r["seconds"] for r in par
        )
        floor = statistics.median(r["seconds"] for r in serial) / 2
        every = [*serial, *par]
        pairs[label] = {
            "speedup": stats([a["seconds"] / b["seconds"] for a, b in zip(serial, par, strict=False)]),
            "speedup_of_medians": medians,
            "floor_seconds": floor,
            "parallel_over_floor": statistics.median(r["seconds"] for r in par) / floor,
            # the benchmark's tolerance, and bit-for-bit, against the first serial full run
            "objectives_within_1e-9": all(np.allclose(r["objectives"], reference, rtol=1e-9, atol=0) for r in every),
            "objectives_bit_identical": all(_same(r["objectives"], reference) for r in every),
        }  # fmt: skip
    pulp_runs = runs.get("scenarios/pulp", [])
    pulp_agree = bool(reference) and all(
        np.allclose(p["objectives"], reference[: len(p["objectives"])], rtol=1e-6) for p in pulp_runs
    )  # fmt: skip
    rows = []
    for key in ("scenarios/serial", "scenarios/parallel", "scenarios/parallel-chunk1",
                "scenarios/serial-objective", "scenarios/parallel-objective", "scenarios/pulp"):  # fmt: skip
        got = runs.get(key, [])
        if not got:
            continue
        per = stats([r["seconds"] / n * 1000 for r in got])
        cpu = stats([r["parent_cpu"] for r in got if "parent_cpu" in r])
        rows.append([CONFIGS[key][1], value_range(stats([r["seconds"] for r in got]), digits=3),
                     value_range(per, digits=2), value_range(cpu, digits=3) if cpu else "-"])  # fmt: skip
    lines.append(f"\n### {n} scenario LPs of {params['s_sources']} x {params['s_sinks']} "
                 f"({params['s_sources'] * params['s_sinks']:,} variables each)\n")  # fmt: skip
    lines.append(markdown_table(["", "seconds", "ms per scenario", "parent CPU (s)"], rows))
    for label, got in pairs.items():
        lines.append(
            f"\n{label}: speedup on 2 workers over serial {ratio(got['speedup'])} "
            f"round by round, {got['speedup_of_medians']:.2f}x by the medians; floor (serial / 2) "
            f"{got['floor_seconds']:.3f} s, parallel at {got['parallel_over_floor']:.2f}x the "
            f"floor; objectives within 1e-9: {got['objectives_within_1e-9']}, bit-identical: "
            f"{got['objectives_bit_identical']}"
        )
    lines.append(f"\nPuLP objectives agree (1e-6): {pulp_agree}")
    default = pairs.get("default", {})
    summary["scenarios"] = {
        "speedup": default.get("speedup"),
        "objectives_identical": default.get("objectives_within_1e-9", False),
        "pulp_objectives_agree": pulp_agree,
        "pairs": pairs,
        **{k: stats([r["seconds"] for r in runs.get(k, [])]) for k in runs if k.startswith("scenarios/")},
    }  # fmt: skip
    speedup = default.get("speedup")
    summary["speedup_target_met"] = speedup is not None and speedup["median"] >= TARGET_SPEEDUP


if __name__ == "__main__":
    sys.exit(main())
