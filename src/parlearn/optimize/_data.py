"""AMPL / GLPK data files (``.dat``) read into plain Python structures, with ``amply``.

A model written once in Python is fed different data files::

    set PLANTS := seattle san_diego;                  ─► data["PLANTS"] == ["seattle", "san_diego"]
    param capacity := seattle 350 san_diego 600;      ─► {"seattle": 350.0, "san_diego": 600.0}
    param distance : new_york chicago :=              ─► {("seattle", "new_york"): 2.5, ...}
        seattle 2.5 1.7  san_diego 2.5 1.8 ;
    param f := 90;                                    ─► 90.0

amply reads AMPL's data syntax (lists, tables, ``[*, *, k]`` slices, tabbing ``param: a b :=``,
``default``) but wants each indexed parameter declared first, which a GLPK data file leaves to
its model file. So before amply sees a statement, :func:`_prepare` adds the declaration it
needs (``param cost {_, _};``) on the same line, with the number of indices read from the data:
tables have two, slices as many as their brackets, lists the fewest that make every value a
number. A file's own declarations (``param cost {PLANTS, MARKETS};``) are used as they are, and
``dims={"cost": 2}`` settles a list whose keys are numbers too. Statements go to amply one at a
time, so an error names its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from parlearn.errors import MissingDependencyError
from parlearn.optimize._errors import MalformedFileError

__all__ = ["ParamTable", "parse_data", "read_data"]

_TOKEN = re.compile(r"'[^']*'|\"[^\"]*\"|:=|[\[\](){},:]|[^\s\[\](){},:;'\"]+")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_PLAIN = re.compile(r"^[A-Za-z0-9_.+-]*$")
_SAFE_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_KEYWORDS = {"param", "set", "default", "dimen", "data", "end", "within", "in"}
MAX_DIMS = 8


class ParamTable(dict[Any, Any]):
    """A parameter's values by key; keys absent from the file give ``default`` when the file
    declared one (``param cost default 0 := ...``), a ``KeyError`` otherwise."""

    def __init__(self, values: Mapping[Any, Any], default: Any = None) -> None:
        super().__init__(values)
        self.default = default

    def __missing__(self, key: Any) -> Any:
        if self.default is None:
            raise KeyError(key)
        return self.default


def _mask_comments(text: str) -> str:
    """``#`` comments blanked out (quotes respected), keeping every offset and line."""
    out = []
    quote = ""
    in_comment = False
    for ch in text:
        if in_comment:
            if ch == "\n":
                in_comment = False
                out.append(ch)
            else:
                out.append(" ")
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            in_comment = True
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _statements(text: str) -> list[tuple[int, str]]:
    """``(offset, text)`` of each ``;``-terminated statement (quotes respected)."""
    found, start, quote = [], 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            found.append((start, text[start:i]))
            start = i + 1
    if text[start:].strip():
        found.append((start, text[start:]))
    return found


def _is_value(token: str) -> bool:
    return bool(_NUMBER.match(token)) or token == "."


def _infer_dims(values: list[str], per_record: int) -> int | None:
    """The fewest indices ``d`` for which records of ``d`` keys and ``per_record`` values
    cover the tokens exactly, with every value a number."""
    for dims in range(1, MAX_DIMS + 1):
        width = dims + per_record
        if len(values) % width:
            continue
        if all(_is_value(values[k]) for k in range(len(values)) if k % width >= dims):
            return dims
    return None


def _declaration(kind: str, name: str, dims: int, default: str | None = None) -> str:
    if kind == "set":
        return f"set {name} dimen {dims}; "
    tail = f" default {default}" if default is not None else ""
    return f"param {name} {{{', '.join('_' for _ in range(dims))}}}{tail}; "


def _prepare(text: str, dims: Mapping[str, int]) -> tuple[str, list[tuple[int, str]]]:
    """Statements ready for amply: declarations added, awkward words quoted."""
    text = _mask_comments(text)
    declared: set[str] = set()
    prepared = []
    for offset, statement in _statements(text):
        tokens = [(m.start(), m.group()) for m in _TOKEN.finditer(statement)]
        words = [t for _, t in tokens]
        if not words:
            continue
        added = ""
        if words[0] == "param" and len(words) > 1:
            added = _param_declarations(words, declared, dims)
        elif words[0] == "set" and len(words) > 2:
            name = words[1]
            if "dimen" in words or "{" in words or "[" in words[:3]:
                declared.add(name)
            elif ":=" in words and name not in declared:
                body = words[words.index(":=") + 1 :]
                if body[:1] == ["("]:
                    closing = body.index(")") if ")" in body else len(body)
                    added = _declaration("set", name, body[1:closing].count(",") + 1)
                declared.add(name)
        # amply's grammar reads "san-diego" as a broken number: quote such words.
        quoted = statement
        for start, token in reversed(tokens):
            awkward = not _SAFE_WORD.match(token) and _PLAIN.match(token)
            if token[0] not in "'\"" and awkward and not _is_value(token):
                quoted = quoted[:start] + f"'{token}'" + quoted[start + len(token) :]
        lead = len(quoted) - len(quoted.lstrip())
        prepared.append((offset + lead, quoted[:lead] + added + quoted[lead:] + ";"))
    return text, prepared


def _param_declarations(words: list[str], declared: set[str], dims: Mapping[str, int]) -> str:
    if ":=" not in words:  # a declaration, e.g. param cost {PLANTS, MARKETS};
        if len(words) > 1 and words[1] != ":":
            declared.add(words[1])
        return ""
    assign = words.index(":=")
    header, body = words[1:assign], words[assign + 1 :]
    plain_body = [w for w in body if w not in ("(", ")", ",")]
    if header and header[0] == ":":  # tabbing: param [default v] : [SET :] p1 p2 := ...
        names = [w for w in header[1:] if w != ":"]
        if ":" in header[1:]:
            names = header[len(header) - 1 - header[::-1].index(":") + 1 :]
        missing = [n for n in names if n not in declared]
        declared.update(names)
        if not missing:
            return ""
        inferred = _infer_dims(plain_body, len(names)) or 1
        return "".join(_declaration("param", n, dims.get(n, inferred)) for n in missing)
    name = words[1]
    default = None
    if len(header) > 2 and header[1] == "default":  # param NAME default V := ...
        default = header[2]
        header = [header[0], *header[3:]]
    if name in declared or name in _KEYWORDS:
        return ""
    declared.add(name)
    if name in dims:
        return _declaration("param", name, dims[name], default)
    if "[" in body:
        start = body.index("[")
        end = body.index("]", start) if "]" in body[start:] else len(body)
        slice_dims = len([w for w in body[start + 1 : end] if w != ","])
        return _declaration("param", name, slice_dims, default)
    after_name = header[1:] if header and header[0] == name else header
    if ":" in after_name or (body and ":" in body[:1]):
        return _declaration("param", name, 2, default)  # a table: rows x columns
    if len(plain_body) <= 1:
        return ""  # a scalar
    list_dims = _infer_dims(plain_body, 1)
    return _declaration("param", name, list_dims, default) if list_dims else ""


def _key(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, tuple):
        return tuple(_key(v) for v in value)
    return value


def _flatten(tree: Any, prefix: tuple[Any, ...] = ()) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in tree.items():
        path = (*prefix, _key(key))
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        else:
            out[path if len(path) > 1 else path[0]] = value
    return out


def _convert(symbol: Any) -> Any:
    kind = type(symbol).__name__
    if kind == "SetObject":
        return [_key(tuple(e)) if isinstance(e, list | tuple) else _key(e) for e in symbol.data]
    if kind == "ParamObject":
        default = getattr(symbol, "default", None)
        if isinstance(default, type):  # amply's NoDefault marker class
            default = None
        return ParamTable(_flatten(symbol.data), default)
    if isinstance(symbol, float):
        return symbol
    return symbol


def parse_data(
    text: str, *, source: str | Path = "<string>", dims: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """AMPL/GLPK data in ``text`` as ``{name: value}``: sets as lists (tuples for
    multi-dimensional ones), indexed parameters as :class:`ParamTable` dicts (tuple keys for
    two or more indices), scalars as floats. Integral numbers used as keys become ints."""
    try:
        import amply
        from pyparsing import ParseBaseException
    except ImportError as exc:  # pragma: no cover - installed with the extra
        raise MissingDependencyError("amply", "optimize", "reading AMPL data files") from exc
    masked, statements = _prepare(text, dict(dims or {}))
    data = amply.Amply("")
    for offset, statement in statements:
        line = masked.count("\n", 0, offset) + 1
        words = statement.split()
        if words and words[0] in ("data", "end"):  # the markers of a combined model file
            continue
        try:
            data.load_string(statement)
        except ParseBaseException as exc:
            raise MalformedFileError(
                source,
                line + exc.lineno - 1,
                f"cannot read {_excerpt(statement)!r}: {exc.msg} (at {exc.line.strip()[:40]!r})",
            ) from None
        except Exception as exc:  # amply raises AmplyError, AssertionError, TypeError, ...
            detail = str(exc) or type(exc).__name__
            raise MalformedFileError(
                source,
                line,
                f"cannot read {_excerpt(statement)!r}: {detail}; check the number of values "
                "per key, or declare the parameter's indices first (param NAME {A, B};)",
            ) from None
    return {name: _convert(symbol) for name, symbol in data.symbols.items()}


def _excerpt(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


def read_data(path: str | Path, *, dims: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Read an AMPL/GLPK data file; see :func:`parse_data` for what comes back."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no data file at {str(path)!r}") from None
    return parse_data(text, source=path, dims=dims)
