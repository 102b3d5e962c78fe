"""Verifying the HTTP signature of an incoming request, with one key re-fetch on rotation."""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME, Runtime
from federation.signatures import SignatureMismatch, key_id_of, verify_request


async def verify_signed(request: web.Request, body: bytes) -> str:
    """Verify the HTTP signature (with one rate-limited key re-fetch); return the key owner."""
    rt: Runtime = request.app[RUNTIME]
    url = f"{rt.settings.base_url}{request.rel_url}"
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        signer = await verify_request(request.method, url, headers, body, rt.keys.get)
    except SignatureMismatch:
        key_id = key_id_of(headers)
        # The key may have rotated: fetch it once more (rate-limited by the resolver).
        if key_id and await rt.keys.refresh(key_id):
            signer = await verify_request(request.method, url, headers, body, rt.keys.get)
        else:
            raise
    return signer.owner
