"""A scikit-learn-like model for the serving tests, loaded from a pickle with ``--trusted``.

Each row is ``[seconds, value]``: ``predict`` sleeps the largest ``seconds`` of its rows (so a
test makes one request slow), then returns ``2 * value`` per row; a row with ``seconds ==
-1`` makes the whole call raise (a request that breaks the model). Every call's size is
appended to ``calls_file`` when set, so a test can see the batches the server made.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray


class SlowModel:
    n_features_in_ = 2

    def predict(self, X: NDArray[Any]) -> NDArray[np.float64]:
        seconds = X[:, 0]
        if (seconds == -1).any():
            raise ValueError("a row asked the model to fail")
        time.sleep(float(max(seconds.max(), 0.0)))
        return np.asarray(X[:, 1] * 2.0, dtype=np.float64)
