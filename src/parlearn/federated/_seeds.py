"""Seeds for clients: one independent stream per (run, round, client).

Derived where the client runs (in the workers, not on the server) so a round's many
derivations are spread over the workers; the value is the same wherever it is computed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["client_seed"]


def client_seed(seed: int, server_round: int, cid: int) -> int:
    """The seed a client gets in its config: independent streams per (run, round, client)."""
    return int(np.random.SeedSequence([seed, server_round, cid]).generate_state(1)[0])
