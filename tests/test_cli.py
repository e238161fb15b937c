"""The ``parlearn`` command line, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from parlearn import __version__
from parlearn.cli import app, burn

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
