"""Predict, then optimize: a demand model trained with parlearn plans production per scenario.

1. **Predict.** Twelve stores each keep two years of weekly sales of three products (price,
   promotion, season -> units sold). The history stays at the stores: ``parlearn federate``
   trains one linear demand model across them (FedAvg, the stores as natural clients).
2. **Scenarios.** Marketing proposes 40 price-and-promotion plans for the next four weeks. The
   model predicts each plan's demand, product by product and week by week.
3. **Optimize.** One production LP (make, store, sell per product and week; machine hours per
   week; stock carried over) is solved for every plan at once with ``solve_many``: each
   scenario changes the sales limits (the predicted demand) and the prices (the margins).
   The plan with the highest profit wins.

Run it with ``.venv/bin/python examples/predict_then_optimize.py``.
"""

from __future__ import annotations

import numpy as np

from parlearn import optimize
from parlearn.federated import federate
from parlearn.federated.datasets import Dataset

PRODUCTS = ("chairs", "tables", "desks")
BASE_DEMAND = np.array([120.0, 60.0, 40.0])  # units per week per store at list price
LIST_PRICE = np.array([20.0, 30.0, 60.0])
UNIT_COST = np.array([8.0, 14.0, 31.0])
HOURS = np.array([0.5, 1.5, 2.0])  # machine hours per unit
WEEKS = 4
STORES = 12
CAPACITY = 2_600.0  # machine hours per week, for all stores: binding in busy weeks
HOLDING = 0.5  # cost of keeping one unit in stock for a week


def features(product: np.ndarray, price_ratio: np.ndarray, promo: np.ndarray, week: np.ndarray):
    """What the demand model sees: product (one-hot), price relative to list, promotion,
    season."""
    onehot = np.eye(len(PRODUCTS))[product]
    season = np.stack([np.sin(2 * np.pi * week / 52), np.cos(2 * np.pi * week / 52)], axis=1)
    interaction = onehot * (price_ratio - 1.0)[:, None]  # each product its own price response
    return np.column_stack([onehot, interaction, promo, season]).astype(np.float64)


def true_demand(product, price_ratio, promo, week, rng):
    season = 1 + 0.2 * np.sin(2 * np.pi * week / 52)
    elasticity = np.array([-1.5, -1.2, -0.8])[product]
    mean = BASE_DEMAND[product] * season * (1 + elasticity * (price_ratio - 1)) + 25 * promo
    return np.maximum(mean + rng.normal(0, 5, len(product)), 0)


def sales_history(seed: int = 0) -> Dataset:
    """Two years of weekly sales per store and product (what the stores keep)."""
    rng = np.random.default_rng(seed)
    store, week, product = np.meshgrid(
        np.arange(STORES), np.arange(104), np.arange(3), indexing="ij"
    )
    store, week, product = store.ravel(), week.ravel(), product.ravel()
    price_ratio = rng.uniform(0.8, 1.2, len(store))
    promo = (rng.random(len(store)) < 0.2).astype(float)
    y = true_demand(product, price_ratio, promo, week, rng) / 100  # hundreds of units
    X = features(product, price_ratio, promo, week)
    return Dataset(X=X, y=y, name="sales", num_classes=None, client_ids=store)


def production_model() -> tuple[optimize.Model, dict[str, optimize.VariableArray]]:
    """Make, store and sell each product each week; demand and prices come per scenario."""
    m = optimize.Model("production", sense="max")
    shape = (len(PRODUCTS), WEEKS)
    make = m.add_variables(shape, name="make")
    stock = m.add_variables(shape, name="stock")
    sell = m.add_variables(shape, name="sell", upper=0)  # the scenario sets the demand
    # stock[p, t] = stock[p, t-1] + make[p, t] - sell[p, t]
    m.add_constraints(stock[:, 0] - make[:, 0] + sell[:, 0] == 0, name="balance_first")
    m.add_constraints(stock[:, 1:] - stock[:, :-1] - make[:, 1:] + sell[:, 1:] == 0, name="balance")
    m.add_constraints(HOURS @ make <= CAPACITY, name="hours")
    margin = np.repeat(LIST_PRICE[:, None], WEEKS, axis=1)  # replaced per scenario
    m.maximize((margin * sell).sum() - (UNIT_COST[:, None] * make).sum() - HOLDING * stock.sum())
    return m, {"make": make, "stock": stock, "sell": sell}


def plans(count: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Price ratios and promotion flags per (product, week), one pair per plan."""
    rng = np.random.default_rng(seed)
    shape = (len(PRODUCTS), WEEKS)
    return [
        (
            rng.choice([0.85, 0.9, 1.0, 1.1, 1.2], size=shape),
            (rng.random(shape) < 0.3).astype(float),
        )
        for _ in range(count)
    ]


def main(num_plans: int = 40, rounds: int = 30, backend: str = "processes"):
    history = sales_history()
    trained = federate(history, partition="natural", model="linear", rounds=rounds,
                       local_epochs=2, learning_rate=0.05, batch_size=32, seed=0,
                       backend=backend)  # fmt: skip
    demand_model = trained.artifact
    print(f"demand model trained across {STORES} stores: "
          f"held-out loss {trained.history.rounds[-1].test_loss:.4f}")  # fmt: skip

    model, v = production_model()
    product, week = np.meshgrid(np.arange(3), np.arange(WEEKS), indexing="ij")
    scenarios, proposals = [], plans(num_plans)
    for price_ratio, promo in proposals:
        X = features(product.ravel(), price_ratio.ravel(), promo.ravel(), 104 + week.ravel())
        predicted = np.maximum(demand_model.predict(X), 0).reshape(product.shape) * 100 * STORES
        prices = LIST_PRICE[:, None] * price_ratio
        scenarios.append(optimize.Scenario(upper={v["sell"]: predicted}, cost={v["sell"]: prices}))

    results = list(optimize.solve_many(model, scenarios, backend=backend))
    profits = np.array([r.objective if r.ok else -np.inf for r in results])
    best = int(np.argmax(profits))
    print(f"{len(results)} plans solved, {sum(r.ok for r in results)} optimal; profit from "
          f"${profits.min():,.0f} to ${profits.max():,.0f}")  # fmt: skip
    print(f"best plan: #{best}, profit ${profits[best]:,.0f}")
    make = results[best][v["make"]]
    for p, name in enumerate(PRODUCTS):
        print(f"  {name:7s} price x{' x'.join(f'{r:.2f}' for r in proposals[best][0][p])}  "
              f"make {' '.join(f'{max(u, 0.0):6.0f}' for u in make[p])}")  # fmt: skip
    return results, best


if __name__ == "__main__":
    main()
