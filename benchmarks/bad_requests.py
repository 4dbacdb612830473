"""Hand-made bad requests against a live API: no 5xx, one error shape, nothing written.

What it does:

1. Publishes a synthetic run (``benchmarks/workbench.py``'s, ``--series`` SKU-channels) into a SQLite
   store in a temporary ``BLENDCAST_HOME`` and creates read, admin and revoked keys.
2. Starts ``uvicorn --factory serving.api.app:create_app`` on 127.0.0.1 and waits for ``/ready``.
3. Sends each hand-made bad request once (broken JSON, NaN/Infinity/1e400, wrong types, out-of-range
   values, unknown enums, bad paths, bad keys and headers, wrong methods and content types, big bodies),
   each over a new connection, and checks that the answer is a 4xx in the one error shape
   (``{"detail": "... Fix: ..."}``) -- 3xx/2xx are listed too -- and that the store's row counts are
   unchanged afterwards.
4. Prints a table of status counts per family and the 5xx count (the exit code is 1 if any 5xx).

Run: ``.venv/bin/python -P benchmarks/bad_requests.py`` (``-P``: ``benchmarks/serving.py`` would
shadow the package).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parent))  # the workbench benchmark's synthetic run
from workbench import free_port, publish, start_server

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from forecasting.persistence.tables import metadata

console = Console(width=140)
JSON = {"Content-Type": "application/json"}


@dataclass
class Bad:
    """One bad request."""

    family: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    json: Any = None
    key: str = "read"  # read | admin | none


def _json_text(family: str, path: str, texts: list[str]) -> list[Bad]:
    return [Bad(family, "POST", path, headers=JSON, content=t.encode()) for t in texts]


def requests(sku: str, channel: str) -> list[Bad]:
    """The bad requests (all hand-made; >= 140)."""
    item = f'"sku":"{sku}","channel":"{channel}"'
    out: list[Bad] = []
    broken = ["", "{", '{"items":', "[", "null", "42", '"text"', "[]", "{'sku': 'x'}", '{"items":[],}',
              "\ufeff{}", '{"a":1}{"b":2}', '{"sku":"\\ud800"}']
    for path in ("/v1/forecasts:batch", "/v1/replenishment", "/v1/scenarios"):
        out += _json_text("broken JSON", path, broken)
    for value in ("NaN", "Infinity", "-Infinity", "1e400", "-1e999", "nan"):
        out += _json_text("NaN / Infinity / 1e400", "/v1/replenishment", [f'{{{item},"on_hand":{value}}}'])
        out += _json_text("NaN / Infinity / 1e400", "/v1/forecasts:batch",
                          [f'{{"items":[{{{item}}}],"horizon":{value}}}'])
    for name in ("on_hand", "on_order", "backorders", "service_level", "lead_time_days"):
        for value in (False, True, "12", [], {}, -1, 1e13):
            body = {"sku": sku, "channel": channel, "on_hand": 1, name: value}
            out.append(Bad("wrong type / range (replenishment)", "POST", "/v1/replenishment", json=body))
    for body in ({"sku": sku}, {"channel": channel, "on_hand": 1},
                 {"sku": "", "channel": channel, "on_hand": 1},
                 {"sku": sku, "channel": channel, "on_hand": 1, "colour": "red"}, {"items": []},
                 {"items": [{"sku": sku, "channel": channel, "on_hand": -1}]}, {"items": "all"},
                 {"items": [{"sku": "x" * 201, "channel": channel, "on_hand": 1}]},
                 {"items": [{"sku": sku, "channel": channel, "on_hand": 1}] * 10_001}):
        out.append(Bad("missing / extra / size (replenishment)", "POST", "/v1/replenishment", json=body))
    for body in ({"items": []}, {"items": [{"sku": sku}]}, {"items": [{"sku": sku, "channel": channel}],
                                                           "horizon": 0},
                 {"items": [{"sku": sku, "channel": channel}], "horizon": 29},
                 {"items": [{"sku": sku, "channel": channel}], "horizon": "7"},
                 {"items": [{"sku": sku, "channel": channel}], "horizon": 7.5},
                 {"items": [{"sku": sku, "channel": channel}], "quantiles": [0]},
                 {"items": [{"sku": sku, "channel": channel}], "quantiles": [1.0]},
                 {"items": [{"sku": sku, "channel": channel}], "quantiles": [0.123]},
                 {"items": [{"sku": sku, "channel": channel}], "quantiles": []},
                 {"items": [{"sku": sku, "channel": channel}], "extra": 1}):
        out.append(Bad("batch forecasts body", "POST", "/v1/forecasts:batch", json=body))
    forecast = f"/v1/forecasts/{sku}/{channel}"
    for params in ({"horizon": "0"}, {"horizon": "-1"}, {"horizon": "1.5"}, {"horizon": "abc"},
                   {"horizon": "29"}, {"horizon": "99999999999999999999"}, {"horizon": ""},
                   {"horizon": "1e3"},
                   {"quantiles": "abc"}, {"quantiles": "0"}, {"quantiles": "1"}, {"quantiles": "0.50"},
                   {"quantiles": "0.5,,0.9"}, {"quantiles": "-0.5"}, {"quantiles": "0.123"},
                   {"quantiles": "x" * 600}):
        out.append(Bad("forecast query", "GET", forecast, params=params))
    for params in ({"abc": "Z"}, {"abc": "a"}, {"policy": "bogus"}, {"policy": "jit"}, {"limit": "0"},
                   {"limit": "10001"}, {"limit": "ten"}, {"offset": "-1"}, {"offset": "1e9"}):
        out.append(Bad("segments query", "GET", "/v1/segments", params=params))
    for params in ({"type": "foo"}, {"type": ""}, {"since": "0.5"}, {"since": "yesterday"},
                   {"since": "2026-13-01"}, {"since": "1700000000"}, {"limit": "0"}, {"limit": "5001"}):
        out.append(Bad("alerts query", "GET", "/v1/alerts", params=params))
    for params in ({"as_of": "soon"}, {"as_of": "2000-01-01"}, {"as_of": "2026-02-30"}):
        out.append(Bad("purchase-orders query", "GET", "/v1/purchase-orders", params=params))
    for path in ("/v1/forecasts/NOPE/web", f"/v1/forecasts/{sku}/nochannel", f"/v1/forecasts/{sku}",
                 "/v1/forecasts/" + "x" * 5000 + "/web", "/v1/forecasts/%00/web", "/v1/segments/NOPE",
                 "/v1/nothing", "/v1/forecasts/../admin/reload", "/reports/drift/9223372036854775808",
                 "/reports/drift/-1", "/reports/drift/abc", "/reports/drift/1e3"):
        out.append(Bad("paths", "GET", path, key="admin" if path.startswith("/reports") else "read"))
    for headers in ({}, {"X-API-Key": "bck_00000000_nope"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer"}, {"X-API-Key": ""},
                    {"Authorization": "Bearer a", "X-API-Key": "b"},
                    {"Authorization": "Bearer " + "k" * 100_000}, {"X-API-Key": "k" * 9_000}):
        out.append(Bad("keys and headers", "GET", forecast, headers=headers, key="none"))
    out.append(Bad("keys and headers", "GET", forecast, key="revoked"))
    out.append(Bad("keys and headers", "POST", "/v1/admin/reload", key="read"))
    out.append(Bad("keys and headers", "GET", "/ui/matrix", key="none"))
    for method, path in (("DELETE", "/v1/segments"), ("PUT", "/v1/replenishment"), ("PATCH", forecast),
                         ("GET", "/v1/replenishment"), ("POST", "/v1/alerts"),
                         ("DELETE", "/v1/admin/reload")):
        out.append(Bad("methods", method, path))
    body = f'{{{item},"on_hand":1}}'.encode()
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "application/xml"}, {"Content-Type": "multipart/form-data; boundary=x"}):
        out.append(Bad("content types", "POST", "/v1/replenishment", headers=headers, content=body))
    out.append(Bad("body size", "POST", "/v1/forecasts:batch", headers=JSON, content=b" " * 3_000_000))
    out.append(Bad("body size", "POST", "/v1/replenishment", headers=JSON,
                   content=b'{"sku":"' + b"x" * 2_100_000 + b'"}'))
    return out


def snapshot(store: ResultStore) -> dict[str, int]:
    """Rows per table of the store."""
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                for t in metadata.sorted_tables if inspector.has_table(t.name)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=200, help="SKU-channels in the published run.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="blendcast-bad-") as tmp:
        home = Path(tmp)
        read_key, _ = publish(home, args.series)
        store = ResultStore.from_settings(Settings(home=home))
        _, admin_key = store.create_api_key("admin", "bad-requests")
        revoked_id, revoked_key = store.create_api_key("read", "revoked")
        store.revoke_api_key(revoked_id)
        forecasts = store.get_forecasts()
        sku, channel = str(forecasts["sku"].iloc[0]), str(forecasts["channel"].iloc[0])
        keys = {"read": read_key, "admin": admin_key, "revoked": revoked_key}
        cases = requests(sku, channel)
        port = free_port()
        proc = start_server(home, port)
        before = snapshot(store)
        counts: dict[str, Counter[int]] = defaultdict(Counter)
        shapeless: list[str] = []
        try:
            for bad in cases:
                headers = dict(bad.headers)
                if bad.key in keys and not any(h.lower() in ("authorization", "x-api-key") for h in headers):
                    headers["X-API-Key"] = keys[bad.key]
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    r = client.request(bad.method, bad.path, headers=headers, params=bad.params,
                                       content=bad.content, json=bad.json)
                counts[bad.family][r.status_code] += 1
                is_page = bad.path.startswith("/ui")
                if not is_page and r.status_code >= 400:
                    try:
                        detail = r.json()["detail"]
                        ok = isinstance(detail, str) and ("Fix:" in detail or r.status_code in (404, 405))
                    except (ValueError, KeyError, TypeError):
                        ok = False
                    if not ok:
                        shapeless.append(f"{bad.method} {bad.path[:60]} -> {r.status_code} {r.text[:80]}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        after = snapshot(store)
        store.dispose()
    statuses = sorted({s for c in counts.values() for s in c})
    table = Table(title=f"{len(cases)} hand-made bad requests against a live uvicorn (127.0.0.1)")
    table.add_column("family")
    table.add_column("n", justify="right")
    for status in statuses:
        table.add_column(str(status), justify="right")
    for family, counter in counts.items():
        table.add_row(family, str(sum(counter.values())), *[str(counter.get(s, "")) for s in statuses])
    total: Counter[int] = sum(counts.values(), Counter())
    table.add_row("all", str(len(cases)), *[str(total.get(s, "")) for s in statuses], style="bold")
    console.print(table)
    n_5xx = sum(n for s, n in total.items() if s >= 500)
    n_ok = sum(n for s, n in total.items() if s < 400)
    console.print(f"5xx: {n_5xx}   2xx/3xx: {n_ok}   errors without the one shape (detail + 'Fix:'): "
                  f"{len(shapeless)}   store rows unchanged: {'yes' if before == after else 'NO'}")
    for line in shapeless:
        console.print(f"  shape: {line}")
    if n_5xx or before != after:
        sys.exit(1)


if __name__ == "__main__":
    main()
