"""An organisation's logo: uploaded by its admins, checked by its content, served from /media,
shown on its pages and sent to the fediverse as the actor's icon (with an Update to followers)."""

from __future__ import annotations

import struct
import zlib

import aiohttp
import pytest

from node.db import transaction
from node.services import actors, media
from node.services import spaces as space_service
from tests.web.client import Browser

AS = "https://www.w3.org/ns/activitystreams"
PROFILE = "/orgs/lyon/admin/profile"


def png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A real PNG (red pixels); ``padding`` bytes of an ancillary chunk make it larger."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    extra = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
async def lyon(node):
    async with transaction(node.rt.sessions) as s:
        org = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        for handle, role in (("lyon_admin", "admin"), ("lyon_modo", "moderator")):
            user = await actors.create_user(s, node.uris, handle, "password-123", handle)
            await actors.add_member(s, user, org, role)
    return org


async def upload(browser: Browser, node, data: bytes | None, *, action: str = "", name: str = "logo.png",
                 content_type: str = "image/png") -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("csrf_token", await browser.csrf(PROFILE) if action != "no-page" else "")
    if action:
        form.add_field("action", action)
    if data is not None:
        form.add_field("logo", data, filename=name, content_type=content_type)
    async with browser.session.post(f"{node.base}/orgs/lyon/admin/logo", data=form,
                                    allow_redirects=False) as response:
        return response.status, await response.text()


async def logo_path(node) -> str | None:
    async with node.rt.sessions() as s:
        return (await space_service.profile(s, await actors.require_local_actor(s, "lyon"))).logo_path


def stored(node) -> list[str]:
    folder = media.media_dir(node.settings.data_dir)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_logo__uploaded_shown_served_and_federated_as_icon_with_an_update(node, remote, lyon):
    alice = remote.add_actor("alice")
    follow = {"@context": AS, "id": f"{alice.ap_id}/follows/1", "type": "Follow", "actor": alice.ap_id,
              "object": lyon.ap_id}
    assert (await remote.post(lyon.inbox, follow, alice))[0] == 202
    await node.step()
    admin = Browser(node.base)
    try:
        await admin.login("lyon_admin", "password-123")
        image = png()
        assert (await upload(admin, node, image, name="anything.gif", content_type="text/plain"))[0] == 303
        path = await logo_path(node)
        assert path.startswith("/media/") and path.endswith(".png") and stored(node) == [path[7:]]
        async with admin.session.get(node.base + path) as response:
            assert response.status == 200 and await response.read() == image
            assert response.headers["Content-Type"] == "image/png"
            assert "immutable" in response.headers["Cache-Control"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "Set-Cookie" not in response.headers
        visitor = Browser(node.base)
        _, organisation_page = await visitor.get("/actors/lyon")
        await visitor.close()
        assert f'<img class="org-logo" src="{path}"' in organisation_page
        async with admin.session.get(lyon.ap_id, headers={"Accept": "application/activity+json"}) as response:
            icon = (await response.json(content_type=None))["icon"]
        assert icon == {"type": "Image", "url": node.base + path, "mediaType": "image/png"}
        await node.step()
        [update] = [d for d in remote.received if d["type"] == "Update"]
        assert update["actor"] == lyon.ap_id and update["object"]["id"] == lyon.ap_id
        assert update["object"]["icon"]["url"] == node.base + path

        assert (await upload(admin, node, None, action="remove"))[0] == 303
        assert await logo_path(node) == ""
        _, after = await admin.get("/actors/lyon")
        assert path not in after and "org-monogram" in after
        async with admin.session.get(lyon.ap_id, headers={"Accept": "application/activity+json"}) as response:
            assert "icon" not in await response.json(content_type=None)
        await node.step()
        updates = [d for d in remote.received if d["type"] == "Update"]
        assert len(updates) == 2 and "icon" not in updates[1]["object"]
    finally:
        await admin.close()


@pytest.mark.parametrize("data, message", [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "PNG, JPEG or WebP file"),
    (b"", "Choose an image file"),
    (png(padding=520 * 1024), "limited to 512 KB"),
])
async def test_logo__refused_images_get_a_reason_and_nothing_is_written(node, lyon, data, message):
    admin = Browser(node.base)
    try:
        await admin.login("lyon_admin", "password-123")
        status, body = await upload(admin, node, data)
        assert status == 400 and message in body
        assert 'aria-invalid="true"' in body and 'href="#logo"' in body
    finally:
        await admin.close()
    assert await logo_path(node) is None and stored(node) == []


async def test_logo__only_admins_upload_and_oversized_bodies_are_413(node, lyon):
    moderator, admin = Browser(node.base), Browser(node.base)
    try:
        await moderator.login("lyon_modo", "password-123")
        assert (await upload(moderator, node, png(), action="no-page"))[0] == 403  # no token either
        form = aiohttp.FormData()
        form.add_field("csrf_token", await moderator.csrf("/actors/lyon"))
        form.add_field("logo", png(), filename="logo.png", content_type="image/png")
        async with moderator.session.post(f"{node.base}/orgs/lyon/admin/logo", data=form,
                                          allow_redirects=False) as response:
            assert response.status == 403
        await admin.login("lyon_admin", "password-123")
        assert (await upload(admin, node, png(padding=700 * 1024)))[0] == 413
    finally:
        await moderator.close()
        await admin.close()
    assert await logo_path(node) is None and stored(node) == []


@pytest.mark.parametrize("name", ["..%2F..%2Fcivic.toml", "abc.png", "0" * 64 + ".svg", "0" * 64 + ".png"])
async def test_media__only_stored_image_names_are_served(node, name):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.base}/media/{name}") as response:
            assert response.status == 404
