"""parlearn: parallel and federated machine learning.

Layers (dependencies point down only)::

    parlearn CLI
    federated · learn · serve · optimize · lab     capabilities
    parallel                                       the engine
"""

from parlearn._version import __version__

__all__ = ["__version__"]
