"""A travelling salesman tour as a MILP: 18 cities, the Miller-Tucker-Zemlin formulation.

``x[i, j] = 1`` when the tour goes from city i to city j. Every city is left once and entered
once; the MTZ constraints ``u[i] - u[j] + (n-1) x[i, j] <= n-2`` (for i, j != 0) give each city
a position ``u`` along the tour, which rules out sub-tours. Everything is built in bulk: one
array of variables, three blocks of constraints.

Run it with ``.venv/bin/python examples/tsp.py [--cities 18] [--out tsp_tour.png]``: it prints
the tour, its length and the proof of optimality (gap 0), and draws the tour.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from parlearn import optimize


def cities(n: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, size=(n, 2))


def build(points: np.ndarray) -> tuple[optimize.Model, optimize.VariableArray]:
    n = len(points)
    distance = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    m = optimize.Model(f"tsp{n}")
    # No arc from a city to itself: those variables are fixed at 0.
    x = m.add_variables((n, n), name="x", binary=True)
    m.set_bounds(x, 0, 1 - np.eye(n))
    u = m.add_variables(n, name="u", lower=1, upper=n - 1)
    m.add_constraints(x.sum(axis=1) == 1, name="leave")
    m.add_constraints(x.sum(axis=0) == 1, name="enter")
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    keep = (i > 0) & (j > 0)
    i, j = i[keep], j[keep]
    m.add_constraints(u[i] - u[j] + (n - 1) * x[i, j] <= n - 2, name="mtz")
    m.minimize((distance * x).sum())
    return m, x


def tour_of(successors: np.ndarray) -> list[int]:
    tour = [0]
    while len(tour) < len(successors):
        tour.append(int(successors[tour[-1]]))
    return tour


def plot(points: np.ndarray, tour: list[int], length: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    closed = [*tour, tour[0]]
    ax.plot(points[closed, 0], points[closed, 1], "-", color="tab:blue", zorder=1)
    ax.scatter(points[:, 0], points[:, 1], color="tab:red", zorder=2)
    for k, (px, py) in enumerate(points):
        ax.annotate(str(k), (px, py), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_title(f"optimal tour of {len(points)} cities, length {length:.1f}")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(n: int = 18, out: Path | None = Path("tsp_tour.png")) -> tuple[optimize.Result, list[int]]:
    points = cities(n)
    model, x = build(points)
    result = model.solve(time_limit=120)
    result.raise_for_status()
    successors = np.argmax(result[x], axis=1)
    tour = tour_of(successors)
    print(f"{model}")
    print(f"tour: {' -> '.join(map(str, [*tour, 0]))}")
    print(
        f"length {result.objective:.3f}, gap {result.mip_gap:.2g}, solved in {result.seconds:.2f} s"
    )
    if out is not None:
        plot(points, tour, float(result.objective), out)
        print(f"wrote {out}")
    return result, tour


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=18)
    parser.add_argument("--out", type=Path, default=Path("tsp_tour.png"))
    args = parser.parse_args()
    main(args.cities, args.out)
