"""The files a federated run leaves in its output folder.

- ``history.json``: settings and every round;
- ``metrics.csv``: one row per round (loss, accuracy, client accuracy mean / worst 10% / std,
  time);
- ``curves.png``: accuracy and loss per round (needs matplotlib: ``pip install
  'parlearn[federated]'``);
- ``model.npz``: the final global model as a parlearn model artifact (loads without executing
  code; the format ``parlearn serve`` is planned to serve).
"""

from __future__ import annotations

import os
from pathlib import Path

from parlearn.errors import MissingDependencyError
from parlearn.federated._history import History
from parlearn.models import ModelArtifact, save_model

__all__ = ["plot_history", "write_outputs"]


def plot_history(history: History, path: str | os.PathLike[str]) -> Path:
    """Accuracy (left) and loss (right) per round, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("matplotlib", "federated", "plotting the curves") from exc
    rounds = [r.round for r in history.rounds]
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = [
        ("test_accuracy", "test accuracy (held-out)", "-"),
        ("client_accuracy_mean", "client accuracy, mean", "--"),
        ("client_accuracy_worst10", "client accuracy, worst 10%", ":"),
    ]
    for name, label, style in series:
        _line(acc_ax, rounds, history.column(name), label, style)
    from matplotlib.ticker import MaxNLocator

    for ax in (acc_ax, loss_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_ax.set_xlabel("round")
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0.0, 1.0)
    acc_ax.grid(alpha=0.3)
    if acc_ax.get_lines():
        acc_ax.legend(loc="lower right")
    for name, label, style in (
        ("train_loss", "training loss (clients)", "-"),
        ("test_loss", "test loss (held-out)", "--"),
    ):
        _line(loss_ax, rounds, history.column(name), label, style)
    loss_ax.set_xlabel("round")
    loss_ax.set_ylabel("loss")
    loss_ax.grid(alpha=0.3)
    if loss_ax.get_lines():
        loss_ax.legend(loc="upper right")
    title = f"{history.settings.get('strategy', '')} · {history.settings.get('num_clients', '?')} clients"
    fig.suptitle(title)
    fig.tight_layout()
    target = Path(path)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def _line(
    ax: object, rounds: list[int], values: list[float | None], label: str, style: str
) -> None:
    points = [(r, v) for r, v in zip(rounds, values, strict=True) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, style, label=label, marker="o", markersize=3)  # type: ignore[attr-defined]


def write_outputs(
    history: History, out_dir: str | os.PathLike[str], artifact: ModelArtifact | None
) -> dict[str, Path]:
    """Write every output of a run into ``out_dir`` (created if needed); returns the paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "history": history.write_json(folder / "history.json"),
        "metrics": history.write_csv(folder / "metrics.csv"),
        "plot": plot_history(history, folder / "curves.png"),
    }
    if artifact is not None:
        written["model"] = save_model(folder / "model.npz", artifact)
    return written
