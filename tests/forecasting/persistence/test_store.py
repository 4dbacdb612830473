"""The result store, run on SQLite and on PostgreSQL with the same tests."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pandas.testing import assert_frame_equal

from features.schema import M5_QUANTILES, quantile_column
from forecasting.infrastructure.settings import Settings
from forecasting.persistence import NotFoundError, ResultStore
from forecasting.persistence import tables as t
from forecasting.persistence.frames import parse_quantile_json, quantile_json_rows
from forecasting.persistence.migrate import current_revision, head_revision
from models.base import finalize_forecast

HORIZON = 7


def make_forecast(seed: int = 0, n_skus: int = 3, model: str = "lgbm") -> pd.DataFrame:
    """A canonical forecast frame with full-precision floats (to test exact round trips)."""
    rng = np.random.default_rng(seed)
    keys = [(f"SKU_{i:03d}", channel) for i in range(n_skus) for channel in ("store", "web")]
    dates = pd.date_range("2024-03-01", periods=HORIZON, freq="D")
    frame = pd.DataFrame([(s, c, d) for s, c in keys for d in dates], columns=["sku", "channel", "date"])
    frame["mean"] = rng.gamma(2.0, 3.0, len(frame))
    for q in M5_QUANTILES:
        frame[quantile_column(q)] = frame["mean"] * (0.1 + 2 * q) + rng.normal(0, 0.5, len(frame))
    frame["model"] = model
    return finalize_forecast(frame, M5_QUANTILES)


def publish(store: ResultStore, frame: pd.DataFrame, **kwargs: object) -> int:
    run_id = store.create_run("train", {"seed": 1}, data_hash="abc")
    store.publish_run(run_id, forecasts=frame, horizon=HORIZON, quantiles=M5_QUANTILES, **kwargs)  # type: ignore[arg-type]
    return run_id


def forecast_rows(store: ResultStore, run_id: int) -> int:
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(t.forecasts).where(t.forecasts.c.run_id == run_id)
        return int(conn.execute(query).scalar_one())


def test_migrations_are_idempotent_and_match_the_tables(store: ResultStore) -> None:
    store.upgrade()
    store.upgrade()
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diffs == []


def test_two_stores_upgrading_at_once_both_succeed(store_url: str) -> None:
    stores = [ResultStore(store_url) for _ in range(2)]
    errors: list[BaseException] = []

    def run(s: ResultStore) -> None:
        try:
            s.upgrade()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert all(current_revision(s.engine) == head_revision() for s in stores)
    for s in stores:
        s.dispose()


def test_publish_and_read_back_reproduces_every_frame(store: ResultStore) -> None:
    frame = make_forecast()
    policies = pd.DataFrame(
        {
            "sku": ["SKU_000", "SKU_001"],
            "channel": ["web", "store"],
            "policy": ["jit", "safety_stock"],
            "abc": ["C", "A"],
            "xyz": ["X", "Z"],
            "pattern": ["smooth", "lumpy"],
            "service_level": [0.8, 0.97],
            "safety_stock": [0.0, 12.345678901234],
            "reorder_point": [3.5, 40.0],
            "order_up_to": [5.0, 60.0],
            "order_qty": [2.0, 20.0],
            "lead_time_mean": [2.0, 9.25],
            "lead_time_p90": [3.0, 14.0],
            "moq": [36.0, 0.0],
            "pack_size": [12.0, 1.0],
            "reasons": [["class C", "smooth"], ["class A"]],
            "ltd_quantiles": [[1.0, 2.5], [3.0, 4.25]],
            "coverage_days": [1.5, np.nan],
        }
    )
    segments = pd.DataFrame(
        {
            "sku": ["SKU_000", "SKU_001"],
            "channel": ["web", "store"],
            "as_of": pd.to_datetime(["2024-02-29"] * 2),
            "abc": ["C", "A"],
            "xyz": ["X", "Z"],
            "pattern": ["smooth", "lumpy"],
            "policy": ["jit", "safety_stock"],
            "adi": [1.0, 3.2],
            "cv2": [0.1, 0.9],
        }
    )
    run_id = publish(
        store,
        frame,
        policies=policies,
        segments=segments,
        metrics={"wql": np.float64(0.25)},
        model_version="3",
        model_uri="models:/blendcast-demand/3",
    )

    assert_frame_equal(store.get_forecasts(), frame, check_exact=True)
    assert_frame_equal(store.get_forecasts(run_id), frame, check_exact=True)
    keys = [("SKU_001", "web"), ("SKU_002", "store"), ("NOPE", "web")]
    subset = frame[frame.set_index(["sku", "channel"]).index.isin(keys[:2])].reset_index(drop=True)
    assert_frame_equal(store.get_forecasts(keys=keys), subset, check_exact=True)

    run = store.latest_run()
    assert run is not None and run.id == run_id and run.status == "published"
    assert run.quantiles == M5_QUANTILES and run.horizon == HORIZON and run.metrics == {"wql": 0.25}
    assert (run.model_version, run.model_uri, run.data_hash) == ("3", "models:/blendcast-demand/3", "abc")
    assert run.published_at is not None and run.published_at.tzinfo is not None

    assert_frame_equal(store.get_policies(), policies, check_exact=True)
    expected_segments = segments.rename(columns={})
    assert_frame_equal(store.get_segments(run_id), expected_segments, check_exact=True)


def test_frame_with_other_quantiles_round_trips(store: ResultStore) -> None:
    frame = make_forecast()[["sku", "channel", "date", "mean", "0.025", "0.5", "0.975", "model"]]
    run_id = store.create_run("forecast", {})
    store.publish_run(run_id, forecasts=frame, horizon=HORIZON, quantiles=[0.975, 0.025, 0.5])
    assert_frame_equal(store.get_forecasts(), frame, check_exact=True)


def _break(frame: pd.DataFrame, how: str) -> pd.DataFrame:
    bad = frame.copy()
    if how == "nan":
        bad.loc[3, "0.5"] = np.nan
    elif how == "crossing":
        bad.loc[2, "0.995"] = float(bad["0.005"].iloc[2]) - 1e-3
    elif how == "negative":
        bad.loc[1, "mean"] = -1.0
    elif how == "missing":
        bad = bad.drop(columns=["0.835"])
    elif how == "duplicate":
        bad = pd.concat([bad, bad.iloc[[0]]], ignore_index=True)
    elif how == "long_sku":
        bad.loc[bad["sku"] == "SKU_001", "sku"] = "S" * 129
    return bad


@pytest.mark.parametrize(
    ("how", "match"),
    [
        ("nan", r"column '0\.5': 1 row is NaN.*SKU_000, store, 2024-03-04.*Fix:"),
        ("crossing", r"1 row has crossing quantiles.*Fix: sort"),
        ("negative", r"column 'mean': 1 row is negative.*Fix: clip"),
        ("missing", r"missing column\(s\) \['0\.835'\]"),
        ("duplicate", r"2 rows are duplicates of the key"),
        ("long_sku", r"column 'sku': 14 rows are longer than 128 characters.*Fix: shorten"),
    ],
)
def test_bad_forecast_frame_is_rejected_and_nothing_is_written(
    store: ResultStore, how: str, match: str
) -> None:
    good = make_forecast(seed=1)
    served = publish(store, good)
    run_id = store.create_run("train", {})
    with pytest.raises(ValueError, match=match):
        store.publish_run(
            run_id, forecasts=_break(make_forecast(seed=2), how), horizon=HORIZON, quantiles=M5_QUANTILES
        )
    assert forecast_rows(store, run_id) == 0
    assert store.get_run(run_id).status == "running"
    assert store.latest_run().id == served  # type: ignore[union-attr]


def test_publish_rejects_bad_arguments(store: ResultStore) -> None:
    run_id = store.create_run("train", {})
    frame = make_forecast()
    with pytest.raises(ValueError, match="more than horizon=3 dates"):
        store.publish_run(run_id, forecasts=frame, horizon=3, quantiles=M5_QUANTILES)
    with pytest.raises(ValueError, match="horizon"):
        store.publish_run(run_id, forecasts=frame, horizon=0, quantiles=M5_QUANTILES)
    with pytest.raises(NotFoundError, match="Run 999 does not exist"):
        store.publish_run(999, forecasts=frame, horizon=HORIZON, quantiles=M5_QUANTILES)
    store.publish_run(run_id, forecasts=frame, horizon=HORIZON, quantiles=M5_QUANTILES)
    with pytest.raises(ValueError, match=f"Run {run_id} is 'published', expected 'running'"):
        store.publish_run(run_id, forecasts=frame, horizon=HORIZON, quantiles=M5_QUANTILES)
    with pytest.raises(ValueError, match="cannot be marked failed"):
        store.fail_run(run_id, "late")
    with pytest.raises(ValueError, match="kind"):
        store.create_run("", {})


def test_nothing_published_yet(store: ResultStore) -> None:
    assert store.latest_run() is None
    with pytest.raises(NotFoundError, match="No run has been published yet"):
        store.get_forecasts()
    with pytest.raises(NotFoundError, match="Run 5 does not exist"):
        store.get_run(5)


def test_failure_inside_the_publish_transaction_keeps_the_previous_run(store: ResultStore) -> None:
    old = make_forecast(seed=1)
    served = publish(store, old)
    run_id = store.create_run("train", {})

    exploded: list[str] = []

    def explode(conn, cursor, statement, params, context, executemany):
        # The publish's status update comes after the forecasts are inserted: fail there, once.
        if statement.lstrip().upper().startswith("UPDATE RUNS") and not exploded:
            exploded.append(statement)
            raise RuntimeError("disk full")

    sa.event.listen(store.engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            store.publish_run(
                run_id, forecasts=make_forecast(seed=2), horizon=HORIZON, quantiles=M5_QUANTILES
            )
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", explode)
    assert store.latest_run().id == served  # type: ignore[union-attr]
    assert_frame_equal(store.get_forecasts(), old, check_exact=True)
    assert forecast_rows(store, run_id) == 0
    failed = store.get_run(run_id)
    assert failed.status == "failed" and "disk full" in (failed.notes or "")


KILL_SCRIPT = """
import os, signal, sys
import pandas as pd, sqlalchemy as sa
from forecasting.persistence import ResultStore
from features.schema import M5_QUANTILES
store = ResultStore(sys.argv[1])

@sa.event.listens_for(store.engine, "before_cursor_execute")
def die(conn, cursor, statement, params, context, executemany):
    if statement.lstrip().upper().startswith("UPDATE RUNS"):
        os.kill(os.getpid(), signal.SIGKILL)

store.publish_run(int(sys.argv[3]), forecasts=pd.read_pickle(sys.argv[2]), horizon=7, quantiles=M5_QUANTILES)
"""


@pytest.mark.slow
def test_publish_killed_midway_keeps_the_previous_run(
    store: ResultStore, store_url: str, tmp_path: Path
) -> None:
    old = make_forecast(seed=1)
    served = publish(store, old)
    run_id = store.create_run("train", {})
    make_forecast(seed=3, n_skus=40).to_pickle(tmp_path / "new.pkl")
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, store_url, str(tmp_path / "new.pkl"), str(run_id)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    reader = ResultStore(store_url)
    assert reader.latest_run().id == served  # type: ignore[union-attr]
    assert_frame_equal(reader.get_forecasts(), old, check_exact=True)
    assert forecast_rows(reader, run_id) == 0
    assert reader.get_run(run_id).status == "running"
    reader.dispose()


def test_readers_see_the_previous_run_until_the_publish_commits(store: ResultStore, store_url: str) -> None:
    old, new = make_forecast(seed=1), make_forecast(seed=2, model="ets")
    served = publish(store, old)
    run_id = store.create_run("train", {})
    reader = ResultStore(store_url)  # its own engine: another connection, as in another process
    seen: dict[str, object] = {}

    def peek(conn: sa.Connection) -> None:  # runs after every row is written, before COMMIT
        if "latest" not in seen:
            seen["latest"] = reader.latest_run().id  # type: ignore[union-attr]
            seen["status"] = reader.get_run(run_id).status
            seen["forecasts"] = reader.get_forecasts(keys=[("SKU_000", "web")])
            seen["new_rows"] = forecast_rows(reader, run_id)

    sa.event.listen(store.engine, "commit", peek)
    try:
        store.publish_run(run_id, forecasts=new, horizon=HORIZON, quantiles=M5_QUANTILES)
    finally:
        sa.event.remove(store.engine, "commit", peek)
    assert seen["latest"] == served and seen["status"] == "running" and seen["new_rows"] == 0
    old_part = old[(old["sku"] == "SKU_000") & (old["channel"] == "web")].reset_index(drop=True)
    assert_frame_equal(seen["forecasts"], old_part, check_exact=True)  # type: ignore[arg-type]
    assert reader.latest_run().id == run_id  # type: ignore[union-attr]
    assert_frame_equal(reader.get_forecasts(), new, check_exact=True)
    reader.dispose()


def test_segment_history_follows_a_sku_across_published_runs(store: ResultStore) -> None:
    def seg(abc: str, as_of: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sku": ["SKU_000", "SKU_001"],
                "channel": ["web", "web"],
                "as_of": [as_of] * 2,
                "abc": [abc, "C"],
                "xyz": ["X", "Y"],
                "pattern": ["smooth"] * 2,
                "policy": ["jit"] * 2,
                "cv2": [0.2, 0.3],
            }
        )

    first = publish(store, make_forecast(), segments=seg("C", "2024-01-07"))
    second = publish(store, make_forecast(), segments=seg("A", "2024-01-14"))
    failed = store.create_run("train", {})
    store.fail_run(failed, "boom")
    history = store.segment_history("SKU_000", "web")
    assert history["run_id"].tolist() == [first, second]
    assert history["abc"].tolist() == ["C", "A"]
    assert history["as_of"].tolist() == [pd.Timestamp("2024-01-07"), pd.Timestamp("2024-01-14")]
    assert history["cv2"].tolist() == [0.2, 0.2]
    assert store.segment_history("SKU_404").empty
    assert store.get_segments()["abc"].tolist() == ["A", "C"]


def test_from_settings_uses_blendcast_home(tmp_path: Path) -> None:
    store = ResultStore.from_settings(Settings(home=tmp_path / "home"))
    assert store.ping()
    assert store.create_api_key("read")[0] == 1
    assert (tmp_path / "home" / "blendcast.db").exists()
    store.dispose()


def test_ping_is_false_for_an_unreachable_database() -> None:
    assert not ResultStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1").ping()
    with pytest.raises(ValueError, match=r"supports SQLite and PostgreSQL\. Got a 'mysql' URL"):
        ResultStore("mysql://user@host/db").latest_run()


def test_before_commit_runs_inside_the_transaction(store: ResultStore, store_url: str) -> None:
    old = make_forecast(seed=1)
    served = publish(store, old)
    reader = ResultStore(store_url)
    seen: list[int] = []

    def registry_down() -> None:
        seen.append(reader.latest_run().id)  # type: ignore[union-attr]
        raise ConnectionError("registry unreachable")

    run_id = store.create_run("train", {})
    with pytest.raises(ConnectionError, match="registry unreachable"):
        store.publish_run(
            run_id,
            forecasts=make_forecast(seed=2),
            horizon=HORIZON,
            quantiles=M5_QUANTILES,
            before_commit=registry_down,
        )
    assert seen == [served]
    assert reader.latest_run().id == served  # type: ignore[union-attr]
    assert forecast_rows(reader, run_id) == 0 and reader.get_run(run_id).status == "failed"
    reader.dispose()


def test_republish_serves_an_earlier_run_again(store: ResultStore) -> None:
    first_frame = make_forecast(seed=1)
    first = publish(store, first_frame)
    second = publish(store, make_forecast(seed=2))
    assert store.latest_run().id == second  # type: ignore[union-attr]
    store.republish_run(first)
    assert store.latest_run().id == first  # type: ignore[union-attr]
    assert_frame_equal(store.get_forecasts(), first_frame, check_exact=True)
    failed = store.create_run("train", {})
    store.fail_run(failed, "boom")
    with pytest.raises(ValueError, match=f"Run {failed} is failed, not published"):
        store.republish_run(failed)
    with pytest.raises(NotFoundError, match="Run 999 does not exist"):
        store.republish_run(999)
    assert [r.id for r in store.list_runs(limit=2)] == [failed, second]


def test_quantile_text_round_trips_every_float_exactly() -> None:
    tricky = np.array([[0.0, 5e-324, 0.1 + 0.2, 1e-5], [1 / 3, 2.0**53 + 2, 1.7976931348623157e308, 123.0]])
    texts = quantile_json_rows(tricky)
    assert len(texts) == 2 and all(x.startswith("[") and x.endswith("]") for x in texts)
    assert np.array_equal(parse_quantile_json(texts, 4), tricky)
    assert parse_quantile_json([], 4).shape == (0, 4)


@pytest.mark.parametrize(
    ("policies", "match"),
    [
        (
            pd.DataFrame({"sku": ["A"], "channel": ["web"]}),
            r"policies frame is missing column\(s\) \['policy'\]",
        ),
        (
            pd.DataFrame({"sku": ["A"], "channel": ["web"], "policy": [None]}),
            r"column 'policy': 1 row is empty",
        ),
        (pd.DataFrame({"sku": ["A", "A"], "channel": ["web", "web"], "policy": ["jit"] * 2}), "1 duplicate"),
    ],
)
def test_bad_policies_are_rejected_before_writing(
    store: ResultStore, policies: pd.DataFrame, match: str
) -> None:
    run_id = store.create_run("train", {})
    with pytest.raises(ValueError, match=match):
        store.publish_run(
            run_id, forecasts=make_forecast(), policies=policies, horizon=HORIZON, quantiles=M5_QUANTILES
        )
    assert forecast_rows(store, run_id) == 0 and store.latest_run() is None


def test_prune_keeps_the_newest_runs_and_segment_history(store: ResultStore) -> None:
    seg = pd.DataFrame({"sku": ["SKU_000"], "channel": ["web"], "abc": ["B"]})
    runs = [publish(store, make_forecast(seed=i), segments=seg) for i in range(3)]
    store.republish_run(runs[0])  # served again: must survive the prune
    per_run = forecast_rows(store, runs[0])
    assert store.prune_runs(keep=2) == per_run
    assert [forecast_rows(store, r) for r in runs] == [per_run, 0, per_run]
    assert store.latest_run().id == runs[0]  # type: ignore[union-attr]
    assert store.segment_history("SKU_000", "web")["run_id"].tolist() == runs
    with pytest.raises(ValueError, match=f"Run {runs[1]}'s forecasts were pruned"):
        store.republish_run(runs[1])
    with pytest.raises(ValueError, match=r"'keep' of prune_runs must be a whole number >= 1\. Got 0"):
        store.prune_runs(keep=0)


def test_key_lookups_beyond_one_query_chunk(store: ResultStore) -> None:
    frame = make_forecast(n_skus=4)
    publish(store, frame)
    wanted = [("SKU_003", "web"), ("SKU_000", "store")]
    keys = [*wanted, *((f"UNKNOWN_{i}", "web") for i in range(1200))]
    got = store.get_forecasts(keys=keys)
    expected = frame[frame.set_index(["sku", "channel"]).index.isin(wanted)].reset_index(drop=True)
    assert_frame_equal(got, expected, check_exact=True)
    empty = store.get_forecasts(keys=[])
    assert empty.empty and list(empty.columns) == list(frame.columns)


def test_concurrent_readers_only_ever_see_complete_runs(store: ResultStore, store_url: str) -> None:
    old, new = make_forecast(seed=1, n_skus=150), make_forecast(seed=2, n_skus=150, model="ets")
    first = publish(store, old)
    reader = ResultStore(store_url)
    seen: list[tuple[int, int, frozenset[str]]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_until_done() -> None:
        try:
            while not done.is_set() or len(seen) < 3:
                run = reader.latest_run()
                assert run is not None
                frame = reader.get_forecasts(run.id, keys=[("SKU_000", "web"), ("SKU_149", "store")])
                seen.append((run.id, len(frame), frozenset(frame["model"])))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=read_until_done)
    thread.start()
    try:
        new_run = publish(store, new)
    finally:
        done.set()
        thread.join(timeout=60)
    assert errors == []
    assert reader.latest_run().id == new_run  # type: ignore[union-attr]
    reader.dispose()
    assert {(n, models) for _, n, models in seen} <= {
        (2 * HORIZON, frozenset({"lgbm"})),
        (2 * HORIZON, frozenset({"ets"})),
    }
    assert {run_id for run_id, _, _ in seen} <= {first, new_run} and len(seen) >= 3
