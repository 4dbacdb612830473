"""``blendcast serve``: run the HTTP API with uvicorn (app factory, one served run per worker)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from serving.cli.common import bad_input_exits, console, setup_logging

APP_FACTORY = "serving.api.app:create_app"
# Loading a large run parses JSON while holding the GIL for seconds; uvicorn's supervisor would take
# the silent worker for dead (default 5 s) and restart it in a loop.
WORKER_HEALTHCHECK_S = 300
# With --http h11 the parser itself refuses a request head over this many bytes (httptools has no such
# limit; the app refuses key headers over 8 KB and header blocks over 32 KB with 431 either way).
H11_MAX_HEAD_BYTES = 64 * 1024


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 for every interface.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes; each holds the served run in memory.")] = 1,
    log_level: Annotated[str | None, typer.Option(help="Log level (default: BLENDCAST_LOG_LEVEL).")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Data directory whose sales the /ui fan charts draw.")
    ] = None,
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools), or h11 (also caps the request "
                                           "head at 64 KB in the parser).")] = "auto",
) -> None:
    """Serve forecasts, order advice, segments and alerts to the IMS over HTTP.

    Settings come from BLENDCAST_* variables (store URL, CORS origins, request-size limit, run polling
    interval). Create keys first with `blendcast api-key create --scope read`: /v1, the /ui pages and
    /reports need one (BLENDCAST_PUBLIC_PAGES=true opens the pages). One access-log line per request
    (method, path, status, ms, key prefix) goes to the 'blendcast.access' logger.
    """
    with bad_input_exits():
        if not 0 < port < 65536:
            raise ValueError(f"--port must be in 1..65535. Got {port}.")
        if not 1 <= workers <= 64:
            raise ValueError(f"--workers must be in 1..64. Got {workers}.")
        if http not in ("auto", "h11", "httptools"):
            raise ValueError(f"--http must be auto, h11 or httptools. Got {http!r}.")
        if data is not None:
            if not data.is_dir():
                raise ValueError(f"--data {data} is not a directory. Give the canonical tables' directory.")
            # The workers are new processes that read their settings from the environment.
            os.environ["BLENDCAST_DATA_DIR"] = str(data.resolve())
        from forecasting.infrastructure.settings import get_settings

        get_settings.cache_clear()  # --data above changed the environment
        settings = get_settings()
        level = (log_level or settings.log_level).upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError(f"--log-level must be one of DEBUG, INFO, WARNING, ERROR. Got {level!r}.")
    setup_logging(level)
    if workers > 1:
        _prometheus_multiprocess(settings.home / "prometheus-multiproc")
    import uvicorn  # only the serve command needs it

    console.print(f"Blendcast API on http://{host}:{port} with {workers} worker(s); docs at /docs")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level=level.lower(),
                access_log=False, timeout_worker_healthcheck=WORKER_HEALTHCHECK_S, http=http,
                h11_max_incomplete_event_size=H11_MAX_HEAD_BYTES)


def _prometheus_multiprocess(directory: Path) -> None:
    """Let the workers share their /metrics counts: an emptied directory in PROMETHEUS_MULTIPROC_DIR.

    Set before uvicorn spawns the workers, which import prometheus_client afresh and so write their
    values to files there; files of a previous server are removed (they would be added to the new counts).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""
    app.command("serve")(serve)
