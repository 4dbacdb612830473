"""Test hook: ``BLENDCAST_FAULT_AT=<point>`` makes the process SIGKILL itself at that point.

It exists so the fault-injection tests can kill a real ``blendcast train`` (or ``promote`` /
``rollback``) at an exact moment instead of racing a timer. It does nothing unless the variable is set
and names the point being passed; never set it in production. Points:

- ``load``, ``backtest``, ``fit``, ``plan``, ``register``, ``alerts``, ``publish``: at the start of
  that pipeline stage;
- ``publish:aliases-moved``: inside the publish transaction, right after the registry aliases moved
  and before the store commits;
- ``publish:committed``: right after the publish committed, before the lock is released;
- ``promote:aliases-moved`` / ``rollback:aliases-moved``: the same moment of a manual promote or
  rollback.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "BLENDCAST_FAULT_AT"


def fault_point(name: str) -> None:
    """SIGKILL this process if ``BLENDCAST_FAULT_AT`` equals ``name`` (a test hook; see the module)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
