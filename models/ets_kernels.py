"""The per-series ETS work: fitting forms with statsmodels (cold, or warm from an earlier fit) and carrying
fitted states through new days. :class:`models.ets.ETSForecaster` runs these over many series in workers.
"""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tools.eval_measures import aicc as aicc_of
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from threadpoolctl import threadpool_limits

# form code -> (trend, damped, seasonal); the error is always additive (demand has zeros, so
# multiplicative errors, which need strictly positive data, do not apply).
FORMS: dict[str, tuple[str | None, bool, bool]] = {
    "ANN": (None, False, False),
    "AAN": ("add", False, False),
    "AAdN": ("add", True, False),
    "ANA": (None, False, True),
    "AAA": ("add", False, True),
    "AAdA": ("add", True, True),
}

# Layout of one fitted series in the array the fit workers return.
FORM, AICC, ALPHA, BETA, GAMMA, PHI, SIGMA, LEVEL, TREND, WARN = range(10)
N_FIXED = 10

# The smoothing parameters an earlier fit passes to a warm refit, in the worker output layout.
SMOOTHING = {"smoothing_level": ALPHA, "smoothing_trend": BETA, "smoothing_seasonal": GAMMA,
             "damping_trend": PHI}


def fit_one(y: np.ndarray, forms: tuple[str, ...], season_length: int, start: np.ndarray | None,
            initialization: str) -> np.ndarray:
    """Fit every form to ``y``, keep the lowest AICc; a row in the worker output layout.

    Args:
        y: The series' days, oldest first (censored days imputed).
        forms: Candidate form codes.
        season_length: Seasonal period.
        start: An earlier fit's row of this series (worker layout) for a warm refit: only its form is
            fitted, the optimizer starting at its smoothing parameters (the initial states start at
            statsmodels' heuristic, as in a cold fit). If that form fails, every form competes.
        initialization: How the initial states are set: ``"heuristic"`` (statsmodels' decomposition of
            the first seasons; only the smoothing parameters are optimised) or ``"estimated"`` (the
            initial states are optimised too).
    """
    if start is not None and start[FORM] >= 0:
        code = list(FORMS)[int(start[FORM])]
        out = _fit_forms(y, (code,), season_length, start, initialization)
        if out[FORM] >= 0:
            return out
    return _fit_forms(y, forms, season_length, None, initialization)


def _fit_forms(y: np.ndarray, forms: tuple[str, ...], season_length: int,
               start: np.ndarray | None, initialization: str) -> np.ndarray:
    out = np.full(N_FIXED + season_length, np.nan)
    out[FORM] = -1
    best = np.inf
    n_warn = 0
    for code in forms:
        trend, damped, seasonal = FORMS[code]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = ETSModel(
                    y,
                    error="add",
                    trend=trend,
                    damped_trend=damped,
                    seasonal="add" if seasonal else None,
                    seasonal_periods=season_length if seasonal else None,
                    initialization_method=initialization,
                )
                params = np.asarray(model.fit(start_params=_start_params(model, start), disp=False,
                                              return_params=True))
                fitted, states = model.smooth(params, return_raw=True)
                llf = float(model.loglike(params))
            except (ValueError, np.linalg.LinAlgError, FloatingPointError):
                # A form that cannot be fitted to this series is skipped; the others compete.
                n_warn += 1
                continue
        n_warn += len(caught)
        score = float(aicc_of(llf, len(y), len(params) + 1))
        if not np.isfinite(score) or score >= best:
            continue
        best = score
        states = np.asarray(states)
        named = dict(zip(model.param_names, params, strict=True))
        out[:N_FIXED] = 0.0
        out[FORM] = list(FORMS).index(code)
        out[AICC] = score
        out[ALPHA] = named["smoothing_level"]
        out[BETA] = named.get("smoothing_trend", 0.0)
        out[GAMMA] = named.get("smoothing_seasonal", 0.0)
        out[PHI] = named.get("damping_trend", 1.0)
        # The innovation variance as statsmodels concentrates it out: the mean squared residual.
        out[SIGMA] = np.sqrt(np.mean((y - np.asarray(fitted)) ** 2))
        out[LEVEL] = states[-1, 0]
        out[TREND] = states[-1, 1] if trend else 0.0
        out[N_FIXED:] = states[-season_length:, -1] if seasonal else 0.0
    out[WARN] = n_warn
    return out


def _start_params(model: ETSModel, start: np.ndarray | None) -> np.ndarray | None:
    """statsmodels' default start, with an earlier fit's smoothing parameters where one is given."""
    if start is None:
        return None
    params = np.array(model.start_params, dtype=float)
    for i, name in enumerate(model.param_names):
        if name in SMOOTHING:
            params[i] = start[SMOOTHING[name]]
    return params


def fit_chunk(task: tuple[np.ndarray, tuple[str, ...], int, np.ndarray | None, str]) -> np.ndarray:
    """Worker: fit many series; rows of ``block`` are NaN-padded on the left (before the series).

    ``starts`` (rows aligned with ``block``, or None) are earlier fits to warm-start from; a row whose
    form is NaN or negative is fitted cold.
    """
    block, forms, season_length, starts, initialization = task
    out = np.empty((block.shape[0], N_FIXED + season_length))
    # The fits are tiny: multi-threaded BLAS only adds contention (measured 6x slower on a busy
    # 2-core machine), and the parallelism is across series anyway.
    with threadpool_limits(limits=1):
        for i, row in enumerate(block):
            start = None if starts is None or np.isnan(starts[i, FORM]) else starts[i]
            out[i] = fit_one(row[~np.isnan(row)], forms, season_length, start, initialization)
    return out


def advance_states(params: np.ndarray, y: np.ndarray, season_length: int) -> None:
    """Carry fitted states forward through new days ``y`` ``(n_series, n_days)``, in place.

    The additive-error ETS state equations with the stored smoothing parameters: for each day the
    one-step error ``e = y - (level + phi trend + season_{t-m})`` updates ``level += phi trend + alpha e``,
    ``trend = phi trend + beta e`` and the season ``+= gamma e`` (statsmodels' ``ETSModel`` smooths the
    same way). A NaN day (no value) adds no error: the states move as forecast.

    Args:
        params: Rows in the fit workers' layout (form, AICc, alpha ... level, trend, seasons).
        y: The new days per row of ``params``, oldest first.
        season_length: Seasonal period (the number of stored seasonal states).
    """
    m = season_length
    alpha, beta, gamma, phi = (params[:, c] for c in (ALPHA, BETA, GAMMA, PHI))
    level, trend = params[:, LEVEL].copy(), params[:, TREND].copy()
    season = params[:, N_FIXED:N_FIXED + m].copy()
    for t in range(y.shape[1]):
        damped = phi * trend
        base = level + damped
        error = np.nan_to_num(y[:, t] - (base + season[:, 0]), nan=0.0)
        level = base + alpha * error
        trend = damped + beta * error
        season = np.column_stack([season[:, 1:], season[:, 0] + gamma * error])
    params[:, LEVEL], params[:, TREND], params[:, N_FIXED:N_FIXED + m] = level, trend, season
