"""Replenishment policy rules: loaded from TOML, validated, and applied to segments with reasons.

The rules file (``forecasting/inventory/default_rules.toml`` by default) says which way each segment signal
leans (JIT or SAFETY_STOCK), the score at which a series runs JIT, the service target per revenue
class, the JIT operational buffer, the review period and the segmentation / lead-time settings. A
series that would run JIT but has a spike window ahead runs SEASONAL_HYBRID: JIT quantities, plus
the buffer only while the window is within reach of a replenishment (a series buffered all year
keeps SAFETY_STOCK). Every assignment carries ``reasons``: the thresholds that fired.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from forecasting.inventory.leadtime import LeadTimeConfig
from forecasting.inventory.segmentation import ABC_CLASSES, PATTERNS, XYZ_CLASSES, SegmentationConfig

JIT = "JIT"
SAFETY_STOCK = "SAFETY_STOCK"
SEASONAL_HYBRID = "SEASONAL_HYBRID"
POLICIES = (JIT, SAFETY_STOCK, SEASONAL_HYBRID)

SIGNAL_VALUES: dict[str, tuple[str, ...]] = {
    "abc": ABC_CLASSES,
    "xyz": XYZ_CLASSES,
    "pattern": PATTERNS,
    "history": ("new", "established"),
    "supplier": ("reliable", "variable", "unreliable", "unknown"),
    "lead_time": ("short", "medium", "long", "unknown"),
}


class RulesError(ValueError):
    """A rules file breaks its contract; the message names the field, expected, got and the fix."""


def _known_policy(value: str, where: str) -> str:
    if value not in POLICIES:
        raise ValueError(
            f"The {where} names an unknown policy {value!r}. Use one of {', '.join(POLICIES)}."
        )
    return value


class JitRules(BaseModel):
    """JIT settings: near-zero buffer plus an operational buffer of ``buffer_days`` of demand."""

    model_config = ConfigDict(extra="forbid")
    buffer_days: float = Field(default=2.0, ge=0, le=60)
    allowed_classes: tuple[str, ...] = ("B", "C")

    @field_validator("allowed_classes")
    @classmethod
    def _classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in ABC_CLASSES]
        if bad:
            raise ValueError(f"The 'allowed_classes' of policy 'JIT' must be among A, B, C. Got {bad}.")
        return value


class SafetyStockRules(BaseModel):
    """SAFETY_STOCK settings (service targets come from ``service_levels``)."""

    model_config = ConfigDict(extra="forbid")


class SeasonalHybridRules(BaseModel):
    """SEASONAL_HYBRID settings: how early before a spike window the buffer switches on."""

    model_config = ConfigDict(extra="forbid")
    extra_lead_days: int = Field(default=7, ge=0, le=365)


class PolicyRules(BaseModel):
    """Per-policy settings (the ``[policies.*]`` tables)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    jit: JitRules = Field(default_factory=JitRules, alias="JIT")
    safety_stock: SafetyStockRules = Field(default_factory=SafetyStockRules, alias="SAFETY_STOCK")
    seasonal_hybrid: SeasonalHybridRules = Field(default_factory=SeasonalHybridRules, alias="SEASONAL_HYBRID")

    @model_validator(mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name in value:
                _known_policy(name, f"table [policies.{name}]")
        return value


class Rules(BaseModel):
    """The validated replenishment rules.

    Attributes:
        default_policy: Policy of a series whose signals do not lean clearly to JIT.
        jit_min_score: JIT when (JIT leans - SAFETY_STOCK leans) reaches this.
        review_period_days: Days between reviews (R).
        lot_review_periods: Order-up-to level S = s + this many review periods of expected demand.
            0 (the default) is base stock: every review orders back what sold, S = s, so the position
            after ordering is the service-level quantile of demand over lead time + review period and
            the achieved cycle service is the target; 1 adds a review's demand on top (fewer, larger
            orders, more stock, service above target).
        fill_rate_patterns: Demand patterns whose service target is read as a fill rate (share of
            units served) instead of a cycle-service probability.
        max_change_ratio: Largest factor by which a series' reorder point may move between two
            published runs unless a spike, a volatility shift or a supplier slip justifies it
            (:mod:`forecasting.inventory.change_cap`); a large value (e.g. 1000) switches it off.
        service_allocation: 'class' (each class's ``service_levels`` target) or 'economic': each
            SKU's target is the newsvendor critical ratio margin / (margin + holding cost of a unit
            over one review period), margin = unit price - unit cost, kept within its class's
            ``economic_bounds`` (SKUs without prices keep the class target).
        economic_bounds: Per class, the lowest and highest economic target.
        holding_rate: Yearly holding cost as a share of unit cost (economic allocation).
        service_levels: Cycle-service target per revenue class, each in (0.5, 1).
        segmentation: Segmentation thresholds.
        lead_time: Lead-time audit settings.
        policies: Per-policy settings.
        leans: ``"signal.value" -> policy``.
    """

    model_config = ConfigDict(extra="forbid")

    default_policy: str = SAFETY_STOCK
    jit_min_score: int = Field(default=2, ge=1)
    review_period_days: int = Field(default=7, ge=1, le=91)
    lot_review_periods: float = Field(default=0.0, ge=0.0, le=13.0)
    fill_rate_patterns: tuple[str, ...] = ()
    max_change_ratio: float | None = Field(default=2.0, gt=1.0)
    service_allocation: Literal["class", "economic"] = "class"
    economic_bounds: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"A": (0.95, 0.995), "B": (0.85, 0.99), "C": (0.7, 0.98)})
    holding_rate: float = Field(default=0.25, gt=0.0, le=2.0)
    service_levels: dict[str, float] = Field(default_factory=lambda: {"A": 0.97, "B": 0.90, "C": 0.80})
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    lead_time: LeadTimeConfig = Field(default_factory=LeadTimeConfig)
    policies: PolicyRules = Field(default_factory=PolicyRules)
    leans: dict[str, str] = Field(default_factory=dict)

    @field_validator("default_policy")
    @classmethod
    def _default(cls, value: str) -> str:
        _known_policy(value, "'default_policy'")
        if value == SEASONAL_HYBRID:
            raise ValueError("The 'default_policy' must be JIT or SAFETY_STOCK (SEASONAL_HYBRID needs a "
                             "spike window). Got 'SEASONAL_HYBRID'.")
        return value

    @field_validator("fill_rate_patterns")
    @classmethod
    def _fill_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in PATTERNS]
        if bad:
            raise ValueError(f"The 'fill_rate_patterns' must be among {', '.join(PATTERNS)}. Got {bad}.")
        return value

    @field_validator("service_levels")
    @classmethod
    def _levels(cls, value: dict[str, float]) -> dict[str, float]:
        for klass, level in value.items():
            if klass not in ABC_CLASSES:
                raise ValueError(
                    f"The 'service_levels' table has an unknown class {klass!r}. Use A, B and C."
                )
            if not 0.5 < float(level) < 1.0:
                raise ValueError(
                    f"The 'service_level' of class {klass!r} must be in (0.5, 1). Got {level}. "
                    f"Give a probability such as 0.95."
                )
        missing = [k for k in ABC_CLASSES if k not in value]
        if missing:
            raise ValueError(f"The 'service_levels' table misses class(es) {missing}. Give A, B and C.")
        return value

    @field_validator("economic_bounds")
    @classmethod
    def _bounds(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for klass, (lo, hi) in value.items():
            if klass not in ABC_CLASSES or not 0.5 < lo <= hi < 1.0:
                raise ValueError(f"The 'economic_bounds' of class {klass!r} must be [low, high] with "
                                 f"0.5 < low <= high < 1, e.g. [0.95, 0.995]. Got [{lo}, {hi}].")
        return value

    @field_validator("leans")
    @classmethod
    def _leans(cls, value: dict[str, str]) -> dict[str, str]:
        for key, policy in value.items():
            signal, _, level = key.partition(".")
            if signal not in SIGNAL_VALUES or level not in SIGNAL_VALUES[signal]:
                known = "; ".join(f"{s}: {', '.join(v)}" for s, v in SIGNAL_VALUES.items())
                raise ValueError(f"The lean {key!r} is not a known 'signal.value'. Known: {known}.")
            _known_policy(policy, f"lean {key!r}")
            if policy == SEASONAL_HYBRID:
                raise ValueError(f"The lean {key!r} must lean JIT or SAFETY_STOCK. Got 'SEASONAL_HYBRID'.")
        return value

    def service_level(self, abc: str) -> float:
        """The cycle-service target of a revenue class."""
        return float(self.service_levels[abc])


def _format_error(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = str(first.get("msg", "")).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"The field {where!r} is not a known setting. Remove it or fix its spelling."
    elif not message.startswith("The "):
        message = f"The field {where!r}: {message}. Got {first.get('input')!r}."
    more = f" ({len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"Rules {source}: {message}{more}"


def parse_rules(raw: dict[str, Any], source: str = "(given)") -> Rules:
    """Validate a rules mapping (the parsed TOML).

    Raises:
        RulesError: Naming the field, what was expected, what was given and the fix.
    """
    try:
        return Rules.model_validate(raw)
    except ValidationError as exc:
        raise RulesError(_format_error(exc, source)) from None


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate a rules file; ``None`` loads the shipped ``default_rules.toml``.

    Raises:
        RulesError: If the file is not valid TOML or breaks the rules contract.
        FileNotFoundError: If ``path`` does not exist.
    """
    if path is None:
        shipped = resources.files("forecasting.inventory").joinpath("default_rules.toml")
        text = shipped.read_text(encoding="utf-8")
        source = "default_rules.toml"
    else:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Rules file {str(path)!r} does not exist. Give a TOML rules file.")
        text, source = path.read_text(encoding="utf-8"), f"file {str(path)!r}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"Rules {source} is not valid TOML: {exc}. Fix the syntax.") from None
    return parse_rules(raw, source)


def _signal_values(row: pd.Series) -> dict[str, tuple[str, str]]:
    """Each signal's value and the evidence behind it, for the reasons."""
    cv = row.get("weekly_cv", np.nan)
    return {
        "abc": (row["abc"], f"revenue share {100 * float(row.get('revenue_share', 0.0)):.1f}%"),
        "xyz": (row["xyz"], f"weekly CV {cv:.2f}" if pd.notna(cv) else "no demand measured"),
        "pattern": (row["pattern"], f"ADI {row.get('adi', np.nan):.2f}, CV² {row.get('cv2', np.nan):.2f}"),
        "history": ("new" if bool(row["is_new"]) else "established", f"{int(row['history_days'])} days"),
        "supplier": (str(row.get("lead_time_reliability", "unknown")), f"supplier {row.get('supplier')}"),
        "lead_time": (str(row.get("lead_time_length", "unknown")),
                      f"mean {float(row.get('lead_time_mean', np.nan)):.1f} days"),
    }


def assign_policies(
    segments: pd.DataFrame,
    rules: Rules,
    as_of: pd.Timestamp | str,
    spike_windows: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assign a policy, a service target and reasons to every segmented series.

    Args:
        segments: Output of :func:`forecasting.inventory.segmentation.segment` (with lead-time columns).
        rules: Validated rules.
        as_of: Planning date.
        spike_windows: Optional ``sku, channel, start, peak, end`` of forecast demand peaks; a series
            that would run JIT and has a window ending on or after ``as_of`` runs SEASONAL_HYBRID.

    Returns:
        ``segments`` plus ``policy, service_level, service_measure ('cycle' or 'fill_rate'),
        reasons (list[str]), jit_score`` and ``window_start, window_end`` (NaT when no window).
    """
    as_of = pd.Timestamp(as_of)
    windows: dict[tuple[str, str], pd.Series] = {}
    if spike_windows is not None and not spike_windows.empty:
        missing = {"sku", "channel", "start", "peak", "end"} - set(spike_windows.columns)
        if missing:
            raise ValueError(f"The 'spike_windows' frame misses column(s) {sorted(missing)}. "
                             "Give sku, channel, start, peak, end.")
        sw = spike_windows.assign(**{c: pd.to_datetime(spike_windows[c]) for c in ("start", "peak", "end")})
        for _, w in sw[sw["end"] >= as_of].sort_values("start").iterrows():
            windows.setdefault((str(w["sku"]), str(w["channel"])), w)
    policies, levels, reasons_all, scores, starts, ends, measures = [], [], [], [], [], [], []
    for _, row in segments.iterrows():
        klass = str(row["abc"])
        level = rules.service_level(klass)
        measure = "fill_rate" if str(row["pattern"]) in rules.fill_rate_patterns else "cycle"
        reasons = [f"class {klass}: service target {level:.2f}"]
        if measure == "fill_rate":
            reasons.append(f"pattern={row['pattern']} in fill_rate_patterns: the target is a fill rate "
                           "(a cycle target would keep a whole bulk order in stock)")
        score = 0
        for signal, (value, evidence) in _signal_values(row).items():
            lean = rules.leans.get(f"{signal}.{value}")
            if lean is not None:
                score += 1 if lean == JIT else -1
                reasons.append(f"{signal}={value} ({evidence}) leans {lean}")
        note = row.get("lead_time_note")
        if isinstance(note, str) and note:
            reasons.append(note)
        window = windows.get((str(row["sku"]), str(row["channel"])))
        if score >= rules.jit_min_score and klass in rules.policies.jit.allowed_classes:
            policy = JIT
            reasons.append(f"JIT score {score} >= jit_min_score {rules.jit_min_score}")
        else:
            policy = rules.default_policy
            if score >= rules.jit_min_score:
                reasons.append(f"JIT score {score} but class {klass} not in JIT allowed_classes")
            else:
                reasons.append(f"JIT score {score} < jit_min_score {rules.jit_min_score}: {policy}")
        if window is not None:
            span = f"{window['start']:%Y-%m-%d}..{window['end']:%Y-%m-%d} (peak {window['peak']:%Y-%m-%d})"
            if policy == JIT:
                # A lean series with a peak ahead buffers near the peak only; a series that needs its
                # buffer all year keeps it (the peak is then in its paths anyway).
                policy = SEASONAL_HYBRID
                reasons.append(f"spike window {span} ahead: JIT, buffer only near the peak")
            else:
                reasons.append(f"spike window {span} ahead: already buffered all year")
        policies.append(policy)
        measures.append(measure)
        levels.append(level)
        reasons_all.append(reasons)
        scores.append(score)
        starts.append(window["start"] if window is not None else pd.NaT)
        ends.append(window["end"] if window is not None else pd.NaT)
    out = segments.copy()
    out["policy"] = policies
    out["service_level"] = levels
    out["service_measure"] = measures
    out["reasons"] = reasons_all
    out["jit_score"] = scores
    out["window_start"] = pd.to_datetime(pd.Series(starts, index=out.index, dtype="datetime64[ns]"))
    out["window_end"] = pd.to_datetime(pd.Series(ends, index=out.index, dtype="datetime64[ns]"))
    return out
