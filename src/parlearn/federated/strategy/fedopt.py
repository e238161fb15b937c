"""FedOpt: adaptive server optimisers (FedAdam, FedYogi, FedAdagrad).

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan, "Adaptive Federated
Optimization", ICLR 2021, arXiv:2003.00295 (Algorithm 2). Clients train as in FedAvg; the
server treats ``average - current`` as a pseudo-gradient and applies Adam, Yogi or Adagrad
to it. The maths is in :mod:`.aggregate`; :class:`FedOpt` keeps the moments ``m`` and ``v``
between rounds, and each subclass picks its ``v`` update.

Defaults are Flower's (``flwr.server.strategy``): ``eta = eta_l = 0.1``, ``beta_1 = 0.9``,
``beta_2 = 0.99``, ``tau = 1e-9``; FedAdagrad has no momentum by default (``beta_1 = 0``), as in
Flower. State starts at ``m = 0``, ``v = tau^2`` (the paper's bound; Flower starts ``v`` at 0).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

from parlearn.federated._types import Parameters
from parlearn.federated.strategy._base import Strategy
from parlearn.federated.strategy.aggregate import (
    check_client_average,
    check_shapes,
    fedadagrad_step,
    fedadam_step,
    fedopt_initial_state,
    fedyogi_step,
)

__all__ = ["FedAdagrad", "FedAdam", "FedOpt", "FedYogi"]


class FedOpt(Strategy):
    """Shared base of the adaptive server optimisers: hyper-parameters and the moments.

    - ``eta``: server learning rate;
    - ``eta_l``: the clients' learning rate in the paper, kept for parity with Flower; it is
      not sent to clients (set the local learning rate through ``on_fit_config_fn``);
    - ``beta_1``: first-moment (momentum) decay, in [0, 1);
    - ``beta_2``: second-moment decay, in [0, 1) (unused by FedAdagrad);
    - ``tau``: adaptivity floor, > 0; the step is ``eta * m / (sqrt(v) + tau)``.

    Other keyword arguments are :class:`Strategy`'s. The moments ``m_`` and ``v_`` live for one
    run, a sequence of increasing server rounds: a round number not after the last one starts
    a new run from fresh moments, and :meth:`reset` clears them by hand. Parameters whose shapes
    differ from the moments' within a run raise ValueError.
    """

    def __init__(
        self,
        *,
        eta: float = 1e-1,
        eta_l: float = 1e-1,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        tau: float = 1e-9,
        **kwargs: Any,
    ) -> None:
        for name, value in (("eta", eta), ("eta_l", eta_l)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(
                    f"{name} must be a finite number > 0, got {value!r}; the default is 0.1"
                )
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(
                    f"{name} must be in [0, 1), got {value!r}; 0 keeps no history, "
                    "values near 1 a long one (defaults: beta_1=0.9, beta_2=0.99)"
                )
        if not (math.isfinite(tau) and tau > 0):
            raise ValueError(
                f"tau must be a finite number > 0, got {tau!r}; it keeps the step's denominator "
                "sqrt(v) + tau away from 0 (the default is 1e-9; the paper tunes it up to 1e-1)"
            )
        super().__init__(**kwargs)
        self.eta = eta
        self.eta_l = eta_l
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.tau = tau
        self.m_: Parameters | None = None
        self.v_: Parameters | None = None
        self._last_round: int | None = None

    @abstractmethod
    def server_step(
        self, current: Parameters, average: Parameters, m: Parameters, v: Parameters
    ) -> tuple[Parameters, Parameters, Parameters]:
        """One round of this optimiser: ``(new parameters, m, v)``."""

    def reset(self) -> None:
        """Forget the moments: the next round starts as round 1 of a new run."""
        self.m_ = None
        self.v_ = None
        self._last_round = None

    def aggregate(self, server_round: int, current: Parameters, average: Parameters) -> Parameters:
        check_client_average(current, average)
        if self._last_round is not None and server_round <= self._last_round:
            self.reset()
        if self.m_ is None or self.v_ is None:
            m, v = fedopt_initial_state(current, tau=self.tau)
        else:
            m, v = self.m_, self.v_
            check_shapes(
                m,
                current,
                expected_name="the moments from earlier rounds",
                actual_name="the global model",
                fix="the model changed shape mid-run; call reset() before training a new model",
            )
        new, self.m_, self.v_ = self.server_step(current, average, m, v)
        self._last_round = server_round
        return new

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(eta={self.eta}, beta_1={self.beta_1}, "
            f"beta_2={self.beta_2}, tau={self.tau}, fraction_fit={self.fraction_fit})"
        )


class FedAdam(FedOpt):
    """Adam on the server: ``v = beta_2*v + (1 - beta_2)*d^2``."""

    def server_step(
        self, current: Parameters, average: Parameters, m: Parameters, v: Parameters
    ) -> tuple[Parameters, Parameters, Parameters]:
        return fedadam_step(
            current, average, m, v, eta=self.eta, beta1=self.beta_1, beta2=self.beta_2, tau=self.tau
        )


class FedYogi(FedOpt):
    """Yogi on the server: ``v = v - (1 - beta_2)*d^2*sign(v - d^2)``."""

    def server_step(
        self, current: Parameters, average: Parameters, m: Parameters, v: Parameters
    ) -> tuple[Parameters, Parameters, Parameters]:
        return fedyogi_step(
            current, average, m, v, eta=self.eta, beta1=self.beta_1, beta2=self.beta_2, tau=self.tau
        )


class FedAdagrad(FedOpt):
    """Adagrad on the server: ``v = v + d^2``. ``beta_1`` defaults to 0 (no momentum), as in
    Flower; the paper's Algorithm 2 allows any ``beta_1``. ``beta_2`` does not apply."""

    def __init__(
        self,
        *,
        eta: float = 1e-1,
        eta_l: float = 1e-1,
        beta_1: float = 0.0,
        tau: float = 1e-9,
        **kwargs: Any,
    ) -> None:
        super().__init__(eta=eta, eta_l=eta_l, beta_1=beta_1, beta_2=0.0, tau=tau, **kwargs)

    def server_step(
        self, current: Parameters, average: Parameters, m: Parameters, v: Parameters
    ) -> tuple[Parameters, Parameters, Parameters]:
        return fedadagrad_step(
            current, average, m, v, eta=self.eta, beta1=self.beta_1, tau=self.tau
        )

    def __repr__(self) -> str:
        return (
            f"FedAdagrad(eta={self.eta}, beta_1={self.beta_1}, tau={self.tau}, "
            f"fraction_fit={self.fraction_fit})"
        )
