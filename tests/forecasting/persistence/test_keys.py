"""API keys in the result store (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.persistence import NotFoundError, ResultStore
from forecasting.persistence import tables as t


def test_api_keys_are_stored_hashed_and_can_be_revoked(store: ResultStore) -> None:
    key_id, plaintext = store.create_api_key("read", name="ims")
    admin_id, admin_key = store.create_api_key("admin")
    with store.engine.connect() as conn:
        stored = [str(v) for row in conn.execute(sa.select(t.api_keys)).all() for v in row]
    secret = plaintext.split("_", 2)[2]
    assert not any(secret in value or plaintext in value for value in stored)
    assert store.verify_api_key(plaintext) == "read"
    assert store.verify_api_key(admin_key) == "admin"
    assert store.verify_api_key(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")) is None
    assert store.verify_api_key("bck_00000000_" + secret) is None
    assert store.verify_api_key("not a key") is None
    keys = store.list_api_keys()
    assert set(keys["id"]) == {key_id, admin_id} and "hash" not in keys and "salt" not in keys
    assert keys.set_index("id").loc[key_id, "last_used_at"] is not pd.NaT
    store.revoke_api_key(key_id)
    store.revoke_api_key(key_id)
    assert store.verify_api_key(plaintext) is None
    assert store.verify_api_key(admin_key) == "admin"
    with pytest.raises(NotFoundError, match="no API key with id 999"):
        store.revoke_api_key(999)
    with pytest.raises(ValueError, match=r"'scope' must be one of \['read', 'admin'\]. Got 'root'"):
        store.create_api_key("root")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'name' must be at most 128 characters\. Got 200"):
        store.create_api_key("read", name="x" * 200)


def test_a_key_verifies_while_another_writer_holds_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}?timeout=0.2"
    store = ResultStore(url)
    _, plaintext = store.create_api_key("read")
    blocker = sa.create_engine(url)
    with blocker.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # as a long publish does
        assert store.verify_api_key(plaintext) == "read"
        conn.exec_driver_sql("ROLLBACK")
    assert store.list_api_keys()["last_used_at"].isna().all()
    blocker.dispose()
    store.dispose()
