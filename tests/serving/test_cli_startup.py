"""The command line starts without its heavy dependencies: commands import them when they run.

Speed itself is measured by ``benchmarks/cli_startup.py`` (no timed unit test); this checks the cause.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from models.registry import MODEL_NAMES, MODELS

ROOT = Path(__file__).resolve().parents[2]
# (pydantic is not listed: Typer itself coerces parameters with it.)
HEAVY = ("lightgbm", "statsmodels", "mlflow", "matplotlib", "alembic", "scipy", "sklearn", "sqlalchemy",
         "fastapi", "pandas", "numpy", "pyarrow", "dask", "uvicorn")

# Builds the app and asks every command (and sub-command) for its --help in this fresh interpreter.
PROBE = """
import json, sys
import typer
from typer.testing import CliRunner
import serving.cli

app = serving.cli.build_app()
root = typer.main.get_command(app)
paths = [[]]
def walk(group, prefix):
    for name, cmd in group.commands.items():
        paths.append([*prefix, name])
        if hasattr(cmd, "commands"):  # a command group
            walk(cmd, [*prefix, name])
walk(root, [])
codes = {" ".join(p): CliRunner().invoke(app, [*p, "--help"]).exit_code for p in paths}
print(json.dumps({"codes": codes, "modules": sorted(sys.modules)}))
"""


def test_help_of_every_command_loads_no_heavy_library() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout)
    assert len(probe["codes"]) >= 20 and "train" in probe["codes"] and "import m5" in probe["codes"]
    assert set(probe["codes"].values()) == {0}, probe["codes"]
    loaded = {m.split(".")[0] for m in probe["modules"]}
    assert sorted(loaded & set(HEAVY)) == []


def test_model_names_listed_without_imports_match_the_classes() -> None:
    assert tuple(MODELS) == MODEL_NAMES
    assert all(MODELS[name]().__class__ is MODELS[name] for name in MODEL_NAMES)
