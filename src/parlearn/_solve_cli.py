"""``parlearn solve``: an LP or MPS file, or a Python model with an AMPL data file, solved.

It prints the status, the objective and the non-zero variables as a table (``--json``: the
same as JSON on stdout) and exits with status 0 when an optimal solution was found, 2 when
the solve ended otherwise (infeasible, unbounded, time limit, ...), 1 on an error (a malformed
file, a bad option). The work is ``parlearn.optimize``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["solve_command"]

NOT_OPTIMAL_EXIT = 2  # solved, but no optimal solution: scripts can tell it from an error (1)

console = Console(highlight=False)


def _load_python_model(path: Path, data_path: Path | None) -> Any:
    """Run the model file and call its ``build(data)``."""
    from parlearn.optimize import Model, read_data

    spec = importlib.util.spec_from_file_location(f"parlearn_model_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise ValueError(
            f"{path} defines no build(data) function; a model file defines "
            "build(data) -> parlearn.optimize.Model"
        )
    data = read_data(data_path) if data_path is not None else {}
    model = build(data)
    if not isinstance(model, Model):
        raise ValueError(f"{path}: build(data) returned {type(model).__name__}, not a Model")
    return model


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def solve_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="An LP (.lp) or MPS (.mps, .mps.gz) file, or a Python file that defines "
            "build(data) -> Model.",
            show_default=False,
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Argument(
            help="An AMPL/GLPK data file (.dat) for a Python model file.", show_default=False
        ),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", min=0.001, help="Seconds before giving up.")
    ] = None,
    gap: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Relative MIP gap at which to stop (0.01 = 1%).", show_default="1e-4"
        ),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="HiGHS threads.", show_default="HiGHS's choice")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the solution as JSON instead of tables.")
    ] = False,
    all_variables: Annotated[
        bool, typer.Option("--all", help="List every variable, zeros included.")
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many rows in the variables table.")
    ] = 50,
    duals: Annotated[
        bool, typer.Option("--duals", help="Also list the constraints with a non-zero dual (LP).")
    ] = False,
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="The file's format when its extension does not say: lp, mps, free-mps, fixed-mps.",
        ),
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option(help="Also write the model to this .lp or .mps file (a conversion)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Print HiGHS's log.")] = False,
) -> None:
    """Solve an LP or MILP with HiGHS and print the status, objective and non-zero variables.

    Exit status: 0 optimal, 2 solved but not optimal (infeasible, unbounded, time limit), 1
    error. A MPS objective-row RHS counts as a constant with its sign flipped (as in HiGHS and
    CPLEX).
    """
    from parlearn import optimize

    if file.suffix.lower() == ".py":
        model = _load_python_model(file, data)
    else:
        if data is not None:
            raise typer.BadParameter(
                "a data file goes with a Python model file (.py), not with an LP or MPS file",
                param_hint="DATA",
            )
        model = optimize.read(file, format=file_format)
    if write is not None:
        optimize.write(model, write)
    result = model.solve(time_limit=time_limit, mip_gap=gap, threads=threads, verbose=verbose)
    if as_json:
        out = {"model": model.name, **result.to_dict(all_variables=all_variables)}
        if duals and result.duals is not None:
            names = model.names().rows
            out["duals"] = {names[i]: float(d) for i, d in enumerate(result.duals) if abs(d) > 1e-9}
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(model, result, all_variables=all_variables, limit=limit, duals=duals)
    if not result.ok:
        raise typer.Exit(NOT_OPTIMAL_EXIT)


def _print(model: Any, result: Any, *, all_variables: bool, limit: int, duals: bool) -> None:
    kind = f"MILP, {model.num_integer} integer" if model.num_integer else "LP"
    console.print(
        f"[bold]{model.name}[/bold]: {model.num_variables} variables ({kind}), "
        f"{model.num_constraints} constraints, {'maximize' if model.sense == 'max' else 'minimize'}"
    )
    colour = "green" if result.ok else ("yellow" if result.has_solution else "red")
    console.print(f"status: [{colour}]{result.status.value}[/{colour}] ({result.message})")
    console.print(f"objective: {_fmt(result.objective)}")
    if result.is_mip and result.has_solution:
        console.print(f"best bound: {_fmt(result.best_bound)}, gap: {_fmt(result.mip_gap)}")
    console.print(f"time: {result.seconds:.3f} s")
    if not result.has_solution:
        return
    import numpy as np

    names = model.names()
    values = result.values
    picked = np.arange(len(values)) if all_variables else np.flatnonzero(np.abs(values) > 1e-9)
    title = "variables" if all_variables else "non-zero variables"
    table = Table(title=f"{title} ({len(picked)})", title_justify="left")
    table.add_column("variable")
    table.add_column("value", justify="right")
    if result.reduced_costs is not None:
        table.add_column("reduced cost", justify="right")
    for j in picked[:limit]:
        row = [names.column(int(j)), f"{values[j]:.10g}"]
        if result.reduced_costs is not None:
            row.append(f"{result.reduced_costs[j]:.6g}")
        table.add_row(*row)
    console.print(table)
    if len(picked) > limit:
        console.print(f"... and {len(picked) - limit} more (--limit, --json)")
    if duals and result.duals is not None:
        rows = [(names.row(i), float(result.activities[i]), float(d))
                for i, d in enumerate(result.duals) if abs(d) > 1e-9]  # fmt: skip
        dual_table = Table(
            title=f"constraints with a non-zero dual ({len(rows)})", title_justify="left"
        )
        dual_table.add_column("constraint")
        dual_table.add_column("activity", justify="right")
        dual_table.add_column("dual", justify="right")
        for name, activity, dual in rows[:limit]:
            dual_table.add_row(name, f"{activity:.10g}", f"{dual:.6g}")
        console.print(dual_table)
