"""``parlearn federate``: the federated simulation from the command line.

A live view while it runs (a table of the latest rounds and a progress bar; one plain line per
round when the output is not a terminal), a summary table at the end, and the run's files in
``--out``.
"""

from __future__ import annotations

import time
from enum import Enum
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
# Strategy options of the command line and the strategies they belong to.
SERVER_LR_KEYS = {"fedavgm": "server_learning_rate", "fedadam": "eta", "fedyogi": "eta",
                  "fedadagrad": "eta"}  # fmt: skip


class SimBackend(str, Enum):
    """Where simulated clients run (``async`` needs coroutine clients, so it is not offered)."""

    processes = "processes"
    threads = "threads"
    serial = "serial"
    ray = "ray"


def _strategy_options(
    strategy: str, server_lr: float | None, server_momentum: float | None
) -> dict[str, Any]:
    name = strategy.lower()
    options: dict[str, Any] = {}
    if server_lr is not None:
        if name not in SERVER_LR_KEYS:
            raise typer.BadParameter(
                f"--server-lr applies to {', '.join(SERVER_LR_KEYS)}, not {strategy}",
                param_hint="--server-lr",
            )
        options[SERVER_LR_KEYS[name]] = server_lr
    if server_momentum is not None:
        if name != "fedavgm":
            raise typer.BadParameter(
                f"--server-momentum applies to fedavgm, not {strategy}",
                param_hint="--server-momentum",
            )
        options["server_momentum"] = server_momentum
    return options


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
    label_column: Annotated[
        str | None, typer.Option(help="CSV: the label column (name or index).")
    ] = None,
    client_column: Annotated[
        str | None,
        typer.Option(
            help="CSV/.npz: the column (or .npz key) of client ids, for --partition natural."
        ),
    ] = None,
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
    fraction_evaluate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of clients that evaluate each round."),
    ] = 1.0,
    local_epochs: Annotated[int, typer.Option(min=1, help="Local epochs per round.")] = 1,
    batch_size: Annotated[int, typer.Option(min=1, help="Local mini-batch size.")] = 16,
    lr: Annotated[float, typer.Option(min=0.0, help="Local learning rate.")] = 0.5,
    model: Annotated[str, typer.Option(help="logistic (classes) or linear (regression).")] = (
        "logistic"
    ),
    proximal_mu: Annotated[
        float | None, typer.Option(min=0.0, help="FedProx proximal term mu (fedprox only).")
    ] = None,
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
    backend: Annotated[
        SimBackend, typer.Option(help="Where the clients run.")
    ] = SimBackend.processes,
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
    if not console.is_terminal:
        console = Console(width=120)  # logs and pipes: wide enough for the tables
    strategy_options = _strategy_options(strategy, server_lr, server_momentum)
    if (strategy.lower() == "fedprox") != (proximal_mu is not None):
        raise typer.BadParameter(
            "--strategy fedprox needs --proximal-mu (the FedProx paper tries 0.001 to 1), "
            "and --proximal-mu applies to fedprox only",
            param_hint="--proximal-mu",
        )
    dataset_options: dict[str, Any] = {}
    if label_column is not None:
        dataset_options["label_column"] = _column(label_column)
    if client_column is not None:
        key = "client_key" if dataset.endswith(".npz") else "client_column"
        dataset_options[key] = _column(client_column)
    if stragglers > 0 and straggler_policy == "partial" and local_epochs == 1:
        console.print(
            "[yellow]note:[/yellow] with --local-epochs 1 a partial-work straggler does the "
            "whole epoch anyway; raise --local-epochs to simulate partial work",
            highlight=False,
        )
    who = "natural clients" if partition == "natural" else f"{clients} clients"
    console.print(
        f"[bold]parlearn federate[/bold]: {dataset}, {who} ({partition}"
        f"{f', alpha={alpha:g}' if partition == 'dirichlet' else ''}), {strategy}, "
        f"{model} regression, {rounds} rounds",
        highlight=False,
    )
    started = time.perf_counter()
    with _LiveView(console, rounds) as view:
        result = federate(
            dataset,
            dataset_options=dataset_options,
            num_clients=clients,
            partition=partition,
            alpha=alpha,
            shards_per_client=shards,
            strategy=strategy,
            strategy_options=strategy_options,
            rounds=rounds,
            fraction_fit=fraction,
            fraction_evaluate=fraction_evaluate,
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
            backend=backend.value,
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
    where = f"{history.settings.get('workers')} workers ({backend.value})"
    if final.test_accuracy is not None:
        console.print(
            f"final test accuracy: [bold]{_fmt(final.test_accuracy)}[/bold]  "
            f"(client accuracy mean {_fmt(final.client_accuracy_mean)}, worst 10% "
            f"{_fmt(final.client_accuracy_worst10)}) in {took:.1f} s on {where}",
            highlight=False,
        )
    else:
        console.print(
            f"final test loss: [bold]{_fmt(final.test_loss)}[/bold] in {took:.1f} s on {where}",
            highlight=False,
        )
    console.print("wrote " + ", ".join(str(p) for p in written.values()), highlight=False)
    failed_rounds = [r for r in history.rounds if r.fit_clients == 0]
    if failed_rounds:
        reasons = "; ".join(failed_rounds[-1].failure_reasons[:2]) or "unknown"
        console.print(
            f"[bold red]warning:[/bold red] no client update was aggregated in "
            f"{len(failed_rounds)} of {len(history.rounds)} rounds; e.g. {reasons}",
            highlight=False,
        )
        if len(failed_rounds) == len(history.rounds):
            raise typer.Exit(1)


def _column(value: str) -> str | int:
    """A column given on the command line: a position if it is a number, else a name."""
    return int(value) if value.isdigit() else value
