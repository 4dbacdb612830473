"""Files logged with each training run: backtest tables, calibration plot, feature importance, health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.base import Forecaster

if TYPE_CHECKING:
    from training.stages import Outputs, Scores

# Central intervals reported by the backtest: (nominal coverage, metric column).
INTERVALS: tuple[tuple[float, str], ...] = (
    (0.50, "coverage_50"), (0.67, "coverage_67"), (0.95, "coverage_95"), (0.99, "coverage_99"),
)


def write_artifacts(
    directory: Path, scores: Scores, model: Forecaster, health: dict[str, Any], outputs: Outputs
) -> dict[str, Path]:
    """Write the run's artifacts into ``directory``; returns ``{artifact folder: file}``."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    backtest = directory / "backtest_metrics.csv"
    scores.result.metrics.to_csv(backtest, index=False)
    files["backtest"] = backtest
    folds = directory / "backtest_folds.csv"
    scores.result.fold_metrics.to_csv(folds, index=False)
    files["backtest_folds"] = folds
    if not scores.by_segment.empty:
        seg = directory / "backtest_by_segment.csv"
        scores.by_segment.to_csv(seg, index=False)
        files["backtest_by_segment"] = seg
    files["calibration"] = calibration_plot(scores.result.metrics, directory / "calibration.png")
    importance = model.feature_importances_
    if importance is not None:
        path = directory / "feature_importance.csv"
        importance.to_csv(path, index=False)
        files["feature_importance"] = path
    health_file = directory / "data_health.json"
    health_file.write_text(json.dumps(health, indent=2, default=str))
    files["data_health"] = health_file
    policies = directory / "policy_mix.csv"
    outputs.policies.groupby(["policy", "abc"]).size().rename("series").reset_index().to_csv(
        policies, index=False
    )
    files["policies"] = policies
    return files


def calibration_plot(metrics: pd.DataFrame, path: Path) -> Path:
    """Nominal against observed coverage of the central intervals, one line per backtested model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    nominal = np.array([n for n, _ in INTERVALS])
    ax.plot([0.4, 1.0], [0.4, 1.0], color="grey", linestyle="--", label="perfect calibration")
    for _, row in metrics.iterrows():
        observed = [row.get(col, np.nan) for _, col in INTERVALS]
        ax.plot(nominal, observed, marker="o", label=str(row.get("name", "model")))
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage (backtest)")
    ax.set_title("Interval calibration")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
