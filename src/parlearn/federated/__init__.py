"""parlearn.federated: train one model across clients whose data never leaves them.

>>> from parlearn import federated
>>> result = federated.federate("digits", num_clients=10, rounds=20)   # doctest: +SKIP
>>> result.accuracy                                                      # doctest: +SKIP

- :func:`federate`: a whole experiment (data, partition, clients, strategy, simulation, model);
- :func:`simulate`: the engine, for your own clients (``client_fn(cid)``, Flower clients too);
- strategies (``parlearn.federated.strategy``), partitioners (``.partition``), datasets and
  loaders (``.datasets``), the built-in client (``.client``), outputs (``.report``).
"""

from parlearn.federated._history import History, RoundRecord
from parlearn.federated._types import (
    ClientFailure,
    Config,
    EvaluateResult,
    FitResult,
    Metrics,
    Parameters,
)
from parlearn.federated.client import ArrayClient, Client, local_sgd
from parlearn.federated.datasets import (
    Dataset,
    load_csv,
    load_dataset,
    load_digits,
    load_idx,
    load_npz,
    make_synthetic,
    train_test_split,
)
from parlearn.federated.experiment import FederateResult, federate
from parlearn.federated.partition import (
    Partition,
    partition_dirichlet,
    partition_iid,
    partition_natural,
    partition_shards,
    train_test_split_per_client,
)
from parlearn.federated.report import plot_history, write_outputs
from parlearn.federated.simulation import simulate
from parlearn.federated.strategy import (
    FedAdagrad,
    FedAdam,
    FedAvg,
    FedAvgM,
    FedProx,
    FedYogi,
    Strategy,
    make_strategy,
)

__all__ = [
    "ArrayClient",
    "Client",
    "ClientFailure",
    "Config",
    "Dataset",
    "EvaluateResult",
    "FedAdagrad",
    "FedAdam",
    "FedAvg",
    "FedAvgM",
    "FedProx",
    "FedYogi",
    "FederateResult",
    "FitResult",
    "History",
    "Metrics",
    "Parameters",
    "Partition",
    "RoundRecord",
    "Strategy",
    "federate",
    "load_csv",
    "load_dataset",
    "load_digits",
    "load_idx",
    "load_npz",
    "local_sgd",
    "make_strategy",
    "make_synthetic",
    "partition_dirichlet",
    "partition_iid",
    "partition_natural",
    "partition_shards",
    "plot_history",
    "simulate",
    "train_test_split",
    "train_test_split_per_client",
    "write_outputs",
]
