from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("highspy", reason="parlearn.optimize needs the optimize extra")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def netlib_folder() -> Path | None:
    """The Netlib problems: ../shared/data/netlib beside the repository (CI clones it there),
    or PARLEARN_NETLIB if set."""
    import os

    candidates = [REPO.parent / "shared" / "data" / "netlib"]
    if os.environ.get("PARLEARN_NETLIB"):
        candidates.insert(0, Path(os.environ["PARLEARN_NETLIB"]))
    for folder in candidates:
        if (folder / "optimal_values.csv").is_file():
            return folder
    return None


@pytest.fixture(scope="session")
def netlib() -> Path:
    folder = netlib_folder()
    if folder is None:
        pytest.skip("the Netlib problems are not at ../shared/data/netlib beside the repository")
    return folder
