"""The synthetic catalogue: contract, determinism, and that its ground truth is really in the data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.schema import TABLES
from features.synthetic import Catalogue, generate_catalogue, read_truth, write_catalogue

N_SKUS, N_CHANNELS, N_DAYS, SEED = 120, 3, 730, 3


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return generate_catalogue(N_SKUS, N_CHANNELS, N_DAYS, SEED)


@pytest.fixture(scope="module")
def with_mean(cat: Catalogue) -> pd.DataFrame:
    assert cat.truth.mean is not None
    return cat.sales.merge(cat.truth.mean, on=["sku", "channel", "date"], validate="one_to_one")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _cv_around_mean(frame: pd.DataFrame) -> float:
    """std(units - true mean) / mean(true mean): the CV the volatility truth records."""
    return float(np.std(frame["units"] - frame["mean"]) / frame["mean"].mean())


# --- contract ---------------------------------------------------------------------------------------


def test_every_table_has_exactly_the_contract_columns(cat: Catalogue) -> None:
    assert set(cat.tables) == set(TABLES)
    for name, frame in cat.tables.items():
        assert list(frame.columns) == list(TABLES[name].columns), name
        assert len(frame) > 0, name


def test_tables_pass_build_dataset() -> None:
    validation = pytest.importorskip("features.validation")
    small = generate_catalogue(30, 4, 120, 5)
    dataset = validation.build_dataset(small.tables)
    assert dataset.sales["censored"].sum() == (small.sales["in_stock"] == 0).sum()
    assert set(dataset.sales["channel"]) == {"own_shop", "marketplace", "wholesale", "channel_4"}


def test_written_catalogue_loads_with_the_readers(tmp_path: Path) -> None:
    readers = pytest.importorskip("features.readers")
    small = generate_catalogue(20, 2, 90, 1)
    written = write_catalogue(small, tmp_path / "cat")
    dataset = readers.load_dataset(written)
    assert len(dataset.sales) == len(small.sales)
    assert dataset.suppliers is not None and len(dataset.suppliers) == len(small.tables["suppliers"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_skus": 0}, r"'n_skus'.*1\.\.1,000,000.*Got 0"),
        ({"n_channels": 0}, r"'n_channels'.*Got 0"),
        ({"n_days": 27}, r"'n_days'.*28\.\.3660.*Got 27"),
        ({"n_days": 30.5}, r"'n_days'.*whole number"),
        ({"seed": -1}, r"'seed'.*>= 0.*Got -1"),
        ({"start": "not a date"}, r"'start'.*date"),
    ],
)
def test_bad_parameters_are_rejected_with_the_fix(kwargs: dict, match: str) -> None:
    params = {"n_skus": 5, "n_channels": 1, "n_days": 60, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        generate_catalogue(**params)


# --- determinism and writing -------------------------------------------------------------------------


def test_same_seed_same_tables_and_files(tmp_path: Path) -> None:
    a, b = generate_catalogue(25, 3, 200, 11), generate_catalogue(25, 3, 200, 11)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    one, two = write_catalogue(a, tmp_path / "one"), write_catalogue(b, tmp_path / "two")
    assert _digest(one) == _digest(two)


def test_different_seed_different_sales() -> None:
    a, b = generate_catalogue(25, 3, 200, 11), generate_catalogue(25, 3, 200, 12)
    assert not a.sales["units"].equals(b.sales["units"])


def test_truth_round_trips(tmp_path: Path) -> None:
    small = generate_catalogue(20, 3, 400, 2)
    truth = read_truth(write_catalogue(small, tmp_path / "cat"))
    for name in ("series", "spikes", "volatility_shifts", "suppliers", "promotions", "mean"):
        pd.testing.assert_frame_equal(getattr(truth, name), getattr(small.truth, name), check_dtype=False)
    assert truth.meta["seed"] == 2 and truth.meta["summary"]["sales_rows"] == len(small.sales)


def test_write_refuses_a_foreign_folder_and_replaces_a_catalogue(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    small = generate_catalogue(5, 1, 40, 0)
    with pytest.raises(ValueError, match="not empty"):
        write_catalogue(small, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    target = write_catalogue(small, tmp_path / "cat")
    write_catalogue(generate_catalogue(6, 1, 40, 1), target)
    assert pd.read_parquet(target / "sales.parquet")["sku"].nunique() == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cat", "foreign"]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    small = generate_catalogue(5, 1, 40, 0)
    broken = Catalogue(tables={**small.tables, "skus": small.tables["skus"]}, truth=small.truth)
    # A column Parquet cannot store makes the write fail midway, after the small tables.
    bad = pd.Series([{1: "x"}, 2.5, "y", None, object()], dtype=object)
    broken.truth.series = small.truth.series.assign(bad=bad)
    with pytest.raises(Exception):  # noqa: B017 - whatever pyarrow raises, nothing may remain
        write_catalogue(broken, tmp_path / "cat")
    assert list(tmp_path.iterdir()) == []


# --- realism: every phenomenon of the truth is in the data ------------------------------------------


def test_units_are_non_negative_integers_and_master_data_is_consistent(cat: Catalogue) -> None:
    units = cat.sales["units"].to_numpy()
    assert (units >= 0).all() and np.array_equal(units, np.round(units))
    skus = cat.tables["skus"]
    assert (skus["unit_cost"] < skus["unit_price"]).all()
    assert (skus["moq"] % skus["pack_size"] == 0).all()
    assert set(skus["supplier"]) <= set(cat.tables["suppliers"]["supplier"])
    inventory = cat.tables["inventory"]
    assert len(inventory) == N_SKUS * N_CHANNELS
    assert (inventory["as_of"] == cat.sales["date"].max()).all() and (inventory["on_hand"] >= 0).all()


def test_revenue_is_concentrated_in_few_skus(cat: Catalogue) -> None:
    sales = cat.sales
    revenue = ((sales["units"] * sales["price"]).groupby(sales["sku"], observed=True).sum()
               .sort_values(ascending=False))
    top = revenue.iloc[: len(revenue) // 5].sum() / revenue.sum()
    assert top >= 0.55


def test_channels_behave_differently(cat: Catalogue) -> None:
    sales = cat.sales.assign(zero=(cat.sales["units"] == 0).astype(float))
    stats = sales.groupby(["channel", "sku"], observed=True).agg(
        mean=("units", "mean"), std=("units", "std"), zero_share=("zero", "mean")
    )
    stats["cv"] = stats["std"] / stats["mean"]
    by_channel = stats.groupby(level="channel", observed=True).median().to_dict("index")
    assert by_channel["wholesale"]["zero_share"] > 0.8  # rare bulk orders
    assert by_channel["marketplace"]["mean"] > by_channel["own_shop"]["mean"]
    assert by_channel["marketplace"]["cv"] > by_channel["own_shop"]["cv"]
    weekday = cat.sales[cat.sales["channel"] == "wholesale"].groupby(cat.sales["date"].dt.dayofweek)["units"]
    assert weekday.mean().loc[[5, 6]].max() < 0.5 * weekday.mean().loc[[0, 1, 2, 3]].min()


def test_about_a_third_of_series_are_mostly_zero(cat: Catalogue) -> None:
    by_series = cat.sales.groupby(["sku", "channel"], observed=True)
    zero_share = by_series["units"].apply(lambda u: (u == 0).mean())
    assert 0.2 <= (zero_share > 0.5).mean() <= 0.5


def test_gift_set_spikes_match_the_data(cat: Catalogue) -> None:
    spikes = cat.truth.spikes
    assert spikes["sku"].nunique() == round(0.05 * N_SKUS)
    assert (spikes["uplift"] >= 3).all() and (spikes["peak"] - spikes["start"]).dt.days.min() >= 14
    patterns = {(r["sku"], r["channel"]): r["pattern"] for r in cat.truth.series.to_dict("records")}
    checked = 0
    for sku, channel in spikes.loc[spikes["in_history"], ["sku", "channel"]].drop_duplicates().to_numpy():
        if patterns[(sku, channel)] != "smooth":
            continue  # rare bulk orders are too noisy for a two-month mean
        units = cat.sales[(cat.sales["sku"] == sku) & (cat.sales["channel"] == channel)]
        holiday = units["date"].dt.month.isin([11, 12])
        if (~holiday).sum() < 60:
            continue  # launched just before the season: no baseline to compare with
        assert units.loc[holiday, "units"].mean() >= 2 * units.loc[~holiday, "units"].mean(), (sku, channel)
        checked += 1
    assert checked >= 5


def test_spike_truth_reaches_the_next_season(cat: Catalogue) -> None:
    ahead = cat.truth.spikes[cat.truth.spikes["peak"] > cat.sales["date"].max()]
    assert len(ahead) > 0 and not ahead["in_history"].any()


def test_volatility_shifts_match_the_recorded_cv(with_mean: pd.DataFrame, cat: Catalogue) -> None:
    shifts = cat.truth.volatility_shifts
    n_series = N_SKUS * N_CHANNELS
    assert 0.05 * n_series <= len(shifts) <= 0.1 * n_series
    recorded = shifts["cv_after"] / shifts["cv_before"]
    assert ((recorded >= 2) | (recorded <= 0.5)).all()
    data = with_mean[with_mean["in_stock"] == 1]
    errors = []
    for row in shifts.to_dict("records"):
        series = data[(data["sku"] == row["sku"]) & (data["channel"] == row["channel"])]
        changed = series["date"] >= row["changed_at"]
        measured = [_cv_around_mean(series[~changed]), _cv_around_mean(series[changed])]
        errors.append(np.log(measured[1] / measured[0]) - np.log(row["cv_after"] / row["cv_before"]))
    assert np.abs(errors).max() < np.log(1.6)
    assert abs(np.median(errors)) < np.log(1.15)


def test_series_without_a_shift_keep_their_variability(with_mean: pd.DataFrame, cat: Catalogue) -> None:
    truth = cat.truth.series
    steady = truth[(truth["pattern"] == "smooth") & ~truth["volatility_shift"] & ~truth["is_gift_set"]
                   & (truth["launch"] == cat.sales["date"].min())]
    busiest = steady.nlargest(30, "level")
    data = with_mean[with_mean["in_stock"] == 1]
    ratios = []
    for row in busiest.to_dict("records"):
        series = data[(data["sku"] == row["sku"]) & (data["channel"] == row["channel"])]
        half = len(series) // 2
        ratios.append(_cv_around_mean(series.iloc[half:]) / _cv_around_mean(series.iloc[:half]))
    assert min(ratios) > 0.5 and max(ratios) < 2.0


def test_promotions_reach_the_future_and_lift_past_sales(cat: Catalogue) -> None:
    promos, end = cat.tables["promotions"], cat.sales["date"].max()
    assert (promos["end"] > end).any() and ((promos["start"] <= end) & (promos["end"] > end)).any()
    sales = cat.sales
    assert (sales["promo"] == 1).any()
    own = sales[(sales["channel"] == "own_shop")]
    lift = own[own["promo"] == 1]["units"].mean() / own[own["promo"] == 0]["units"].mean()
    assert lift > 1.3
    truth = cat.truth.promotions
    discounted = truth[(truth["discount"] > 0) & (truth["end"] <= end)].iloc[0]
    row = sales[(sales["sku"] == discounted["sku"]) & (sales["channel"] == discounted["channel"])]
    on_promo = row["date"].between(discounted["start"], discounted["end"])
    assert row.loc[on_promo, "price"].max() < row.loc[~on_promo, "price"].max()


def test_events_reach_past_the_end_and_move_demand(cat: Catalogue) -> None:
    events, end = cat.tables["events"], cat.sales["date"].max()
    assert events["date"].max() >= end + pd.Timedelta(days=60)
    assert {"black_friday", "christmas"} <= set(events["event"])
    assert (events.loc[events["event"] == "black_friday", "channel"] == "").all()
    daily = cat.sales[cat.sales["channel"] == "own_shop"].groupby("date")["units"].sum()
    for day in events.loc[(events["event"] == "black_friday") & (events["date"] <= end), "date"]:
        assert daily[day] > 1.5 * daily[day - pd.Timedelta(days=7)]


def test_late_launches_and_short_histories(cat: Catalogue) -> None:
    first = cat.sales.groupby("sku", observed=True)["date"].min()
    late = first[first > cat.sales["date"].min()]
    assert 0.05 * N_SKUS <= len(late) <= 0.15 * N_SKUS
    assert ((cat.sales["date"].max() - late).dt.days < 56).any()
    truth_launch = cat.truth.series.groupby("sku", observed=True)["launch"].min()
    pd.testing.assert_series_equal(truth_launch.loc[first.index], first, check_names=False)


def test_stockouts_come_in_runs_and_censor_sales(with_mean: pd.DataFrame) -> None:
    out = with_mean["in_stock"] == 0
    assert 0.005 <= out.mean() <= 0.03
    assert (with_mean.loc[out, "units"] <= with_mean.loc[out, "demand"]).all()
    assert (with_mean.loc[~out, "units"] == with_mean.loc[~out, "demand"]).all()
    starts = out & ~out.groupby([with_mean["sku"], with_mean["channel"]], observed=True).shift(
        1, fill_value=False)
    assert out.sum() / starts.sum() > 1.5  # mean run length in days


def test_suppliers_behave_as_the_truth_says(cat: Catalogue) -> None:
    receipts, truth = cat.tables["receipts"], cat.truth.suppliers.set_index("supplier")
    assert (receipts["received_on"] >= receipts["ordered_on"]).all()
    promised = receipts["supplier"].map(truth["promised_lead_time_days"])
    assert ((receipts["promised_on"] - receipts["ordered_on"]).dt.days == promised).all()
    delay = (receipts["received_on"] - receipts["promised_on"]).dt.days.astype(float)
    late = delay.groupby(receipts["supplier"]).mean()
    unreliable = truth.index[truth["kind"] == "unreliable"]
    assert len(unreliable) >= 1 and (truth.loc[unreliable, "promised_lead_time_days"] == 4).all()
    assert (late[unreliable] >= 3).all()
    steady = (truth["kind"] == "domestic") & (truth["slippage_days"] == 0) & truth["has_receipts"]
    reliable = truth.index[steady]
    assert (late[reliable].abs() <= 1.5).all()
    assert (late[truth.index[truth["kind"] == "import"]] > 0).all()
    assert receipts.groupby("supplier").size().min() >= 20
    silent = truth.index[~truth["has_receipts"]]
    assert len(silent) == 1 and silent[0] not in set(receipts["supplier"])
    assert silent[0] in set(cat.tables["skus"]["supplier"])


def test_degrading_suppliers_slip_in_the_last_quarter(cat: Catalogue) -> None:
    receipts, truth = cat.tables["receipts"], cat.truth.suppliers
    lead = (receipts["received_on"] - receipts["ordered_on"]).dt.days
    for row in truth[truth["slippage_days"] > 0].to_dict("records"):
        mine = receipts["supplier"] == row["supplier"]
        recent = mine & (receipts["ordered_on"] >= row["slippage_from"])
        early = mine & (receipts["ordered_on"] < row["slippage_from"])
        assert recent.sum() >= 3
        assert lead[recent].mean() - lead[early].mean() > 0.5 * row["slippage_days"]


def test_overview_plot_is_written_with_the_catalogue(tmp_path: Path) -> None:
    small = generate_catalogue(40, 3, 400, 6)
    written = write_catalogue(small, tmp_path / "cat", plot=True)
    png = (written / "overview.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
    assert not (write_catalogue(small, tmp_path / "plain") / "overview.png").exists()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_skus=st.integers(1, 25),
    n_channels=st.integers(1, 5),
    n_days=st.integers(28, 400),
    seed=st.integers(0, 2**32),
    start=st.dates(min_value=pd.Timestamp("2015-01-01").date(), max_value=pd.Timestamp("2030-01-01").date()),
)
def test_any_valid_size_gives_a_consistent_catalogue(
    n_skus: int, n_channels: int, n_days: int, seed: int, start: object
) -> None:
    small = generate_catalogue(n_skus, n_channels, n_days, seed, str(start))
    sales = small.sales
    n_groups = sales.groupby(["sku", "channel"], observed=True).ngroups
    assert n_groups == n_skus * n_channels == len(small.tables["inventory"])
    assert sales["date"].max() == pd.Timestamp(str(start)) + pd.Timedelta(days=n_days - 1)
    units = sales["units"].to_numpy()
    assert (units >= 0).all() and np.array_equal(units, np.round(units))
    assert (sales["returns"] <= sales["units"]).all() and (sales["price"] > 0).all()
    receipts = small.tables["receipts"]
    assert (receipts["received_on"] >= receipts["ordered_on"]).all()
    assert (receipts["received_on"] <= sales["date"].max()).all()
    assert small.tables["events"]["date"].max() >= sales["date"].max() + pd.Timedelta(days=60)
    for name, frame in small.tables.items():
        assert list(frame.columns) == list(TABLES[name].columns), name
