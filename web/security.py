"""Security headers (strict CSP, no third parties), signed session cookies and CSRF tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from aiohttp import web

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
COOKIE = "civic_session"
SESSION_MAX_AGE = 14 * 24 * 3600


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


class SessionSigner:
    """A session is {user id, random nonce, issued, epoch}; the cookie carries it with an HMAC.

    Logging in always makes a new nonce (session rotation); CSRF tokens derive from the nonce.
    The epoch is the account's session epoch when the session started: web.sessions compares it
    with the database on every request, so bumping it ends every copy of the cookie (SECURITY.md
    rule 16).
    """

    def __init__(self, secret: str):
        self.key = hashlib.sha256(("civic-session:" + secret).encode()).digest()

    def _mac(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self.key, payload, hashlib.sha256).digest()).decode()

    def dumps(self, data: dict) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
        return f"{payload.decode()}.{self._mac(payload)}"

    def loads(self, cookie: str | None) -> dict | None:
        # A cookie we signed is ASCII; compare_digest raises TypeError on other text (SECURITY.md rule 19).
        if not cookie or "." not in cookie or not cookie.isascii():
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        except ValueError:
            return None
        if not isinstance(data, dict) or time.time() - data.get("iat", 0) > SESSION_MAX_AGE:
            return None
        return data

    def new_session(self, user_id: int | None, epoch: int = 0) -> dict:
        session = {"uid": user_id, "nonce": secrets.token_urlsafe(16), "iat": int(time.time())}
        if user_id is not None:
            session["ep"] = epoch
        return session

    def csrf_token(self, session: dict) -> str:
        return self._mac(("csrf:" + session["nonce"]).encode())

    def check_csrf(self, session: dict | None, token: str | None) -> bool:
        return bool(session and token and hmac.compare_digest(self.csrf_token(session), token))


SIGNER = web.AppKey("civic_session_signer", SessionSigner)
