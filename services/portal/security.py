"""What keeps the portal safe for both audiences: headers, body caps, CSRF, rate limits.

- Every answer carries a CSP without inline script, ``X-Content-Type-Options: nosniff``,
  ``frame-ancestors 'none'`` and a referrer policy that keeps tracking IDs on the site.
- A request body larger than its cap is refused with 413 before it is read whole.
- Forms carry a CSRF token: an HMAC of a random per-browser cookie (double submit,
  signed with a key derived from the settings' secret), so citizens without a session
  and logged-in staff use the same helper (staff may bind it to their session ID).
- POSTs are rate-limited per client address and per Open311 API key (``limits``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "geolocation=(self), camera=(), microphone=()",
}

CSRF_COOKIE = "lapor_csrf"
CSRF_FIELD = "csrf_token"


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    """The request body is over its cap."""


class BodyLimit:
    """ASGI middleware refusing (413) a body over ``limit_for(path)`` bytes, while it streams."""

    def __init__(
        self, app: ASGIApp, limit_for: Callable[[str], int], too_large: Callable[[], Response]
    ) -> None:
        self.app = app
        self._limit_for = limit_for
        self._too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what actually arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large()(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large()(scope, receive, send)


class Csrf:
    """Issues and checks CSRF tokens bound to a random per-browser cookie."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._key, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()

    def nonce(self, request: Request) -> str:
        """This browser's CSRF cookie value, or a new one (see :meth:`remember`)."""
        existing = request.cookies.get(CSRF_COOKIE)
        if existing and len(existing) == 43:
            return existing
        fresh: str = request.state.__dict__.setdefault("csrf_nonce", secrets.token_urlsafe(32))
        return fresh

    def token(self, request: Request, bound_to: str = "") -> str:
        """The token a form of this browser carries (``bound_to``: e.g. a staff session)."""
        return self._sign(self.nonce(request) + bound_to)

    def remember(self, request: Request, response: Response) -> None:
        """Set the cookie on ``response`` when this request made a new nonce."""
        nonce = request.state.__dict__.get("csrf_nonce")
        if nonce:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )

    def valid(self, request: Request, token: str | None, bound_to: str = "") -> bool:
        """Whether ``token`` is this browser's (constant-time)."""
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie or not token:
            return False
        return hmac.compare_digest(self._sign(cookie + bound_to), token)


class RateLimits:
    """POSTs per client address and per API key, in a moving window (in this process)."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self._item = RateLimitItemPerSecond(limit, window_seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def allow(self, *keys: str) -> bool:
        """Count one request against each key; false when any is over the limit."""
        allowed = True
        for key in keys:
            allowed = await self._limiter.hit(self._item, "portal", key) and allowed
        return allowed


def client_address(request: Request) -> str:
    """The client's address as the server saw it (a proxy must be configured in uvicorn)."""
    return request.client.host if request.client else "unknown"


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from a master secret."""
    return hmac.new(secret, f"lapor-portal:{purpose}".encode(), hashlib.sha256).digest()
