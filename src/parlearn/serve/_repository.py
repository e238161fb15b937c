"""Which models a path holds, under which names and versions, and finding them per request.

``discover_models`` runs in the master, before any worker starts, so a bad path fails fast;
each worker then loads the files it found (after fork) into a :class:`ModelRepository`.

A path is one model file, or a folder laid out like this (the layout Triton and KServe use,
plus single files)::

    models/
      digits.npz             -> digits, version 1
      mlp.onnx               -> mlp, version 1
      federate/model.npz     -> federate, version 1   (a folder holding one model file)
      fraud/1/model.skops    -> fraud, version 1
      fraud/2/model.onnx     -> fraud, version 2      (the latest: what requests get by default)

Files that are not models (``history.json``, ``curves.png``, ...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from parlearn.serve._errors import ModelLoadError, RequestError
from parlearn.serve._loaders import MODEL_SUFFIXES, PICKLE_SUFFIXES, Predictor

__all__ = ["ModelEntry", "ModelRepository", "ModelSource", "discover_models", "version_key"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ModelSource:
    """A model file and the name and version it is served under."""

    name: str
    version: str
    path: Path


@dataclass
class ModelEntry:
    """A model loaded in this worker."""

    name: str
    version: str
    path: Path
    predictor: Predictor


def version_key(version: str) -> tuple[int, int, str]:
    """Numeric versions in numeric order, after them the others in text order."""
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


def _model_files(folder: Path, trusted: bool) -> list[Path]:
    suffixes = (
        MODEL_SUFFIXES if trusted else tuple(s for s in MODEL_SUFFIXES if s not in PICKLE_SUFFIXES)
    )
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _check_name(name: str, where: Path) -> str:
    if not _NAME.match(name):
        raise ModelLoadError(
            f"{str(where)!r} gives the model name {name!r}; names may hold only letters, digits, "
            "'_', '.' and '-' and must start with a letter or digit (rename it, or pass --name)"
        )
    return name


def _single(folder: Path, trusted: bool) -> Path | None:
    files = _model_files(folder, trusted)
    if len(files) > 1:
        raise ModelLoadError(
            f"{str(folder)!r} holds {len(files)} model files ({', '.join(p.name for p in files)}); "
            "a model or version folder must hold exactly one"
        )
    return files[0] if files else None


def discover_models(
    path: Path, *, name: str | None = None, trusted: bool = False
) -> list[ModelSource]:
    """The models under ``path`` (a model file or a folder), sorted by name and version.

    Pickle files count only when ``trusted``. ``name`` renames a single model."""
    if not path.exists():
        raise ModelLoadError(f"no such file or folder: {str(path)!r}")
    if path.is_file():
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise ModelLoadError(
                f"cannot serve {str(path)!r}: unknown model format {path.suffix!r}; parlearn "
                f"serve reads {', '.join(MODEL_SUFFIXES)}"
            )
        return [ModelSource(_check_name(name or path.stem, path), "1", path)]

    found: dict[str, list[ModelSource]] = {}

    def add(source: ModelSource) -> None:
        versions = found.setdefault(source.name, [])
        clash = [s for s in versions if s.version == source.version]
        if clash:
            raise ModelLoadError(
                f"two files claim model {source.name!r} version {source.version}: "
                f"{str(clash[0].path)!r} and {str(source.path)!r}; rename one"
            )
        versions.append(source)

    for file in _model_files(path, trusted):
        add(ModelSource(_check_name(file.stem, file), "1", file))
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        direct = _single(folder, trusted)
        if direct is not None:
            add(ModelSource(_check_name(folder.name, folder), "1", direct))
            continue
        for version in sorted(
            (p for p in folder.iterdir() if p.is_dir()), key=lambda p: version_key(p.name)
        ):
            versioned = _single(version, trusted)
            if versioned is not None:
                name_of = _check_name(folder.name, folder)
                add(ModelSource(name_of, _check_name(version.name, version), versioned))

    sources = [s for versions in found.values() for s in versions]
    if not sources:
        hint = "" if trusted else " (pickle files count only with --trusted)"
        raise ModelLoadError(
            f"no model files in {str(path)!r}: looked for {', '.join(MODEL_SUFFIXES)} files in it, "
            f"in its sub-folders and in their version sub-folders{hint}"
        )
    if name is not None:
        if len(found) > 1:
            raise ModelLoadError(
                f"--name renames a single model, but {str(path)!r} holds {len(found)} "
                f"({', '.join(sorted(found))}); rename the files instead"
            )
        sources = [ModelSource(_check_name(name, path), s.version, s.path) for s in sources]
    return sorted(sources, key=lambda s: (s.name, version_key(s.version)))


class ModelRepository:
    """The loaded models of one worker, by name and version; lookups raise the 404/422 errors
    a request deserves."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._by_name: dict[str, dict[str, ModelEntry]] = {}
        for entry in entries:
            self._by_name.setdefault(entry.name, {})[entry.version] = entry
        self._latest = {
            name: versions[max(versions, key=version_key)]
            for name, versions in self._by_name.items()
        }

    def __iter__(self) -> Iterator[ModelEntry]:
        for versions in self._by_name.values():
            yield from versions.values()

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_name.values())

    def versions(self, name: str) -> list[str]:
        return sorted(self._by_name[name], key=version_key)

    def describe(self) -> str:
        return ", ".join(
            f"{name} (version{'s' if len(v) > 1 else ''} {', '.join(self.versions(name))})"
            for name, v in sorted(self._by_name.items())
        )

    def get(self, name: str, version: str | None = None) -> ModelEntry:
        """The named model, its latest version unless ``version`` is given."""
        versions = self._by_name.get(name)
        if versions is None:
            raise RequestError(404, f"no model named {name!r}; this server has: {self.describe()}")
        if version is None:
            return self._latest[name]
        entry = versions.get(version)
        if entry is None:
            raise RequestError(
                404,
                f"model {name!r} has no version {version!r}; it has "
                f"{', '.join(self.versions(name))}",
            )
        return entry

    def default(self) -> ModelEntry:
        """The model of a request that names none: the only one there is."""
        if len(self._by_name) == 1:
            return next(iter(self._latest.values()))
        raise RequestError(
            422,
            f"this server has {len(self._by_name)} models ({self.describe()}); name one with "
            '"model" in the body, or use POST /v2/models/{name}/infer',
            field="model",
        )
