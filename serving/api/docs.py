"""``/docs`` (Swagger UI) and ``/redoc`` served from local files: they render with no internet access.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so behind a firewall ``/docs`` was a blank
page. This follows FastAPI's documented self-hosting of the docs' static files; the files themselves
(Swagger UI bundle and CSS, ReDoc standalone, favicon) come from the ``fastapi-offline`` package, which
ships them. ReDoc's Google Fonts are turned off (the page falls back to the system fonts), its "API docs
by Redocly" logo is pointed at the local favicon, and Swagger UI's online validator badge is off.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/docs-static"
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def assets_dir() -> Path:
    """Directory of the Swagger UI / ReDoc files shipped by ``fastapi-offline`` (not imported)."""
    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("The 'fastapi-offline' package is missing (it ships the /docs assets). "
                           "Fix: pip install -e '.' to install Blendcast's dependencies.")
    return Path(spec.origin).parent / "static"


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/docs/oauth2-redirect`` and ``/redoc`` with local assets.

    Args:
        app: An app made with ``docs_url=None, redoc_url=None``.
    """
    assets = assets_dir()
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title
    redoc_js: list[bytes] = []

    @app.get(f"{STATIC_URL}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        # ReDoc's bundle fetches its logo from a CDN: the one remote request of both pages.
        if not redoc_js:
            redoc_js.append((assets / "redoc.standalone.js").read_bytes().replace(
                _REDOC_LOGO, f"{STATIC_URL}/favicon.png".encode()))
        return Response(redoc_js[0], media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(STATIC_URL, StaticFiles(directory=assets), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - docs",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_URL}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url, title=f"{title} - ReDoc",
                              redoc_js_url=f"{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{STATIC_URL}/favicon.png", with_google_fonts=False)
