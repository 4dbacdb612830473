"""Start-up time of the ``blendcast`` command line: how long ``--help`` takes, wall clock.

Each command is run ``--runs`` times in a fresh interpreter (``python -m serving.cli ...``, so the
checkout on ``PYTHONPATH`` is measured, not an installed copy) and the table prints min / median / max
seconds per command, and which heavy libraries the bare import of the CLI pulled in (none is the goal:
commands import pandas, LightGBM, statsmodels, SQLAlchemy, MLflow, ... when they run).

Target: ``blendcast --help`` under 1 s (median of 5 on an idle machine).

Run: ``.venv/bin/python benchmarks/cli_startup.py`` (``--runs 5``) or ``make cli-startup``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("train", "--help"),
    ("forecast", "--help"),
    ("policy", "--help"),
    ("serve", "--help"),
    ("import", "m5", "--help"),
)
HEAVY = ("pandas", "numpy", "lightgbm", "statsmodels", "scipy", "sklearn", "matplotlib", "alembic",
         "mlflow", "sqlalchemy", "fastapi", "pyarrow", "dask")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def time_command(args: tuple[str, ...], runs: int) -> list[float]:
    """Wall seconds of ``runs`` fresh ``python -m serving.cli *args`` processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "serving.cli", *args], env=_env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports() -> list[str]:
    """The heavy libraries in ``sys.modules`` after importing the CLI and building every command."""
    code = ("import sys, serving.cli as c; c.build_app(); "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=_env(), check=True, capture_output=True,
                         text=True).stdout
    return out.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Fresh processes per command.")
    args = parser.parse_args()
    table = Table(title=f"blendcast start-up, wall seconds over {args.runs} runs "
                        f"(load average {os.getloadavg()[0]:.1f})")
    for col in ("command", "min", "median", "max"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for cmd in COMMANDS:
        times = time_command(cmd, args.runs)
        table.add_row("blendcast " + " ".join(cmd), f"{min(times):.2f}", f"{statistics.median(times):.2f}",
                      f"{max(times):.2f}")
    console = Console()
    console.print(table)
    heavy = heavy_imports()
    console.print(f"heavy libraries loaded by importing the CLI: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
