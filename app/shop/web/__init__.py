"""Server-rendered HTML: templates, versioned static assets, the browser session and CSRF checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shop.catalog import category_name
from shop.http import runtime
from shop.money import format_money, percent_text
from shop.runtime import Runtime
from shop.security import SESSION_COOKIE, new_session_id
from shop.settings import Settings
from shop.static_files import IMMUTABLE, StaticFile

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
SESSION_MAX_AGE = 30 * 24 * 3600
MAX_FORM_FIELDS = 40


class StaticAssets:
    """The static files (shop/static_files.py), loaded once, linked as ``/static/<version>/<name>``.

    The CDN serves these paths from the assets bucket, where the deployment uploads the files of each image; the app
    serves them too, for local runs and as a fallback behind a plain load balancer.
    """

    def __init__(self, files: list[StaticFile], base_url: str) -> None:
        self.base_url = base_url
        self.files = {file.name: file for file in files}

    def url(self, name: str) -> str:
        return f"{self.base_url}/{self.files[name].key}"

    def response(self, path: str) -> Response | None:
        """``path`` is ``<version>/<name>``. Another version of a known file (a page rendered by an older or newer
        image) is redirected to this image's, uncached, so that the versioned URL never names other content."""
        version, _, name = path.partition("/")
        file = self.files.get(name)
        if file is None:
            return None
        if version != file.version:
            return RedirectResponse(f"/{file.key}", status_code=307, headers={"cache-control": "no-store"})
        return Response(file.body, headers={"content-type": file.content_type, "cache-control": IMMUTABLE})


def make_templates(settings: Settings, assets: StaticAssets) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=assets.url, currency=settings.currency, category_name=category_name)
    env.filters["money"] = lambda value: format_money(value["amount"], value["currency"])
    env.filters["percent"] = percent_text
    return env


@dataclass
class WebSession:
    """The browser's signed session cookie: an id (for CSRF), its cart, and its last order."""

    id: str
    cart_id: str | None = None
    cart_count: int = 0
    last_order: str | None = None
    changed: bool = False

    def update(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)
        self.changed = True


async def load_session(request: Request) -> WebSession:
    data = await runtime(request).signer.loads("session", request.cookies.get(SESSION_COOKIE))
    if not data or not isinstance(data.get("id"), str):
        return WebSession(id=new_session_id(), changed=True)
    return WebSession(
        id=data["id"],
        cart_id=data.get("cart"),
        cart_count=int(data.get("count") or 0),
        last_order=data.get("order"),
    )


def _store_session(rt: Runtime, response: Response, session: WebSession) -> None:
    if not session.changed:
        return
    value = rt.signer.dumps(
        "session", {"id": session.id, "cart": session.cart_id, "count": session.cart_count, "order": session.last_order}
    )
    # Written by hand: the value is base64url plus hex, cookie-safe, and http.cookies is slow per request.
    secure = "; Secure" if rt.settings.cookie_secure else ""
    header = f"{SESSION_COOKIE}={value}; Max-Age={SESSION_MAX_AGE}; Path=/; HttpOnly{secure}; SameSite=Lax"
    response.raw_headers.append((b"set-cookie", header.encode()))


def render(
    request: Request,
    template: str,
    session: WebSession,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    env: Environment = request.app.state.templates
    html = env.get_template(template).render(
        session=session, csrf_token=runtime(request).signer.csrf_token(session.id), **context
    )
    return html_response(request, session, html, status)


def html_response(request: Request, session: WebSession, html: str, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
    _store_session(runtime(request), response, session)
    return response


def redirect(request: Request, url: str, session: WebSession | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if session is not None:
        _store_session(runtime(request), response, session)
    return response


class CsrfFailed(Exception):
    """A form POST whose token does not belong to the browser's session."""


async def read_form(request: Request, session: WebSession) -> FormData:
    """The submitted form; raises CsrfFailed unless its CSRF token belongs to this session."""
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=1)
    token = form.get("csrf_token")
    if session.changed or not isinstance(token, str) or not runtime(request).signer.csrf_valid(session.id, token):
        raise CsrfFailed
    return form


def form_text(form: FormData, name: str, max_length: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""


def parse_int(text: str, max_digits: int = 6) -> int | None:
    """ASCII digits only: str.isdigit() also accepts characters like "²" that int() rejects."""
    return int(text) if re.fullmatch(rf"[0-9]{{1,{max_digits}}}", text) else None


async def csrf_failed(request: Request, exc: Exception) -> Response:
    return render(
        request,
        "error.html",
        await load_session(request),
        status=403,
        title="Form expired",
        message="This form has expired. Go back, reload the page and try again.",
    )


def not_found(request: Request, session: WebSession) -> HTMLResponse:
    return render(request, "error.html", session, status=404, title="Not found", message="We could not find that page.")
