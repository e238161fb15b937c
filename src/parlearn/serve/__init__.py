"""parlearn.serve: trained models behind a production HTTP API with many workers.

``parlearn serve PATH`` (or :func:`serve`) runs gunicorn's pre-fork master with uvicorn
workers; each worker loads the models after the fork and answers the Open Inference Protocol
(KServe v2) and a plain ``POST /predict``, with adaptive micro-batching, validation that names
the field at fault, Prometheus metrics and request ids. See ``docs/serving.md``.

Needs the ``serve`` extra: ``pip install 'parlearn[serve]'``.
"""

from parlearn.serve._app import create_app
from parlearn.serve._config import BatchPolicy, ServeConfig
from parlearn.serve._errors import ModelLoadError, RequestError
from parlearn.serve._loaders import MODEL_SUFFIXES, Predictor, load_predictor
from parlearn.serve._repository import ModelSource, discover_models
from parlearn.serve._runner import serve

__all__ = [
    "MODEL_SUFFIXES",
    "BatchPolicy",
    "ModelLoadError",
    "ModelSource",
    "Predictor",
    "RequestError",
    "ServeConfig",
    "create_app",
    "discover_models",
    "load_predictor",
    "serve",
]
