"""Hot swap: requests running while a new run is published and reloaded each come from one run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.serving.api_support import build_run, first_key, make_api, publish

SCALE = 2.0


def test_requests_during_a_swap_are_each_entirely_from_one_run(tmp_path: Path) -> None:
    run = build_run()
    api = make_api(tmp_path, run)
    try:
        first = api.store.latest_run().id  # type: ignore[union-attr]
        base = {k: g["mean"].to_numpy() for k, g in run.forecasts.groupby(["sku", "channel"], observed=True)}
        keys = [{"sku": s, "channel": c} for s, c in list(base)[:6]]
        results: list[tuple[int, dict]] = []
        errors: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = api.client.post("/v1/forecasts:batch", json={"items": keys}, headers=api.read)
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                else:
                    results.append((r.status_code, r.json()))

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        second = publish(api.store, run, model_version="4", scale=SCALE)
        reload = api.client.post("/v1/admin/reload", headers=api.admin).json()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert reload == {"swapped": True, "run_id": second, "previous_run_id": first, "error": None}
        assert not errors
        seen = {body["run_id"] for _, body in results}
        assert seen == {first, second}
        for _, body in results:
            factor = 1.0 if body["run_id"] == first else SCALE
            assert body["model_version"] == ("3" if body["run_id"] == first else "4")
            for series in body["forecasts"]:
                means = np.array(series["mean"])
                np.testing.assert_allclose(means, base[(series["sku"], series["channel"])] * factor)
    finally:
        api.client.close()


def test_the_poller_swaps_in_a_newly_published_run(tmp_path: Path) -> None:
    api = make_api(tmp_path, build_run(), api_poll_seconds=0.2)
    try:
        new_id = publish(api.store, build_run(), model_version="5")
        deadline = time.monotonic() + 15
        while api.client.get("/ready").json()["run_id"] != new_id:
            if time.monotonic() > deadline:
                pytest.fail("the poller did not load the new run within 15 s")
            time.sleep(0.1)
        # The gauge is set right after the swap, from the poller's thread.
        while f"blendcast_served_run_id {float(new_id)}" not in api.client.get("/metrics").text:
            if time.monotonic() > deadline:
                pytest.fail("the metrics never showed the new run id")
            time.sleep(0.05)
    finally:
        api.client.close()


def test_a_failed_reload_keeps_serving_the_previous_run(tmp_path: Path) -> None:
    api = make_api(tmp_path, build_run())
    try:
        served = api.client.app.state.served  # type: ignore[attr-defined]
        before = served.current.run_id
        # A real store that cannot open: its database would live under a regular file.
        (tmp_path / "blocker").write_text("not a directory")
        served.store = type(api.store)(f"sqlite:///{tmp_path / 'blocker' / 'x.db'}")
        r = api.client.post("/v1/admin/reload", headers=api.admin).json()
        assert r["swapped"] is False and r["run_id"] == before
        assert r["error"]
        sku, channel = first_key(api.store)
        assert api.client.get(f"/v1/forecasts/{sku}/{channel}", headers=api.read).json()["run_id"] == before
    finally:
        api.client.close()
