"""``parlearn federate``: the federated simulation from the command line.

A live view while it runs (a table of the latest rounds and a progress bar; one plain line per
round when the output is not a terminal), a summary table at the end, and the run's files in
``--out``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from parlearn.federated._history import RoundRecord

__all__ = ["federate_command"]

SHOWN_ROUNDS = 8  # rows of the live table: enough to see the trend, small enough to fit


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _rounds_table(records: list[RoundRecord], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("round", "right"),
        ("train loss", "right"),
        ("test loss", "right"),
        ("test acc", "right"),
        ("client acc mean", "right"),
        ("worst 10%", "right"),
        ("failures", "right"),
        ("seconds", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in records:
        table.add_row(
            str(r.round),
            _fmt(r.train_loss),
            _fmt(r.test_loss),
            _fmt(r.test_accuracy),
            _fmt(r.client_accuracy_mean),
            _fmt(r.client_accuracy_worst10),
            str(r.fit_failures),
            f"{r.seconds:.3f}",
        )
    return table


class _LiveView:
    """Round-by-round display: a live table on a terminal, plain lines elsewhere."""

    def __init__(self, console: Console, rounds: int) -> None:
        self.console = console
        self.records: list[RoundRecord] = []
        self.progress = Progress(
            TextColumn("[bold]federating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rounds"),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("rounds", total=rounds)
        self.live: Live | None = None
        if console.is_terminal:
            self.live = Live(self._render(), console=console, refresh_per_second=8)

    def _render(self) -> Group:
        return Group(_rounds_table(self.records[-SHOWN_ROUNDS:]), self.progress)

    def __enter__(self) -> _LiveView:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def on_round(self, record: RoundRecord) -> None:
        self.records.append(record)
        self.progress.advance(self.task)
        if self.live is not None:
            self.live.update(self._render())
        else:
            self.console.print(
                f"round {record.round:>3}  loss {_fmt(record.train_loss)}  "
                f"test acc {_fmt(record.test_accuracy)}  "
                f"clients {_fmt(record.client_accuracy_mean)}  "
                f"failed {record.fit_failures}  {record.seconds:.2f}s",
                highlight=False,
                soft_wrap=True,
            )


def federate_command(
    dataset: Annotated[
        str,
        typer.Option(
            help="digits, synthetic, synthetic(ALPHA,BETA), or a path to .npz / .csv / an "
            "MNIST IDX folder."
        ),
    ] = "digits",
    clients: Annotated[int, typer.Option(min=1, help="Number of simulated clients.")] = 10,
    rounds: Annotated[int, typer.Option(min=1, help="Federated rounds.")] = 20,
    strategy: Annotated[
        str, typer.Option(help="fedavg, fedprox, fedavgm, fedadam, fedyogi or fedadagrad.")
    ] = "fedavg",
    partition: Annotated[
        str, typer.Option(help="iid, dirichlet (label skew), shards, or natural (client ids).")
    ] = "dirichlet",
    alpha: Annotated[
        float, typer.Option(min=1e-6, help="Dirichlet concentration: smaller = more skew.")
    ] = 0.5,
    shards: Annotated[int, typer.Option(min=1, help="Shards per client (--partition shards).")] = 2,
    fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of clients that train each round.")
    ] = 1.0,
    local_epochs: Annotated[int, typer.Option(min=1, help="Local epochs per round.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Local mini-batch size.")] = 16,
    lr: Annotated[float, typer.Option(min=0.0, help="Local learning rate.")] = 0.5,
    model: Annotated[str, typer.Option(help="logistic (classes) or linear (regression).")] = (
        "logistic"
    ),
    proximal_mu: Annotated[float, typer.Option(min=0.0, help="FedProx proximal term mu.")] = 0.0,
    server_lr: Annotated[
        float | None,
        typer.Option(help="Server learning rate (fedavgm; eta for fedadam/yogi/adagrad)."),
    ] = None,
    server_momentum: Annotated[
        float | None, typer.Option(help="Server momentum (fedavgm).")
    ] = None,
    stragglers: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of selected clients that straggle.")
    ] = 0.0,
    straggler_policy: Annotated[
        str, typer.Option(help="partial: keep stragglers' partial work; drop: discard them.")
    ] = "partial",
    dropout: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of selected clients that drop out.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same model, any worker count.")] = 0,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes.", show_default="all cores")
    ] = None,
    backend: Annotated[str, typer.Option(help="processes, threads, serial or ray.")] = "processes",
    out: Annotated[Path, typer.Option(help="Folder for history, metrics, plot and model.")] = Path(
        "runs/federate"
    ),
) -> None:
    """Train one model across simulated clients whose data never leaves them (FedAvg & co.).

    With no options: scikit-learn's digits, 10 clients with Dirichlet(0.5) label skew, FedAvg,
    multinomial logistic regression, 20 rounds, all cores.
    """
    from parlearn.federated.experiment import federate
    from parlearn.federated.report import write_outputs

    console = Console()
    strategy_options: dict[str, Any] = {}
    name = strategy.lower()
    if server_lr is not None:
        strategy_options["server_learning_rate" if name == "fedavgm" else "eta"] = server_lr
    if server_momentum is not None:
        strategy_options["server_momentum"] = server_momentum
    console.print(
        f"[bold]parlearn federate[/bold]: {dataset}, {clients} clients ({partition}"
        f"{f', alpha={alpha:g}' if partition == 'dirichlet' else ''}), {strategy}, "
        f"{model} regression, {rounds} rounds",
        highlight=False,
    )
    started = time.perf_counter()
    with _LiveView(console, rounds) as view:
        result = federate(
            dataset,
            num_clients=clients,
            partition=partition,
            alpha=alpha,
            shards_per_client=shards,
            strategy=strategy,
            strategy_options=strategy_options,
            rounds=rounds,
            fraction_fit=fraction,
            local_epochs=local_epochs,
            batch_size=batch_size,
            learning_rate=lr,
            model=model,
            proximal_mu=proximal_mu,
            stragglers=stragglers,
            straggler_policy=straggler_policy,  # type: ignore[arg-type]
            dropout=dropout,
            seed=seed,
            workers=workers,
            backend=backend,
            on_round=view.on_round,
        )
    took = time.perf_counter() - started
    history = result.history
    shown = history.rounds if len(history.rounds) <= 12 else history.rounds[-5:]
    console.print(
        _rounds_table(
            shown, title="summary (last rounds)" if shown != history.rounds else "summary"
        )
    )
    written = write_outputs(history, out, result.artifact)
    final = history.final
    assert final is not None
    accuracy = final.test_accuracy
    console.print(
        f"final test accuracy: [bold]{_fmt(accuracy)}[/bold]  "
        f"(client accuracy mean {_fmt(final.client_accuracy_mean)}, worst 10% "
        f"{_fmt(final.client_accuracy_worst10)}) in {took:.1f} s on "
        f"{history.settings.get('workers')} {backend} workers",
        highlight=False,
    )
    console.print("wrote " + ", ".join(str(p) for p in written.values()), highlight=False)
