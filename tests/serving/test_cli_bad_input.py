"""Bad input to the CLI: exit code 2, a message naming the field and the fix, nothing written.

Every case runs the real command on a fresh ``BLENDCAST_HOME``; afterwards neither the result store
nor the MLflow store may exist there (bad input is refused before either is opened), and no output file
may have been written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.synthetic import generate_catalogue, write_catalogue
from serving.cli import build_app

FAST = ["--model", "seasonal_naive", "--folds", "1"]


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad_input") / "good"
    write_catalogue(generate_catalogue(3, 1, 120, seed=4), out)
    return out


def _variant(good: Path, root: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """A copy of the good data whose sales become ``sales.csv`` (ISO dates as text) rewritten by ``edit``."""
    out = root / "variant"
    shutil.copytree(good, out, ignore=shutil.ignore_patterns("truth"))
    sales = pd.read_parquet(out / "sales.parquet")
    (out / "sales.parquet").unlink()
    sales["date"] = pd.to_datetime(sales["date"]).dt.strftime("%Y-%m-%d")
    edit(sales).to_csv(out / "sales.csv", index=False)
    return out


def _set(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return edit


def _header_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.head(0)


def _drop_units(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["units"])


def _duplicate_first(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.head(1)], ignore_index=True)


# (case id, arguments with {data} / {tmp} placeholders, sales edit or None, fragments the message holds)
CASES: list[tuple[str, list[str], Callable[[pd.DataFrame], pd.DataFrame] | None, tuple[str, ...]]] = [
    ("train-no-source", ["train", *FAST], None, ("--data", "--database")),
    ("train-missing-dir", ["train", *FAST, "--data", "{tmp}/nowhere"], None, ("does not exist",)),
    ("train-horizon-zero", ["train", *FAST, "--data", "{data}", "--horizon", "0"], None,
     ("'horizon'", ">= 1")),
    ("train-horizon-huge", ["train", *FAST, "--data", "{data}", "--horizon", "100000"], None,
     ("'horizon'", "at most 731", "Fix")),
    ("train-folds-zero", ["train", "--model", "seasonal_naive", "--folds", "0", "--data", "{data}"], None,
     ("'folds'", ">= 1")),
    ("train-tolerance", ["train", *FAST, "--data", "{data}", "--tolerance", "1.5"], None,
     ("'tolerance'", "[0, 1)")),
    ("train-engine", ["train", *FAST, "--data", "{data}", "--engine", "spark"], None, ("'engine'", "'dask'")),
    ("train-unknown-model", ["train", "--model", "prophet", "--data", "{data}"], None, ("prophet",)),
    ("train-params-json", ["train", *FAST, "--data", "{data}", "--model-params", "{bad"], None,
     ("--model-params", "JSON object")),
    ("train-params-unknown", ["train", *FAST, "--data", "{data}", "--model-params", '{"nope": 1}'], None,
     ("--model-params", "nope", "Fix")),
    ("train-rules-missing", ["train", *FAST, "--data", "{data}", "--rules", "{tmp}/rules.toml"], None,
     ("--rules", "does not exist", "Fix")),
    ("train-header-only-sales", ["train", *FAST, "--data", "{data}"], _header_only,
     ("'sales'", "required", "no rows", "Fix: add the sales history")),
    ("train-missing-units", ["train", *FAST, "--data", "{data}"], _drop_units, ("'units'", "missing", "Fix")),
    ("train-negative-units", ["train", *FAST, "--data", "{data}"], _set(3, "units", -5),
     ("'units'", "row 4", "returns")),
    ("train-units-text", ["train", *FAST, "--data", "{data}"], _set(2, "units", "lots"),
     ("'units'", "not a number", "row 3")),
    ("train-mixed-date-format", ["train", *FAST, "--data", "{data}"], _set(5, "date", "02/01/2024"),
     ("'date'", "more than one format", "row 6", "yyyy-mm-dd")),
    ("train-typo-year", ["train", *FAST, "--data", "{data}"], _set(0, "date", "2019-06-01"),
     ("'date'", "far outside the rest", "row 1", "Fix: correct the year")),
    ("train-duplicate-rows", ["train", *FAST, "--data", "{data}"], _duplicate_first,
     ("duplicate key", "Fix: keep one row")),
    ("validate-not-a-date", ["validate", "{data}"], _set(1, "date", "someday"),
     ("'date'", "not a date", "row 2")),
    ("forecast-horizon-huge", ["forecast", "--data", "{data}", "--out", "{tmp}/f.csv", "--model",
                               "seasonal_naive", "--horizon", "100000"], None, ("'horizon'", "at most 731")),
    ("forecast-quantile", ["forecast", "--data", "{data}", "--out", "{tmp}/f.csv", "--quantiles", "0.1,1.5"],
     None, ("quantile", "(0, 1)")),
    ("forecast-out-suffix", ["forecast", "--data", "{data}", "--out", "{tmp}/f.xlsx"], None,
     ("--out", ".csv or .parquet")),
    ("promote-unknown-version", ["promote", "42"], None, ("no version 42", "blendcast models")),
    ("rollback-nothing", ["rollback"], None, ("roll back", "Train and promote")),
]


@pytest.mark.parametrize(("args", "edit", "fragments"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_exits_2_names_the_field_and_fix_and_writes_nothing(
    args: list[str],
    edit: Callable[[pd.DataFrame], pd.DataFrame] | None,
    fragments: tuple[str, ...],
    good_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("BLENDCAST_HOME", str(home))
    monkeypatch.setenv("BLENDCAST_N_JOBS", "1")
    monkeypatch.delenv("BLENDCAST_DATABASE_URL", raising=False)
    data = _variant(good_dir, tmp_path, edit) if edit is not None else good_dir
    argv = [a.replace("{data}", str(data)).replace("{tmp}", str(tmp_path)) for a in args]

    result = CliRunner().invoke(build_app(), argv)

    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())  # rich wraps long lines
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in result.output
    assert not (home / "blendcast.db").exists(), "bad input must not create or write the result store"
    if args[0] == "train":
        assert not (home / "mlflow.db").exists()
    assert not any(tmp_path.glob("f.*")), "no output file for bad input"


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15
