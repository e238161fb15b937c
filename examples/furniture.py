"""The furniture shop (Winston's Dakota Furniture): how many desks, tables and chairs to make.

Each desk sells for $60, each table for $30, each chair for $20. They use lumber, finishing
and carpentry hours, of which only so much is at hand, and at most 5 tables can be sold:

                 desk  table  chair   available
    lumber (ft)     8      6      1          48
    finishing (h)   4      2    1.5          20
    carpentry (h)   2    1.5    0.5           8

Run it with ``.venv/bin/python examples/furniture.py``. The optimum is $280: 2 desks, no
tables, 8 chairs. The duals (shadow prices) say what one more unit of each resource is worth.
"""

from __future__ import annotations

from parlearn import optimize


def build() -> tuple[optimize.Model, dict[str, optimize.Variable], dict[str, optimize.Constraint]]:
    m = optimize.Model("furniture", sense="max")
    desks = m.add_variable("desks")
    tables = m.add_variable("tables")
    chairs = m.add_variable("chairs")
    constraints = {
        "lumber": m.add_constraint(8 * desks + 6 * tables + chairs <= 48, name="lumber"),
        "finishing": m.add_constraint(
            4 * desks + 2 * tables + 1.5 * chairs <= 20, name="finishing"
        ),
        "carpentry": m.add_constraint(
            2 * desks + 1.5 * tables + 0.5 * chairs <= 8, name="carpentry"
        ),
        "table_demand": m.add_constraint(tables <= 5, name="table_demand"),
    }
    m.maximize(60 * desks + 30 * tables + 20 * chairs)
    return m, {"desks": desks, "tables": tables, "chairs": chairs}, constraints


def main() -> optimize.Result:
    model, products, constraints = build()
    result = model.solve(sensitivity=True)
    result.raise_for_status()
    print(f"profit: ${result.objective:.2f}")
    for name, variable in products.items():
        print(f"  make {result[variable]:g} {name}")
    print("\nwhat one more unit of each resource is worth (the dual, or shadow price):")
    assert result.sensitivity is not None
    for name, constraint in constraints.items():
        dual = result.dual(constraint)
        low, high = result.sensitivity.rhs_range(constraint)
        used = result.activities[constraint.row] if result.activities is not None else 0.0
        if dual > 1e-9:
            print(
                f"  {name:13s} ${dual:6.2f}  (all {used:g} used; the price holds while the "
                f"limit stays in [{low:g}, {high:g}])"
            )
        else:
            print(f"  {name:13s} ${dual:6.2f}  (only {used:g} of {constraint.upper:g} used: "
                  "more is worth nothing)")  # fmt: skip
    tables = products["tables"]
    low, high = result.sensitivity.cost_range(tables)
    print(
        f"\ntables are not made: each one would cost ${-result.reduced_cost(tables):.2f} of "
        f"profit (reduced cost); they pay once their price exceeds ${high:g}"
    )
    return result


if __name__ == "__main__":
    main()
