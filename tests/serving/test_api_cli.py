"""``blendcast serve``: bad options exit 2; a real uvicorn process answers /health and /ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from serving.cli import serve

RUN_SERVE = "import typer; from serving.cli import serve; app = typer.Typer(); serve.register(app); app()"


def _app() -> typer.Typer:
    app = typer.Typer()
    serve.register(app)
    app.command("noop")(lambda: None)  # two commands, so "serve" is addressed by name as in blendcast
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--port", "0"], "--port must be in 1..65535"), (["--workers", "0"], "--workers must be in 1..64"),
     (["--log-level", "LOUD"], "--log-level must be one of")],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(_app(), ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_runs_the_app_factory_under_uvicorn(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "BLENDCAST_HOME": str(tmp_path), "BLENDCAST_API_POLL_SECONDS": "0"}
    proc = subprocess.Popen([sys.executable, "-c", RUN_SERVE, "--port", str(port), "--log-level", "WARNING"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
                time.sleep(0.2)
        assert health.json() == {"status": "alive"}
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["ready"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=30)
