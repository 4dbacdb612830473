"""The policy and suppliers commands: outputs written, bad input exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.readers import write_tables
from features.synthetic import generate_catalogue
from serving.cli import build_app

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue")
    write_tables(generate_catalogue(8, 2, 200, 3).tables, out, fmt="csv")
    return out


def test_policy_writes_one_row_per_series(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "policies.csv"
    result = runner.invoke(build_app(), ["policy", "--data", str(data_dir), "--model", "seasonal_naive",
                                         "--n-paths", "100", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    sales = pd.read_csv(data_dir / "sales.csv")
    assert len(frame) == len(sales[["sku", "channel"]].drop_duplicates())
    wanted = {"policy", "reasons", "safety_stock", "reorder_point", "order_up_to", "order_qty"}
    assert wanted <= set(frame.columns)
    assert (frame["order_up_to"] >= frame["reorder_point"]).all()
    assert "pooling the channels" in result.output


def test_bad_rules_file_exits_2_and_writes_nothing(data_dir: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[service_levels]\nA = 1.2\nB = 0.9\nC = 0.8\n")
    out = tmp_path / "policies.csv"
    result = runner.invoke(build_app(), ["policy", "--data", str(data_dir), "--rules", str(rules),
                                         "--out", str(out)])
    assert result.exit_code == 2
    assert "The 'service_level' of class 'A' must be in (0.5, 1). Got 1.2." in result.output
    assert not out.exists()


def test_missing_data_and_bad_dates_exit_2(tmp_path: Path, data_dir: Path) -> None:
    missing = runner.invoke(build_app(), ["suppliers", "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    late = runner.invoke(build_app(), ["policy", "--data", str(data_dir), "--as-of", "2099-01-01"])
    assert late.exit_code == 2 and "outside the sales history" in late.output


def test_suppliers_prints_the_audit(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    result = runner.invoke(build_app(), ["suppliers", "--data", str(data_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    audit = pd.read_json(out)
    suppliers = pd.read_csv(data_dir / "suppliers.csv")
    assert set(audit["supplier"]) >= set(suppliers["supplier"])
    assert audit["mean_days"].gt(0).all()


def test_policy_reads_spike_windows_like_the_weekly_job(tmp_path: Path) -> None:
    """The CLI assigns SEASONAL_HYBRID from the same spike windows and gives the weekly job's quantities."""
    from features.schema import M5_QUANTILES
    from features.validation import build_dataset
    from forecasting.inventory.policy import compute_policies, prepare_context
    from forecasting.inventory.rules import load_rules
    from forecasting.signals.spikes import detect_spikes
    from models.baselines import SeasonalNaive

    catalogue = generate_catalogue(30, 2, 660, 3)  # ends 2024-10-21: the gift-set peaks lie ahead
    folder = tmp_path / "data"
    folder.mkdir()
    write_tables(catalogue.tables, folder, fmt="csv")
    out = tmp_path / "policies.csv"
    result = runner.invoke(build_app(), ["policy", "--data", str(folder), "--model", "seasonal_naive",
                                         "--n-paths", "100", "--out", str(out)])
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out)
    assert (cli["policy"] == "SEASONAL_HYBRID").any()
    # What the weekly job's plan stage computes on the same data, model, horizon and seed.
    data = build_dataset(catalogue.tables)
    model = SeasonalNaive().fit(data)
    paths = model.sample_paths(28, 100, random_state=0)
    spikes = detect_spikes(data, model.predict(28, M5_QUANTILES))
    rules = load_rules()
    ctx = prepare_context(data, paths, rules, data.end_date, spikes)
    job = compute_policies(data, paths, rules, data.end_date, spike_windows=spikes, random_state=0,
                           context=ctx)
    merged = cli.merge(job, on=["sku", "channel"], suffixes=("_cli", "_job"))
    assert len(merged) == len(job)
    assert (merged["policy_cli"] == merged["policy_job"]).all()
    assert np.allclose(merged["reorder_point_cli"], merged["reorder_point_job"])
