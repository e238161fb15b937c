"""Starting worker processes from the fork server without re-running the user's script.

``multiprocessing`` makes every spawned or fork-served child run the parent's ``__main__``
file again (so functions defined there can be unpickled by name). That is why plain
multiprocessing scripts need an ``if __name__ == "__main__":`` guard, and why a script without
one fails with "An attempt has been made to start a new process before the current process has
finished its bootstrapping phase". parlearn ships functions with cloudpickle, which sends
``__main__`` functions by value, so workers never need the main module: this launcher leaves it
out. It is CPython's ``popen_forkserver.Popen._launch`` with that one difference.
"""

# mypy: disable-error-code="attr-defined"
# (typeshed does not describe these multiprocessing internals)

from __future__ import annotations

import io
import os
from multiprocessing import context, forkserver, popen_forkserver, spawn, util
from typing import Any

__all__ = ["WorkerProcess"]

_MAIN_KEYS = ("init_main_from_path", "init_main_from_name")


class _Popen(popen_forkserver.Popen):
    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        for key in _MAIN_KEYS:
            prep_data.pop(key, None)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            context.reduction.dump(prep_data, buf)
            context.reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class WorkerProcess(context.ForkServerProcess):
    """A fork-server process that does not import the parent's ``__main__``."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return _Popen(process_obj)
