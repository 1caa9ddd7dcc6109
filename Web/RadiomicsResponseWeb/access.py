"""Who may use a running workstation: whoever has its per-launch token, from the workstation's own page.

A server on 127.0.0.1 is reachable by every program of the computer and by every web page open in
its browsers (a page may send requests and open WebSockets to any address). A workstation holds
patient images, so, as Jupyter does:

- **Token.** Each launch draws a random token (``new_token``: 256 bits) and prints the address with
  it (``http://127.0.0.1:8765/?token=...``). Every HTTP request and WebSocket handshake must carry
  it: in the ``token`` query parameter (the printed address), in the cookie set when the address is
  first opened (``HttpOnly; SameSite=Strict``, so the page's own requests and its WebSocket carry
  it), or as ``Authorization: token <token>`` (scripts). Compared in constant time.
- **Origin.** A request with an ``Origin`` header (browsers send it on every WebSocket handshake and
  cross-origin request) must come from the workstation's own origin (``http://<its Host>``);
  another page's request is refused even when the browser would add the cookie.
- **Host.** When listening on a loopback address, the ``Host`` header must name a loopback host, so
  that a web site whose name was made to resolve to 127.0.0.1 (DNS rebinding) is refused.

``--no-token`` turns the token off (Origin and Host are still checked) and prints a warning.
``AccessGuard.install`` adds the checks to trame's aiohttp application as middleware, through
trame's ``on_server_bind`` hook (called with wslink's web server before it starts).
"""
from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

TOKEN_PARAMETER = "token"
COOKIE_PREFIX = "radiomics_response_token_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
REFUSED_TOKEN = ("This RadiomicsResponse workstation needs its access token. Open the address printed in the "
                 "terminal where 'radiomics-response workstation' was started (it ends with ?token=...).")
REFUSED_ORIGIN = "Refused: this request comes from another web page ({origin}), not from the workstation's own page."
REFUSED_HOST = "Refused: the workstation answers only to the address 127.0.0.1 or localhost, not to '{host}'."


def new_token() -> str:
    """A random, URL-safe access token (32 random bytes)."""
    return secrets.token_urlsafe(32)


def launch_url(host: str, port: int, token: str | None) -> str:
    """The address to open: http://HOST:PORT/ with ?token=... when the token is on."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}/" + (f"?{TOKEN_PARAMETER}={token}" if token else "")


def _host_name(host_header: str) -> str:
    """The host part of a Host header value ('127.0.0.1:8765' -> '127.0.0.1', '[::1]:80' -> '::1')."""
    return (urlsplit(f"//{host_header}").hostname or "").lower()


def _port(host_header: str) -> str:
    try:
        return str(urlsplit(f"//{host_header}").port or 80)
    except ValueError:
        return "0"


class AccessGuard:
    """The token, Origin and Host checks of one workstation launch (see the module docstring)."""

    def __init__(self, token: str | None, loopback_only: bool = True):
        self.token = token
        self.loopback_only = loopback_only

    def install(self, web_server: Any) -> None:
        """``on_server_bind`` callback: put the checks in front of every route of wslink's aiohttp app."""
        from aiohttp import web

        @web.middleware
        async def check_access(request, handler):
            return await self.handle(request, handler)

        web_server.app.middlewares.append(check_access)

    def refusal(self, headers, query, cookies, secure: bool = False) -> str:
        """Why a request must be refused ('' if it may pass). ``headers``/``query``/``cookies``: mappings."""
        host = headers.get("Host", "")
        if self.loopback_only and _host_name(host) not in LOOPBACK_HOSTS:
            return REFUSED_HOST.format(host=host)
        origin = headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() != f"{'https' if secure else 'http'}://{host}".lower():
            return REFUSED_ORIGIN.format(origin=origin)
        if self.token is None:
            return ""
        authorization = headers.get("Authorization", "")
        offered = [query.get(TOKEN_PARAMETER), cookies.get(COOKIE_PREFIX + _port(host)),
                   authorization[len("token "):] if authorization.lower().startswith("token ") else None]
        if any(value and hmac.compare_digest(value.encode(), self.token.encode()) for value in offered):
            return ""
        return REFUSED_TOKEN

    async def handle(self, request, handler):
        """The middleware's work: refuse with 403 and a plain message, or pass on (setting the cookie)."""
        from aiohttp import web

        problem = self.refusal(request.headers, request.query, request.cookies, request.secure)
        if problem:
            return web.Response(status=403, text=problem + "\n", content_type="text/plain")
        response = await handler(request)
        if self.token and request.query.get(TOKEN_PARAMETER) and hasattr(response, "set_cookie") and not response.prepared:
            response.set_cookie(COOKIE_PREFIX + _port(request.headers.get("Host", "")), self.token,
                                httponly=True, samesite="Strict", path="/")
        return response
