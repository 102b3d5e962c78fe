"""``GET /media/<sha256>.<ext>``: images uploaded to this node (node/services/media.py).

Names are content hashes, so a file never changes: it may be cached for a year. Files are sent
with their recognised type, ``nosniff`` and a Content-Security-Policy that runs nothing."""

from __future__ import annotations

from aiohttp import web

from federation.runtime import RUNTIME
from node.services import media

IMMUTABLE = "public, max-age=31536000, immutable"


async def media_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    media_type = media.media_type_of(media.URL_PREFIX + name)
    path = media.media_dir(request.app[RUNTIME].settings.data_dir) / name
    if media_type is None or not path.is_file():
        raise web.HTTPNotFound(text="There is no such image on this node.")
    return web.FileResponse(path, headers={
        "Content-Type": media_type, "Cache-Control": IMMUTABLE,
        "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/media/{name}", media_file)
