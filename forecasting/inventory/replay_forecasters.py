"""The forecasters a policy replay re-fits at every re-plan, in the documented re-fit profile.

A replay re-fits BLENDED's forecaster on the data up to every re-plan (7 times for 182 days re-planned
every 28). The weekly job's settings would take hours for that, so the replay uses a lighter profile
of the same models (what ``blendcast simulate`` and ``benchmarks/policy_replay.py`` both use):

- LightGBM quantile: 8 quantile levels (0.05 ... 0.995; the reorder points read the 0.8-0.99
  quantiles of lead-time totals, so the upper levels are dense), 60 rounds at learning rate 0.1,
  31 leaves, at most 60,000 sampled training rows of the last 365 days, ``max_horizon`` 56 days
  (beyond it the quantities repeat each path's last week), ``n_jobs`` threads.
- combination (what ``blendcast train`` serves): LightGBM in that profile, TSB and seasonal naive,
  chosen per demand segment on a 28-day holdout and calibrated on it (ETS left out: its per-series
  fits dominate a re-plan's time).
- ets, tsb, seasonal_naive: their defaults.
- bootstrap: no forecaster; BLENDED plans from the same recent-demand bootstrap as the classic
  baselines (classic estimates fed to this engine's rules).

Measured on this 2-core machine (other jobs running): about 1 minute per re-plan for 280 M5 series.
"""

from __future__ import annotations

from models.base import Forecaster

REPLAY_FORECASTERS: tuple[str, ...] = ("combination", "lightgbm", "ets", "tsb", "seasonal_naive", "bootstrap")
PROFILE_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.995)


def replay_forecaster(name: str, *, n_jobs: int = 1, random_state: int = 0) -> Forecaster | None:
    """The forecaster ``name`` in the replay's re-fit profile (None for ``bootstrap``).

    Raises:
        ValueError: If ``name`` is not one of :data:`REPLAY_FORECASTERS`.
    """
    from models.baselines import SeasonalNaive
    from models.combination import Combination
    from models.ets import ETSForecaster
    from models.intermittent import TSBForecaster
    from models.lightgbm_quantile import LightGBMQuantile

    if name not in REPLAY_FORECASTERS:
        raise ValueError(f"--forecaster {name!r} is not known. Use one of: {', '.join(REPLAY_FORECASTERS)}.")
    if name == "bootstrap":
        return None
    if name == "ets":
        return ETSForecaster()
    if name == "tsb":
        return TSBForecaster()
    if name == "seasonal_naive":
        return SeasonalNaive()
    lightgbm = LightGBMQuantile(quantiles=PROFILE_QUANTILES, max_horizon=56, n_estimators=60,
                                learning_rate=0.1, num_leaves=31, min_child_samples=50, train_days=365,
                                max_train_rows=60_000,
                                n_jobs=n_jobs, random_state=random_state)
    if name == "lightgbm":
        return lightgbm
    members: dict[str, Forecaster] = {"lightgbm": lightgbm, "tsb": TSBForecaster(),
                                      "seasonal_naive": SeasonalNaive()}
    return Combination(members=members, n_jobs=n_jobs, random_state=random_state)


__all__ = ["PROFILE_QUANTILES", "REPLAY_FORECASTERS", "replay_forecaster"]
