"""LP and MPS files: round trips, fixed format, RANGES, offsets, and errors with line numbers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from parlearn import optimize
from parlearn.optimize import MalformedFileError, Model


def ranged_model() -> Model:
    m = Model("ranged", sense="max")
    x = m.add_variable("x", upper=4)
    y = m.add_variable("y", integer=True, lower=-2, upper=6)
    z = m.add_variable("z", lower=-math.inf)
    m.add_range(x + y + z, 1, 8, name="band")
    m.add_constraint(x - z <= 3, name="cap")
    m.add_constraint(y + z >= -1, name="floor")
    m.maximize(3 * x + 2 * y + z + 5)
    return m


@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_round_trip_keeps_the_optimum(tmp_path: Path, suffix: str) -> None:
    m = ranged_model()
    want = m.solve()
    path = m.write(tmp_path / f"model{suffix}")
    back = optimize.read(path)
    got = back.solve()
    assert got.status is want.status and got.objective == pytest.approx(want.objective)
    assert back.sense == "max" and back.num_integer == 1
    assert back.arrays().offset == pytest.approx(5)
    assert back.variable("y").is_integer
    if suffix == ".mps":  # MPS keeps the range as one row; LP splits it into two
        assert back.num_constraints == 3
        assert back.names().rows == ["band", "cap", "floor"]


def test_array_names_survive_both_formats(tmp_path: Path) -> None:
    m = Model()
    x = m.add_variables((2, 2), name="ship")
    m.add_constraints(x.sum(axis=1) >= 1, name="need")
    m.minimize(x.sum())
    for suffix in (".lp", ".mps"):
        back = optimize.read(m.write(tmp_path / f"m{suffix}"))
        assert "ship(1,0)" in back.names().columns


def fixed_line(*fields: str) -> str:
    """A fixed-format MPS data line: fields in columns 2-3, 5-12, 15-22, 25-36, 40-47, 50-61."""
    starts = [1, 4, 14, 24, 39, 49]
    line = ""
    for start, field in zip(starts, fields, strict=False):
        line = line.ljust(start) + field
    return line


FIXED = "\n".join(
    [
        "NAME          FIXEDEX",
        "ROWS",
        fixed_line("N", "COST"),
        fixed_line("L", "LIM 1"),
        fixed_line("G", "LIM 2"),
        "COLUMNS",
        fixed_line("", "X ONE", "COST", "1.0", "LIM 1", "1.0"),
        fixed_line("", "X ONE", "LIM 2", "1.0"),
        fixed_line("", "Y TWO", "COST", "2.0", "LIM 1", "1.0"),
        "RHS",
        fixed_line("", "RHS", "LIM 1", "4.0", "LIM 2", "1.0"),
        "RANGES",
        fixed_line("", "RNG", "LIM 1", "2.5"),
        "BOUNDS",
        fixed_line("UP", "BND", "Y TWO", "3.0"),
        "ENDATA",
        "",
    ]
)


def test_fixed_format_with_blanks_in_names_and_ranges(tmp_path: Path) -> None:
    path = tmp_path / "fixed.mps"
    path.write_text(FIXED)
    m = optimize.read(path)
    assert m.names().columns == ["X ONE", "Y TWO"]
    lim1 = m.constraint("LIM 1")
    assert (lim1.lower, lim1.upper) == (1.5, 4.0)  # L row with range 2.5: [4 - 2.5, 4]
    r = m.solve()
    assert r.objective == pytest.approx(1.5)  # min x + 2y: x = 1.5 meets LIM 1's lower end
    forced = optimize.read(path, format="fixed-mps")
    assert forced.solve().objective == pytest.approx(1.5)


def test_format_from_argument_for_other_extensions(tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text(FIXED)
    assert optimize.read(path, format="mps").num_variables == 2
    with pytest.raises(ValueError, match="cannot tell the format"):
        optimize.read(path)
    with pytest.raises(FileNotFoundError, match="no model file"):
        optimize.read(tmp_path / "missing.mps")


GOOD_MPS = """\
NAME          GOOD
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    X         COST         1.0   LIM1         1.0
    X         LIM2         1.0
    Y         COST         2.0   LIM1         1.0
RHS
    RHS       LIM1         4.0   LIM2         1.0
RANGES
    RNG       LIM1         2.5
BOUNDS
 UP BND       Y            3.0
ENDATA
"""


@pytest.mark.parametrize(
    ("broken", "line", "reason"),
    [
        (GOOD_MPS.replace(" G  LIM2", " X  LIM2"), 5, "unknown row type 'X'"),
        (GOOD_MPS.replace("COST         2.0", "COST         2.x"), 9, "'2.x' is not a number"),
        (GOOD_MPS.replace("RHS       LIM1", "RHS       LIM9"), 11, "row 'LIM9'"),
        (GOOD_MPS.replace(" UP BND       Y", " UP BND       W"), 15, "column 'W'"),
        (GOOD_MPS.replace("    Y         COST", "    Y         COSTS"), 9, "row 'COSTS'"),
        (GOOD_MPS.replace(" UP BND", " XX BND"), 15, "unknown bound type 'XX'"),
        (GOOD_MPS.replace("RANGES", "RANGERS"), 12, "unknown section 'RANGERS'"),
        (GOOD_MPS.replace("ENDATA\n", ""), 15, "without ENDATA"),
    ],
)  # fmt: skip
def test_malformed_mps_names_the_line(tmp_path: Path, broken: str, line: int, reason: str) -> None:
    path = tmp_path / "broken.mps"
    path.write_text(broken)
    with pytest.raises(MalformedFileError, match=reason) as info:
        optimize.read(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")


GOOD_LP = """\\ a comment
Maximize
 obj: 3 x + 2 y
Subject To
 c1: x + y <= 4
 c2: x + 3 y
     <= 6
Bounds
 x <= 3
General
 y
End
"""


def test_good_lp_with_a_constraint_over_two_lines(tmp_path: Path) -> None:
    path = tmp_path / "good.lp"
    path.write_text(GOOD_LP)
    r = optimize.read(path).solve()
    assert r.objective == pytest.approx(11)


@pytest.mark.parametrize(
    ("broken", "line", "reason"),
    [
        (GOOD_LP.replace("     <= 6", "     <="), 7, "needs a number after '<='"),
        (GOOD_LP.replace(" c1: x + y <= 4", " c1: -2 <= x + y <= 4"), 5, "two comparisons"),
        (GOOD_LP.replace(" c1: x + y <= 4", " c1: x + y * 4"), 5, "unexpected character"),
        (GOOD_LP.replace(" x <= 3", " x <= <= 3"), 9, "cannot read bound"),
        (GOOD_LP.replace("Maximize\n", "hello\n"), 2, "expected 'minimize' or 'maximize'"),
    ],
)
def test_malformed_lp_names_the_line(tmp_path: Path, broken: str, line: int, reason: str) -> None:
    path = tmp_path / "broken.lp"
    path.write_text(broken)
    with pytest.raises(MalformedFileError, match=reason) as info:
        optimize.read(path)
    assert info.value.line == line


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    m = ranged_model()
    m.write(tmp_path / "a.lp")
    m.write(tmp_path / "a.lp")  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.lp"]
    assert (tmp_path / "a.lp").stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- Netlib


def _netlib_cases() -> list[str]:
    from tests.optimize.conftest import netlib_folder

    folder = netlib_folder()
    if folder is None:
        return ["(missing)"]
    with open(folder / "optimal_values.csv") as handle:
        return [row["name"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize("name", _netlib_cases())
def test_netlib_problem_solves_to_its_published_optimum(netlib: Path, name: str) -> None:
    with open(netlib / "optimal_values.csv") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    row = rows[name]
    model = optimize.read(netlib / f"{name}.mps")
    assert model.num_constraints + 1 == int(row["rows"])  # the table counts the objective row
    assert model.num_variables == int(row["cols"])
    result = model.solve()
    assert result.ok, result.message
    want = float(row["optimal_value"])
    # Netlib leaves the objective constant out (e226's RHS on the objective row); we follow
    # HiGHS and CPLEX and include it, so compare c x.
    got = result.objective - model.arrays().offset
    assert abs(got - want) <= 1e-6 * max(1.0, abs(want)), (got, want)


def test_e226_objective_constant_convention(netlib: Path) -> None:
    model = optimize.read(netlib / "e226.mps")
    result = model.solve()
    assert model.arrays().offset == pytest.approx(7.113)  # RHS -7.113 on the objective row
    assert result.objective == pytest.approx(-11.638929066, rel=1e-8)
    assert result.objective - 7.113 == pytest.approx(-18.751929066, rel=1e-8)


def test_netlib_round_trip_through_our_writer(netlib: Path, tmp_path: Path) -> None:
    for name in ("boeing2", "forplan", "blend"):  # RANGES, blanks in names, blank RHS set
        model = optimize.read(netlib / f"{name}.mps")
        back = optimize.read(model.write(tmp_path / f"{name}.mps"))
        assert back.solve().objective == pytest.approx(model.solve().objective, rel=1e-9)
        np.testing.assert_allclose(back.arrays().row_lower, model.arrays().row_lower)
