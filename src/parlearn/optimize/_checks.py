"""Find the line of a malformed LP or MPS file, and say what is wrong with it.

HiGHS reads the files (``_files.py``), but its messages name no line ("Parser error reading
model.lp"), and it reads some mistakes silently (``2.x`` as 2, LP text before the first
section skipped). These checkers walk the file first, in Python, and return the first problem
as ``(line number, reason)``, or None when they find nothing (then HiGHS reads it, and reports
what it still refuses).

MPS: sections ``NAME ROWS COLUMNS RHS RANGES BOUNDS ENDATA`` (and ``OBJSENSE``, ``OBJSENSE
MAX``, ``OBJNAME``), free format (fields split on blanks) with the fixed-format columns
(2-3, 5-12, 15-22, 25-36, 40-47, 50-61) as a second reading when names hold blanks.
LP: the CPLEX LP format as HiGHS reads it (objective, ``subject to``, ``bounds``, ``general``,
``binary``, ``end``), statement by statement across lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = ["check_lp", "check_mps"]

Problem = tuple[int, str]

_ROW_TYPES = {"N", "L", "G", "E"}
_BOUND_TYPES = {"UP", "LO", "FX", "FR", "MI", "PL", "BV", "LI", "UI", "SC"}
_NO_VALUE_BOUNDS = {"FR", "MI", "PL", "BV"}
_SECTIONS = {"NAME", "ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "ENDATA", "OBJSENSE",
             "OBJSENS", "OBJNAME", "SOS"}  # fmt: skip
_UNSUPPORTED = {"QUADOBJ", "QMATRIX", "QSECTION", "QCMATRIX", "CSECTION", "INDICATORS"}
# Fixed MPS fields (0-based slices): type, name 1, name 2, value 1, name 3, value 2.
_FIXED = [(1, 3), (4, 12), (14, 22), (24, 36), (39, 47), (49, 61)]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip("\r\n")


def _fixed_fields(line: str) -> list[str]:
    return [line[a:b].strip() for a, b in _FIXED if line[a:b].strip()]


class _MpsChecker:
    def __init__(self) -> None:
        self.section = ""
        self.rows: dict[str, str] = {}
        self.columns: set[str] = set()
        self.objective: str | None = None
        self.in_marker = False

    def header(self, number: int, line: str) -> Problem | None:
        words = line.split()
        name = words[0].upper()
        if name in _UNSUPPORTED:
            return number, f"section {name} (quadratic or indicator data) is not supported"
        if name not in _SECTIONS:
            return number, (
                f"unknown section {words[0]!r}; expected one of NAME, ROWS, COLUMNS, RHS, "
                "RANGES, BOUNDS, ENDATA (a data line must start with a blank)"
            )
        if (
            name in ("OBJSENSE", "OBJSENS")
            and len(words) > 1
            and (words[1].upper() not in ("MAX", "MAXIMIZE", "MIN", "MINIMIZE"))
        ):
            return number, f"OBJSENSE must be MAX or MIN, got {words[1]!r}"
        self.section = name
        return None

    def data(self, number: int, line: str) -> Problem | None:
        if not self.section:
            return number, "data before the first section; an MPS file starts with NAME or ROWS"
        if self.section == "ENDATA":
            return number, "data after ENDATA"
        check = getattr(self, f"_{self.section.lower()}", None)
        if check is None:  # NAME, OBJSENSE, OBJNAME, SOS: free text or not checked
            return None
        free: Problem | None = check(number, line.split())
        if free is None:
            return None
        fixed = _fixed_fields(line)
        if fixed and fixed != line.split() and check(number, fixed) is None:
            return None  # a fixed-format line whose names hold blanks
        return free

    def _rows(self, number: int, fields: list[str]) -> Problem | None:
        if len(fields) != 2:
            return number, f"a ROWS line is a type and a name, got {len(fields)} fields"
        kind, name = fields[0].upper(), fields[1]
        if kind not in _ROW_TYPES:
            return number, f"unknown row type {fields[0]!r} for row {name!r}; expected N, L, G or E"
        if name in self.rows:
            return number, f"row {name!r} is defined twice"
        self.rows[name] = kind
        if kind == "N" and self.objective is None:
            self.objective = name
        return None

    def _pairs(self, number: int, pairs: list[str], what: str) -> Problem | None:
        for row, text in zip(pairs[::2], pairs[1::2], strict=True):
            if row not in self.rows:
                return number, f"{what} names row {row!r}, which the ROWS section does not define"
            if _number(text) is None:
                return number, f"{text!r} is not a number (for row {row!r} in {what})"
        return None

    def _columns(self, number: int, fields: list[str]) -> Problem | None:
        if len(fields) == 3 and fields[1].strip("'\"").upper() == "MARKER":
            marker = fields[2].strip("'\"").upper()
            if marker not in ("INTORG", "INTEND"):
                return number, f"unknown MARKER {fields[2]!r}; expected 'INTORG' or 'INTEND'"
            return None
        if len(fields) not in (3, 5):
            return number, (
                "a COLUMNS line is a column name then one or two pairs of row name and value, "
                f"got {len(fields)} fields"
            )
        self.columns.add(fields[0])
        return self._pairs(number, fields[1:], f"column {fields[0]!r}")

    def _rhs(self, number: int, fields: list[str], what: str = "RHS") -> Problem | None:
        if len(fields) not in (2, 3, 4, 5):
            return number, (
                f"an {what} line is an optional set name then one or two pairs of row name "
                f"and value, got {len(fields)} fields"
            )
        pairs = fields[1:] if len(fields) % 2 else fields  # odd: a set name comes first
        problem = self._pairs(number, pairs, what)
        if problem is None and what == "RANGES":
            for row in pairs[::2]:
                if self.rows[row] == "N":
                    return (
                        number,
                        f"RANGES names the objective row {row!r}; ranges apply to L, G, E rows",
                    )
        return problem

    def _ranges(self, number: int, fields: list[str]) -> Problem | None:
        return self._rhs(number, fields, "RANGES")

    def _bounds(self, number: int, fields: list[str]) -> Problem | None:
        kind = fields[0].upper()
        if kind not in _BOUND_TYPES:
            return number, (
                f"unknown bound type {fields[0]!r}; expected one of "
                f"{', '.join(sorted(_BOUND_TYPES))}"
            )
        rest = fields[1:]
        if not rest:
            return number, f"bound {kind} names no column"
        if kind in _NO_VALUE_BOUNDS:
            # [set] column, sometimes with a value that is ignored
            if any(field in self.columns for field in rest[:2]):
                return None
            column = rest[0] if len(rest) == 1 else rest[1]
        elif len(rest) in (2, 3):
            column, value = rest[-2], rest[-1]
            if _number(value) is None:
                return number, f"{value!r} is not a number (bound {kind} of column {column!r})"
        else:
            return number, (
                "a BOUNDS line is a type, an optional set name, a column and a value, got "
                f"{len(fields)} fields"
            )
        if column not in self.columns:
            return (
                number,
                f"BOUNDS names column {column!r}, which the COLUMNS section does not define",
            )
        return None


def check_mps(path: str | Path) -> Problem | None:
    """The first problem in an MPS file as ``(line, reason)``, or None."""
    checker = _MpsChecker()
    last = 0
    for number, line in _lines(Path(path)):
        last = number
        if not line.strip() or line.lstrip().startswith("*"):
            continue
        problem = checker.data(number, line) if line[0] in " \t" else checker.header(number, line)
        if problem is not None:
            return problem
    if "ROWS" not in checker.section and not checker.rows:
        return max(last, 1), "no ROWS section: this does not look like an MPS file"
    if checker.section != "ENDATA":
        return max(last, 1), "the file ends without ENDATA (was it cut short?)"
    return None


# --------------------------------------------------------------------------- LP

_LP_SECTIONS = [
    (re.compile(r"^(minimi[sz]e|minimum|min|maximi[sz]e|maximum|max)$", re.I), "objective"),
    (re.compile(r"^(subject\s+to|such\s+that|st|s\.t\.)$", re.I), "constraints"),
    (re.compile(r"^bounds?$", re.I), "bounds"),
    (re.compile(r"^(generals?|gen|integers?)$", re.I), "integers"),
    (re.compile(r"^(binary|binaries|bin)$", re.I), "integers"),
    (re.compile(r"^(semi-continuous|semis?)$", re.I), "integers"),
    (re.compile(r"^sos[12]?$", re.I), "sos"),
    (re.compile(r"^end$", re.I), "end"),
]
_TOKEN = re.compile(
    r"\s*(?:(?P<op><=|>=|=<|=>|<|>|=)|(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<inf>[+-]?inf(?:inity)?\b)|(?P<sign>[+-])|(?P<colon>:)"
    r"|(?P<name>[A-Za-z_!\"#$%&()/,.;?@`'{}|~][\w!\"#$%&()/,.;?@`'{}|~\[\]^]*)|(?P<bad>\S))",
    re.I,
)


def _tokens(number: int, text: str) -> Iterator[tuple[int, str, str]]:
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is not None:
            yield number, kind, match.group(kind)


def _section_of(line: str) -> str | None:
    stripped = line.strip()
    for pattern, section in _LP_SECTIONS:
        if pattern.match(stripped):
            return section
    return None


def _check_statements(tokens: list[tuple[int, str, str]], constraints: bool) -> Problem | None:
    """Objective or constraints: ``[name:] terms [op rhs]`` repeated."""
    i, n = 0, len(tokens)
    while i < n:
        line = tokens[i][0]
        label = ""
        if i + 1 < n and tokens[i][1] == "name" and tokens[i + 1][1] == "colon":
            label, i = tokens[i][2], i + 2
        where = (
            f"constraint {label!r}"
            if label
            else ("a constraint" if constraints else "the objective")
        )
        expect_term = True
        ops = 0
        seen_name = False
        while i < n:
            ln, kind, text = tokens[i]
            if kind == "bad" and text == "[":
                return ln, (
                    f"quadratic terms ('[ ... ]') in {where}: parlearn.optimize solves linear "
                    "and mixed-integer linear programs only"
                )
            if kind == "bad":
                return ln, f"unexpected character {text!r} in {where}"
            if kind == "colon":
                return ln, f"unexpected ':' in {where} (a name must come first in a statement)"
            if kind == "op":
                if not constraints:
                    return ln, f"the objective cannot hold a comparison {text!r}"
                if not seen_name:
                    return ln, (
                        f"{where} starts with a number and a comparison (a range such as "
                        "'-2 <= x + y <= 4' has two comparisons); HiGHS's LP reader does not "
                        "take ranges: write two constraints, or use an MPS file (RANGES)"
                    )
                ops += 1
                i += 1
                # the right-hand side: [sign] number | inf
                if i < n and tokens[i][1] == "sign":
                    i += 1
                if i >= n or tokens[i][1] not in ("num", "inf"):
                    got = repr(tokens[i][2]) if i < n else "the end of the section"
                    return ln, f"{where} needs a number after {text!r}, got {got}"
                i += 1
                if i < n and tokens[i][1] == "op":
                    return tokens[i][0], (
                        f"{where} has two comparisons (a range); HiGHS's LP reader does not "
                        "take ranges: write two constraints, or use an MPS file (RANGES)"
                    )
                break
            if kind == "sign":
                expect_term = True
            elif kind in ("num", "inf"):
                if i + 1 < n and tokens[i + 1][1] in ("num",):
                    return tokens[i + 1][
                        0
                    ], f"two numbers in a row in {where}: missing '*' term or sign?"
                expect_term = True
            elif kind == "name":
                if not expect_term and i + 1 < n and tokens[i + 1][1] == "colon":
                    break  # the next statement starts
                expect_term = False
                seen_name = True
            i += 1
        else:
            if constraints and ops == 0:
                return line, f"{where} has no comparison (<=, >= or =) and right-hand side"
        if constraints and ops == 0 and i >= n:
            return line, f"{where} has no comparison (<=, >= or =) and right-hand side"
    return None


def _check_bound(tokens: list[tuple[int, str, str]]) -> Problem | None:
    number = tokens[0][0]
    kinds = [k for _, k, _ in tokens]
    texts = [t for _, _, t in tokens]
    if kinds[:1] == ["name"] and len(tokens) == 2 and texts[1].lower() in ("free", "unbounded"):
        return None
    simple = [k if k != "sign" else "" for k in kinds]
    shape = " ".join(k for k in simple if k).replace("inf", "num")
    if shape in ("name op num", "num op name", "num op name op num"):
        return None
    if "name" not in kinds:
        return number, "a bound names no variable"
    return number, (
        f"cannot read bound {' '.join(texts)!r}; write e.g. 'x <= 4', '-2 <= x <= 3', "
        "'x = 1' or 'x free'"
    )


def check_lp(path: str | Path) -> Problem | None:
    """The first problem in an LP file as ``(line, reason)``, or None."""
    section = None
    statements: list[tuple[int, str, str]] = []
    seen_end = False
    last = 0

    def finish(current: str | None) -> Problem | None:
        if current in ("objective", "constraints") and statements:
            return _check_statements(statements, constraints=current == "constraints")
        return None

    for number, raw in _lines(Path(path)):
        last = number
        line = raw.split("\\", 1)[0]
        if not line.strip():
            continue
        new_section = _section_of(line)
        if new_section is not None:
            problem = finish(section)
            if problem:
                return problem
            statements = []
            if seen_end:
                return number, "text after 'end'"
            section = new_section
            seen_end = new_section == "end"
            continue
        if section is None:
            return number, (f"expected 'minimize' or 'maximize' first, got {line.strip()!r}")
        if seen_end:
            return number, "text after 'end'"
        tokens = list(_tokens(number, line))
        if section in ("objective", "constraints"):
            statements.extend(tokens)
        elif section == "bounds":
            problem = _check_bound(tokens)
            if problem:
                return problem
        elif section == "integers":
            for ln, kind, text in tokens:
                if kind != "name":
                    return (
                        ln,
                        f"{text!r} is not a variable name (integer and binary sections list names)",
                    )
    problem = finish(section)
    if problem:
        return problem
    if section is None:
        return max(last, 1), "no objective section: this does not look like an LP file"
    return None
