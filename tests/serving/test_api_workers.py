"""``blendcast serve --workers 2`` as real processes: /metrics sums both workers, a revoked key is
refused at once by both, and each request leaves one access-log line naming the key by its prefix."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from forecasting.infrastructure.settings import Settings
from forecasting.persistence import ResultStore
from tests.serving.api_support import build_run, first_key, publish

RUN_SERVE = "import typer; from serving.cli import serve; app = typer.Typer(); serve.register(app); app()"
ROUTE = '/v1/forecasts/{sku}/{channel}'


@dataclass
class Server:
    url: str
    store: ResultStore
    proc: subprocess.Popen[bytes]
    log: Path


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("workers")
    store = ResultStore.from_settings(Settings(home=home))
    publish(store, build_run(n_skus=4))
    port = _port()
    env = {**os.environ, "BLENDCAST_HOME": str(home), "BLENDCAST_API_POLL_SECONDS": "0",
           "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = home / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", RUN_SERVE, "--port", str(port), "--workers", "2",
                                 "--log-level", "INFO"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready_in_a_row = 0
        while ready_in_a_row < 10:  # both workers loaded the run
            try:
                ok = httpx.get(f"{url}/ready", timeout=5).status_code == 200
            except httpx.TransportError:
                ok = False
            ready_in_a_row = ready_in_a_row + 1 if ok else 0
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve --workers 2 did not get ready: {log.read_text()[-2000:]}")
            if not ok:
                time.sleep(0.3)
        yield Server(url, store, proc, log)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _count(text: str) -> float:
    labels = rf'[^}}]*route="{re.escape(ROUTE)}"[^}}]*status="200"[^}}]*'
    pattern = rf"blendcast_http_requests_total\{{{labels}\}} (\S+)"
    return sum(float(v) for v in re.findall(pattern, text))


def test_metrics_sum_every_worker_on_each_scrape(server: Server) -> None:
    sku, channel = first_key(server.store)
    _, key = server.store.create_api_key("read", "metrics")
    before = _count(httpx.get(f"{server.url}/metrics", timeout=10).text)
    n = 40
    for _ in range(n):  # a new connection each time: the kernel spreads them over the workers
        assert httpx.get(f"{server.url}/v1/forecasts/{sku}/{channel}", headers={"X-API-Key": key},
                         timeout=10).status_code == 200
    scrapes = [_count(httpx.get(f"{server.url}/metrics", timeout=10).text) for _ in range(8)]
    assert scrapes == [before + n] * 8


def test_revoked_key_is_refused_by_every_worker_on_the_next_request(server: Server) -> None:
    sku, channel = first_key(server.store)
    key_id, key = server.store.create_api_key("read", "revoke")
    path = f"{server.url}/v1/forecasts/{sku}/{channel}"

    def statuses(n: int) -> list[int]:
        return [httpx.get(path, headers={"X-API-Key": key}, timeout=10).status_code for _ in range(n)]

    assert statuses(6) == [200] * 6
    server.store.revoke_api_key(key_id)
    assert statuses(12) == [401] * 12


def test_access_log_has_a_line_per_request_from_both_workers(server: Server) -> None:
    sku, channel = first_key(server.store)
    _, key = server.store.create_api_key("read", "log")
    for _ in range(20):
        httpx.get(f"{server.url}/v1/forecasts/{sku}/{channel}", headers={"X-API-Key": key}, timeout=10)
    deadline = time.monotonic() + 10
    pattern = re.compile(rf"\[(\d+)\] blendcast.access: GET /v1/forecasts/{sku}/{channel} 200 [\d.]+ms "
                         rf"key={re.escape(key[:12])}$", re.M)
    while len(pattern.findall(server.log.read_text())) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)  # the workers' log lines reach the file asynchronously
    text = server.log.read_text()
    assert len(pattern.findall(text)) == 20
    assert len(set(pattern.findall(text))) == 2, "both workers answered"
    assert key not in text
