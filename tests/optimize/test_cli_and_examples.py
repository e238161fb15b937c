"""``parlearn solve`` as a user runs it, and every example in examples/."""

from __future__ import annotations

import itertools
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parlearn.cli import app
from tests.optimize.conftest import EXAMPLES

runner = CliRunner()

INFEASIBLE_LP = """Minimize
 obj: x
Subject To
 c1: x >= 5
 c2: x <= 3
End
"""


def test_solve_an_mps_file_prints_status_objective_and_a_table(netlib: Path) -> None:
    out = runner.invoke(app, ["solve", str(netlib / "afiro.mps")])
    assert out.exit_code == 0, out.output
    assert "status: optimal" in out.output
    assert "objective: -464.7531429" in out.output
    assert "non-zero variables (13)" in out.output and "X01" in out.output


def test_json_output(netlib: Path) -> None:
    out = runner.invoke(app, ["solve", str(netlib / "kb2.mps"), "--json", "--duals"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "optimal" and data["model"] == "kb2"
    assert data["objective"] == pytest.approx(-1749.9001299, rel=1e-8)
    assert data["variables"] and data["duals"]


def test_not_optimal_exits_2_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "impossible.lp"
    path.write_text(INFEASIBLE_LP)
    out = runner.invoke(app, ["solve", str(path)])
    assert out.exit_code == 2
    assert "status: infeasible" in out.output and "objective: -" in out.output
    out = runner.invoke(app, ["solve", str(path), "--json"])
    assert out.exit_code == 2 and json.loads(out.stdout)["objective"] is None


def test_malformed_file_is_one_line_with_the_line_number(tmp_path: Path) -> None:
    path = tmp_path / "broken.lp"
    path.write_text(INFEASIBLE_LP.replace("x <= 3", "x <="))
    proc = subprocess.run(
        [sys.executable, "-m", "parlearn.cli", "solve", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"{path}:5:" in proc.stderr and "needs a number after '<='" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_model_with_an_ampl_data_file(tmp_path: Path) -> None:
    model = tmp_path / "knap.py"
    model.write_text(
        "from parlearn import optimize\n"
        "def build(data):\n"
        "    m = optimize.Model('knap', sense='max')\n"
        "    items = data['ITEMS']\n"
        "    take = {i: m.add_variable(f'take_{i}', binary=True) for i in items}\n"
        "    m.add_constraint(optimize.quicksum(data['weight'][i] * take[i] for i in items)"
        " <= data['capacity'])\n"
        "    m.maximize(optimize.quicksum(data['value'][i] * take[i] for i in items))\n"
        "    return m\n"
    )
    data = tmp_path / "knap.dat"
    data.write_text(
        "set ITEMS := a b c d;\nparam capacity := 10;\n"
        "param: weight value := a 5 10  b 4 40  c 6 30  d 3 50;\n"
    )
    out = runner.invoke(app, ["solve", str(model), str(data), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["objective"] == pytest.approx(90) and result["is_mip"]
    assert set(result["variables"]) == {"take_b", "take_d"}
    bad = runner.invoke(app, ["solve", str(data), str(data)])
    assert bad.exit_code != 0


def test_convert_with_write(netlib: Path, tmp_path: Path) -> None:
    target = tmp_path / "afiro.lp"
    out = runner.invoke(app, ["solve", str(netlib / "afiro.mps"), "--write", str(target)])
    assert out.exit_code == 0 and target.read_text().startswith("\\")
    again = runner.invoke(app, ["solve", str(target), "--json"])
    assert json.loads(again.stdout)["objective"] == pytest.approx(-464.75314286, rel=1e-8)


def test_solve_every_netlib_file_from_the_command_line(netlib: Path) -> None:
    for path in sorted(netlib.glob("*.mps")):
        out = runner.invoke(app, ["solve", str(path), "--json"])
        assert out.exit_code == 0, (path.name, out.output)


# --------------------------------------------------------------------------- examples


def run_example(name: str, monkeypatch: pytest.MonkeyPatch) -> dict:  # type: ignore[type-arg]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return runpy.run_path(str(EXAMPLES / name))


def test_furniture_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_example("furniture.py", monkeypatch)["main"]()
    assert result.objective == pytest.approx(280)
    text = capsys.readouterr().out
    assert "make 2 desks" in text and "make 8 chairs" in text and "make 0 tables" in text
    assert "finishing     $ 10.00" in text and "[16, 24]" in text


def test_tsp_example_is_optimal_and_draws_the_tour(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    module = run_example("tsp.py", monkeypatch)
    out = tmp_path / "tour.png"
    result, tour = module["main"](16, out)
    assert result.ok and result.mip_gap == pytest.approx(0, abs=1e-6)
    assert sorted(tour) == list(range(16))  # one tour through every city
    points = module["cities"](16)
    closed = [*tour, tour[0]]
    length = sum(
        float(((points[a] - points[b]) ** 2).sum() ** 0.5) for a, b in itertools.pairwise(closed)
    )
    assert length == pytest.approx(result.objective, rel=1e-6)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_then_optimize_example(monkeypatch: pytest.MonkeyPatch) -> None:
    module = run_example("predict_then_optimize.py", monkeypatch)
    results, best = module["main"](num_plans=8, rounds=10)
    assert len(results) == 8 and all(r.ok for r in results)
    assert [r.scenario for r in results] == list(range(8))
    assert results[best].objective == max(r.objective for r in results)
