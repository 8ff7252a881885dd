"""Signed session cookies, CSRF tokens, admin authentication and response security headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from shop.secrets import SecretRef

SESSION_COOKIE = "shop_session"
ADMIN_COOKIE = "shop_admin"
ADMIN_SESSION_SECONDS = 8 * 3600


def _sign(key: str, purpose: str, payload: bytes) -> str:
    return hmac.new(key.encode(), purpose.encode() + b"\0" + payload, hashlib.sha256).hexdigest()


class Signer:
    """HMAC-signed cookie values and tokens.

    Signs with the current key and accepts the current and the previous one (the key ring), so a rotation signs
    nobody out; re-reads the key (rate-limited) once on a bad signature, which picks up a rotation another pod saw
    first.
    """

    def __init__(self, key: SecretRef) -> None:
        self.key = key

    def dumps(self, purpose: str, data: dict[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{_sign(self.key.get(), purpose, payload.encode())}"

    async def loads(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        payload, signature = value.split(".")
        if not self._valid(purpose, payload, signature) and not (
            await self.key.arefresh() and self._valid(purpose, payload, signature)
        ):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _valid(self, purpose: str, payload: str, signature: str) -> bool:
        return _any_matches((_sign(key, purpose, payload.encode()) for key in self.key.ring()), signature)

    def csrf_token(self, session_id: str) -> str:
        """Synchronizer token bound to the session: forms from another session (or site) never match."""
        return _sign(self.key.get(), "csrf", session_id.encode())

    def csrf_valid(self, session_id: str, token: str) -> bool:
        return _any_matches((_sign(key, "csrf", session_id.encode()) for key in self.key.ring()), token)


def _any_matches(expected: Iterable[str], presented: str) -> bool:
    """Constant-time comparison against every value (no early exit, so timing does not tell which one matched)."""
    matched = False
    for value in expected:
        matched |= hmac.compare_digest(value.encode(), presented.encode())
    return matched


def new_session_id() -> str:
    return secrets.token_urlsafe(18)


class AdminAuth:
    def __init__(self, token: SecretRef) -> None:
        self.token = token

    async def check(self, presented: str) -> bool:
        """Constant-time comparison with the current and the previous token; after a rotation the new token works
        once the secret is re-read, and the old one until the next rotation."""
        if _any_matches(self.token.ring(), presented):
            return True
        return await self.token.arefresh() and _any_matches(self.token.ring(), presented)

    async def bearer_ok(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and bool(token) and await self.check(token.strip())


def admin_session_valid(data: dict[str, Any] | None) -> bool:
    return bool(data) and data.get("admin") is True and float(data.get("exp", 0)) > time.time()  # pyright: ignore[reportOptionalMemberAccess]


def security_headers(cdn_base_url: str, hsts: bool) -> list[tuple[bytes, bytes]]:
    assets = f"'self' {cdn_base_url}".strip()
    csp = (
        f"default-src 'self'; img-src {assets} data:; style-src {assets}; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    headers = {
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "strict-origin-when-cross-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "cross-origin-opener-policy": "same-origin",
    }
    if hsts:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return [(k.encode(), v.encode()) for k, v in headers.items()]
