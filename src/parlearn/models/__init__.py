"""parlearn.models: model maths shared by learn, federated and serve, and the model artifact
format (arrays plus JSON metadata in one ``.npz``; loading never executes code)."""

from parlearn.models._artifact import ModelArtifact, load_model, save_model

__all__ = ["ModelArtifact", "load_model", "save_model"]
