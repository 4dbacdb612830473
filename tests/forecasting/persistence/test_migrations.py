"""Schema revisions after the first: an older database upgrades in place and keeps its rows."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from forecasting.persistence import ResultStore
from forecasting.persistence.migrate import alembic_config, current_revision, head_revision
from tests.forecasting.persistence.test_store import make_forecast, publish


def _policies(moq: list[float] | None = None, pack: list[float] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"sku": ["SKU_000", "SKU_001"], "channel": ["web", "store"], "policy": ["jit", "safety_stock"],
         "reorder_point": [3.0, 40.0], "order_up_to": [5.0, 60.0], "order_qty": [36.0, 24.0]}
    )
    if moq is not None:
        frame["moq"] = moq
    if pack is not None:
        frame["pack_size"] = pack
    return frame


def test_policies_keep_moq_and_pack_size_as_columns(store: ResultStore) -> None:
    publish(store, make_forecast(), policies=_policies([36.0, 0.0], [12.0, 24.0]))
    got = store.get_policies().set_index("sku")
    assert got.loc["SKU_000", "moq"] == 36.0 and got.loc["SKU_000", "pack_size"] == 12.0
    assert got.loc["SKU_001", "pack_size"] == 24.0
    with store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT sku, moq, pack_size FROM policies ORDER BY sku")).all()
    assert [tuple(r) for r in stored] == [("SKU_000", 36.0, 12.0), ("SKU_001", 0.0, 24.0)]


def test_a_revision_0001_store_upgrades_and_keeps_its_policy_rows(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        run = conn.execute(
            sa.text("INSERT INTO runs (created_at, status, kind, data_hash) "
                    "VALUES (CURRENT_TIMESTAMP, 'running', 'old', 'h') RETURNING id")
        ).scalar_one()
        conn.execute(sa.text("INSERT INTO policies (run_id, sku, channel, policy, order_qty) "
                             "VALUES (:r, 'OLD', 'web', 'jit', 7.0)"), {"r": run})
    assert current_revision(engine) == "0001"
    store = ResultStore(store_url)
    try:
        store.upgrade()
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT sku, order_qty, moq, pack_size FROM policies")).one()
        assert tuple(row) == ("OLD", 7.0, None, None)  # published before 0002: no rounding known
    finally:
        store.dispose()
        engine.dispose()


@pytest.mark.parametrize("target", ["0001"])
def test_downgrade_to_0001_drops_the_columns(store_url: str, target: str) -> None:
    store = ResultStore(store_url)
    store.upgrade()
    cfg = alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("policies")}
    assert "moq" not in columns and "pack_size" not in columns and "extra" in columns
    store.dispose()
