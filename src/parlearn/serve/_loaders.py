"""Loading one model file into a :class:`Predictor`: one interface over three formats.

====================  =================  ===============================================
file                  platform           how it loads
====================  =================  ===============================================
``*.npz``             parlearn           ``parlearn.models.load_model`` (no pickle, ever)
``*.onnx``            onnxruntime        an ``InferenceSession`` on the CPU
``*.skops``           sklearn            ``skops.io.load``; types outside skops' trusted
                                         list only with ``trusted=True``
``*.pkl`` ``*.joblib``  sklearn          only with ``trusted=True``: unpickling runs code
====================  =================  ===============================================

A predictor says what it takes (one input tensor: rows x features), what it gives (named
outputs, one row per input row), whether it takes NaN, and whether rows may be batched; its
one method, :meth:`Predictor.infer`, computes the outputs asked for.
"""

from __future__ import annotations

import contextlib
import pickle
import warnings
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from parlearn.errors import MissingDependencyError
from parlearn.serve._errors import ModelLoadError
from parlearn.serve._tensors import TensorSpec, datatype_of, numpy_dtype

__all__ = ["MODEL_SUFFIXES", "PICKLE_SUFFIXES", "Predictor", "load_predictor"]

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
MODEL_SUFFIXES = (".npz", ".onnx", ".skops", *PICKLE_SUFFIXES)
Outputs = dict[str, NDArray[Any]]

# onnxruntime's element type names and the protocol's datatypes.
_ONNX_TYPES = {
    "float": "FP32", "double": "FP64", "float16": "FP16", "bool": "BOOL", "string": "BYTES",
    "int8": "INT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
    "uint8": "UINT8", "uint16": "UINT16", "uint32": "UINT32", "uint64": "UINT64",
}  # fmt: skip


class Predictor(ABC):
    """A loaded model behind one call: rows in, named outputs (one row per input row) out."""

    platform: ClassVar[str]

    def __init__(
        self,
        input_spec: TensorSpec,
        outputs: Sequence[TensorSpec],
        *,
        allows_nan: bool,
        batchable: bool,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        if not outputs:
            raise ValueError("a predictor needs at least one output")
        self.input = input_spec
        self.outputs = tuple(outputs)
        self.allows_nan = allows_nan
        self.batchable = batchable
        self.parameters = parameters or {}
        dtype = numpy_dtype(input_spec.datatype)
        self.dtype: np.dtype[Any] = np.dtype(np.float64) if dtype is None else dtype

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one row (``-1``: any size)."""
        return self.input.shape[1:]

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    @abstractmethod
    def infer(self, X: NDArray[Any], outputs: Collection[str]) -> Outputs:
        """The outputs named in ``outputs`` for the rows of ``X`` (already of :attr:`dtype`)."""

    def warm_up(self) -> None:
        """One call on zero rows of each batch size the server will see first, so the first
        request pays no first-call cost; a model whose outputs do not have one row per input
        row is marked unbatchable."""
        shape = tuple(1 if d < 0 else d for d in self.feature_shape)
        for rows in (1, 2):
            result = self.infer(np.zeros((rows, *shape), dtype=self.dtype), self.output_names)
            if any(np.ndim(v) == 0 or len(v) != rows for v in result.values()):
                self.batchable = False


# --------------------------------------------------------------------------- parlearn


class ArtifactPredictor(Predictor):
    """A parlearn model artifact (``logistic``: class ids and probabilities; ``linear``:
    real values). Computes with ``parlearn.models.linear``."""

    platform = "parlearn"

    def __init__(self, path: Path) -> None:
        from parlearn.models import linear, load_model

        try:
            artifact = load_model(path)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(str(exc)) from exc
        self._linear = linear
        self.kind = artifact.kind
        self._params = [np.ascontiguousarray(p) for p in artifact.parameters]
        if self.kind not in linear.KINDS or len(self._params) != 2:
            raise ModelLoadError(f"{str(path)!r}: cannot serve model kind {artifact.kind!r}")
        features = int(self._params[0].shape[0])
        outputs = [TensorSpec("predict", "INT64" if self.kind == "logistic" else "FP64", (-1,))]
        if self.kind == "logistic":
            classes = int(self._params[0].shape[1])
            outputs.append(TensorSpec("predict_proba", "FP64", (-1, classes)))
        meta = {k: v for k, v in artifact.metadata.items() if k != "feature_names"}
        super().__init__(
            TensorSpec("input-0", "FP64", (-1, features)),
            outputs,
            allows_nan=False,
            batchable=True,
            parameters={"kind": self.kind, **meta},
        )

    def infer(self, X: NDArray[Any], outputs: Collection[str]) -> Outputs:
        if self.kind == "linear":
            return {"predict": self._linear.predict("linear", self._params, X)}
        if "predict_proba" not in outputs:
            return {"predict": self._linear.predict("logistic", self._params, X)}
        proba = self._linear.predict_proba(self._params, X)
        return {"predict": np.argmax(proba, axis=1), "predict_proba": proba}


# --------------------------------------------------------------------------- onnx


class OnnxPredictor(Predictor):
    """An ONNX model run by onnxruntime on the CPU, ``threads`` threads per call."""

    platform = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime", "serve", "serving ONNX models") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle workers must not spin on cores their neighbours need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"{str(path)!r} is not a valid ONNX model: {exc}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise ModelLoadError(
                f"{str(path)!r} has {len(inputs)} inputs ({names}); parlearn serve takes ONNX "
                "models with one input tensor (rows x features)"
            )
        self._input_name = inputs[0].name
        input_spec = _onnx_spec(inputs[0], path)
        outputs = [
            _onnx_spec(o, path) for o in self._session.get_outputs() if o.type.startswith("tensor(")
        ]
        if not outputs:
            raise ModelLoadError(
                f"{str(path)!r} has no tensor outputs (only maps or sequences); convert it with "
                "tensor outputs, e.g. skl2onnx's options={'zipmap': False}"
            )
        if input_spec.datatype == "BYTES" or len(input_spec.shape) < 2:
            raise ModelLoadError(
                f"{str(path)!r}: input {self._input_name!r} is {input_spec.datatype} of shape "
                f"{list(input_spec.shape)}; parlearn serve takes a numeric input of rows "
                "(batch first, e.g. [-1, 64])"
            )
        super().__init__(input_spec, outputs, allows_nan=False, batchable=input_spec.shape[0] == -1)

    def infer(self, X: NDArray[Any], outputs: Collection[str]) -> Outputs:
        names = [n for n in self.output_names if n in outputs]
        values = self._session.run(names, {self._input_name: X})
        return {n: np.asarray(v) for n, v in zip(names, values, strict=True)}


def _onnx_spec(node: Any, path: Path) -> TensorSpec:
    element = str(node.type)[len("tensor(") : -1]
    if element not in _ONNX_TYPES:
        raise ModelLoadError(
            f"{str(path)!r}: tensor {node.name!r} has unsupported type {node.type}"
        )
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (node.shape or []))
    return TensorSpec(node.name, _ONNX_TYPES[element], shape)


# --------------------------------------------------------------------------- scikit-learn


class EstimatorPredictor(Predictor):
    """A scikit-learn estimator (or any object with ``predict``, and maybe ``predict_proba``)."""

    platform = "sklearn"

    def __init__(self, model: Any, path: Path) -> None:
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(
                f"{str(path)!r} holds a {type(model).__name__}, which has no predict method"
            )
        self._model = model
        features = getattr(model, "n_features_in_", None)
        width = int(features) if isinstance(features, int | np.integer) else 1
        input_spec = TensorSpec("input-0", "FP64", (-1, width if features is not None else -1))
        probe = np.zeros((1, width))
        outputs = [_probe_spec("predict", self._call(model.predict, probe))]
        if callable(getattr(model, "predict_proba", None)):
            # Some estimators have the method but not in their configuration (SVC without
            # probability=True): then the model has no predict_proba output.
            with contextlib.suppress(Exception):
                proba = self._call(model.predict_proba, probe)
                outputs.append(_probe_spec("predict_proba", proba))
        super().__init__(
            input_spec,
            outputs,
            allows_nan=_allows_nan(model),
            batchable=True,
            parameters={"class": f"{type(model).__module__}.{type(model).__qualname__}"},
        )

    @staticmethod
    def _call(method: Any, X: NDArray[Any]) -> NDArray[Any]:
        with warnings.catch_warnings():
            # A model fitted on a DataFrame warns on every array it is given.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(method(X))

    def infer(self, X: NDArray[Any], outputs: Collection[str]) -> Outputs:
        result = {"predict": self._call(self._model.predict, X)} if "predict" in outputs else {}
        if "predict_proba" in outputs:
            result["predict_proba"] = self._call(self._model.predict_proba, X)
        return result


def _probe_spec(name: str, value: NDArray[Any]) -> TensorSpec:
    return TensorSpec(name, datatype_of(value.dtype), (-1, *value.shape[1:]))


def _allows_nan(model: Any) -> bool:
    try:  # scikit-learn >= 1.6
        return bool(model.__sklearn_tags__().input_tags.allow_nan)
    except Exception:  # older scikit-learn, or not an estimator: assume NaN is not taken
        return False


# --------------------------------------------------------------------------- loading


def load_predictor(path: Path, *, trusted: bool = False, threads: int = 1) -> Predictor:
    """Load one model file by its suffix; raises :class:`ModelLoadError` naming the file."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ModelLoadError(f"no model file at {str(path)!r}")
    if suffix == ".npz":
        return ArtifactPredictor(path)
    if suffix == ".onnx":
        return OnnxPredictor(path, threads)
    if suffix == ".skops":
        return EstimatorPredictor(_load_skops(path, trusted), path)
    if suffix in PICKLE_SUFFIXES:
        if not trusted:
            raise ModelLoadError(
                f"refusing to load {str(path)!r}: loading a pickle runs any code it holds. Pass "
                "--trusted (trusted=True) only if you trust this file, or save the model with "
                "skops.io.dump and serve the .skops file"
            )
        return EstimatorPredictor(_unpickle(path), path)
    raise ModelLoadError(
        f"cannot serve {str(path)!r}: unknown model format {suffix!r}; parlearn serve reads "
        f"{', '.join(MODEL_SUFFIXES)}"
    )


def _load_skops(path: Path, trusted: bool) -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise MissingDependencyError("skops", "serve", "serving .skops models") from exc
    try:
        untrusted = sio.get_untrusted_types(file=path)
        if untrusted and not trusted:
            raise ModelLoadError(
                f"refusing to load {str(path)!r}: it holds types skops does not trust by "
                f"default: {', '.join(untrusted)}. Pass --trusted (trusted=True) only if you "
                "trust this file"
            )
        return sio.load(path, trusted=untrusted or None)
    except ModelLoadError:
        raise
    except Exception as exc:  # skops raises many kinds for a broken file
        raise ModelLoadError(f"{str(path)!r} is not a valid skops file: {exc}") from exc


def _unpickle(path: Path) -> Any:
    try:
        if path.suffix.lower() == ".joblib":
            import joblib

            return joblib.load(path)
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception as exc:  # unpickling can fail in any way the file's code chooses
        raise ModelLoadError(f"could not unpickle {str(path)!r}: {exc}") from exc
