"""Who may see the analyst pages and reports: a read (or admin) API key, or everyone if configured.

The pages show forecasts, policies, alerts, the supplier audit and drift reports, so they need the same
read key as ``/v1``: sent as a header (``X-API-Key`` or ``Authorization: Bearer``) or as the
``blendcast_key`` cookie that the small sign-in form at ``/ui/login`` sets (HttpOnly, SameSite=Strict,
Secure over HTTPS, 8 hours). Every page request verifies the key against the store, so a revoked key
stops working at once. ``BLENDCAST_PUBLIC_PAGES=true`` serves the pages without a key (off by default).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from forecasting.infrastructure.settings import Settings, get_settings
from serving.api.auth import KeyVerifier, key_id, presented_key
from serving.api.errors import ApiError
from serving.dependencies import app_store

COOKIE = "blendcast_key"
COOKIE_MAX_AGE_S = 8 * 3600
_HERE = Path(__file__).parent
_templates = Jinja2Templates(directory=_HERE / "templates")
_templates.env.autoescape = True
# Pages that need no key: the sign-in form and the stylesheet it uses.
open_router = APIRouter(prefix="/ui", tags=["analyst pages"], include_in_schema=False)


class LoginRequired(Exception):
    """A page was asked for without a valid key; answered with the sign-in form (401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        settings = request.app.state.settings = get_settings()
    return settings


def _verifier(request: Request) -> KeyVerifier:
    verifier = getattr(request.app.state, "keys", None)
    if verifier is None:
        verifier = request.app.state.keys = KeyVerifier(app_store(request))
    return verifier


def _presented(request: Request) -> str:
    try:
        return presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"),
                             request.cookies.get(COOKIE))
    except ApiError as exc:
        raise LoginRequired(exc.detail) from None


async def page_access(request: Request) -> None:
    """Dependency of every page and report: a read or admin key, unless the pages are public.

    Raises:
        LoginRequired: No key, or an unknown or revoked one.
    """
    if _settings(request).public_pages:
        return
    key = _presented(request)
    request.state.key_id = key_id(key)
    if await run_in_threadpool(_verifier(request).verify, key) is None:
        raise LoginRequired("That key is unknown or revoked. Fix: check it, or create one with "
                            "`blendcast api-key create --scope read`.")


def _safe_next(target: str) -> str:
    """Only a page of this site (never another host) after signing in."""
    ok = target.startswith(("/ui", "/reports")) and "//" not in target and "\\" not in target
    return target if ok else "/ui"


def _login_page(request: Request, target: str, error: str | None, status_code: int) -> HTMLResponse:
    context = {"active": "login", "next": _safe_next(target), "error": error}
    return _templates.TemplateResponse(request, "login.html.j2", context, status_code=status_code)


async def login_required_handler(request: Request, exc: Exception) -> Response:
    """The sign-in form in place of the page, with 401."""
    assert isinstance(exc, LoginRequired)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _login_page(request, target, exc.message, 401)


@open_router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' stylesheet (vendored, no CDN)."""
    path = _HERE / "static" / Path(name).name
    if not path.is_file():
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path)


@open_router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui") -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, next[:500], None, 200)


@open_router.post("/login")
async def login(request: Request) -> Response:
    """Check the key from the form; set it as an HttpOnly cookie and go to the page asked for."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    key = (form.get("key") or [""])[0].strip()
    target = _safe_next((form.get("next") or ["/ui"])[0])
    request.state.key_id = key_id(key)
    if not key or len(key) > 200 or await run_in_threadpool(_verifier(request).verify, key) is None:
        return _login_page(request, target, "That key is unknown or revoked. Fix: check it, or create one "
                                            "with `blendcast api-key create --scope read`.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, key, max_age=COOKIE_MAX_AGE_S, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@open_router.post("/logout")
def logout() -> Response:
    """Forget the key cookie."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def register_pages(app: FastAPI) -> None:
    """Add the pages, the reports, the sign-in form and the handler that shows it to ``app``."""
    from serving.ui.routes import reports_router, ui_router

    app.include_router(open_router)
    app.include_router(ui_router)
    app.include_router(reports_router)
    app.add_exception_handler(LoginRequired, login_required_handler)
