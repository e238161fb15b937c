"""The ``parlearn`` command line, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from parlearn import __version__
from parlearn.cli import app, burn
from parlearn.models import load_model

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"parlearn {__version__}"


def test_help_lists_demo() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_demo_runs_and_checks_results() -> None:
    result = runner.invoke(app, ["demo", "--tasks", "8", "--task-ms", "2", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "speedup" in result.output
    assert "Verdict" in result.output


def test_burn_is_deterministic() -> None:
    assert burn((3, 1000)) == burn((3, 1000))
    assert burn((3, 1000)) != burn((4, 1000))


def test_bad_option_is_one_clear_line_not_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parlearn.cli", "demo", "--tasks", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "--tasks" in done.stderr


def test_federate_writes_its_outputs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["federate", "--rounds", "3", "--clients", "4", "--workers", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "final test accuracy" in result.output
    history = json.loads((out / "history.json").read_text())
    assert [r["round"] for r in history["rounds"]] == [1, 2, 3]
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("round,") and len(rows) == 4
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    model = load_model(out / "model.npz")
    assert model.kind == "logistic" and model.parameters[0].shape == (64, 10)


def test_federate_bad_option_is_one_clear_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parlearn.cli", "federate", "--partition", "zipf", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "unknown partition 'zipf'" in done.stderr


def test_federate_options_of_another_strategy_are_refused() -> None:
    result = runner.invoke(app, ["federate", "--rounds", "1", "--server-lr", "0.1"])
    assert result.exit_code == 2
    assert "--server-lr applies to" in result.output
    result = runner.invoke(app, ["federate", "--rounds", "1", "--strategy", "fedprox"])
    assert result.exit_code == 2
    assert "--proximal-mu" in result.output


def test_federate_reads_a_csv_file(tmp_path: Path) -> None:
    rows = ["a,b,label"] + [f"{i % 3},{(i * 7) % 5},{i % 2}" for i in range(40)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(
        app,
        ["federate", "--dataset", str(tmp_path / "data.csv"), "--label-column", "label",
         "--clients", "2", "--partition", "iid", "--rounds", "2", "--out", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "o" / "model.npz").parameters[0].shape == (2, 2)
