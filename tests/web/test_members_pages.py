"""The members pages: the admins' page (admit, remove, census upload, printable codes, revoke),
residents verifying at /orgs/{org}/verify, and the verified identity seen by admins only."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import func, select

from node.db import transaction
from node.models import CensusEntry, Membership, VerificationCode
from node.services import actors
from node.services import membership as service
from tests.web.conftest import PASSWORD, Browser
from web.cache import PAGE_CACHE
from web.participation import members as members_module

MEMBERS = "/orgs/lyon/admin/members"
VERIFY = "/orgs/lyon/verify"
AS2 = "application/activity+json"
CODE = re.compile(r"<code>([A-Z2-9]{5}-[A-Z2-9]{5})</code>")


@pytest.fixture
async def town(node, org):
    """Lyon (admin ``maire``), its moderator ``modo``, residents camille, dominique and eva."""
    async with transaction(node.rt.sessions) as s:
        modo = await actors.create_user(s, node.uris, "modo", PASSWORD, "Modo")
        await actors.add_member(s, modo, org, "moderator")
        for name in ("camille", "dominique", "eva"):
            await actors.create_user(s, node.uris, name, PASSWORD, name.title())
    return org


@pytest.fixture
async def admin(node, town, make_browser) -> Browser:
    browser = make_browser("en")
    assert (await browser.login("maire")).status == 303
    return browser


async def signed_in(make_browser, handle: str) -> Browser:
    browser = make_browser("en")
    assert (await browser.login(handle)).status == 303
    return browser


def local(node, url: str) -> str:
    """The path of one of the node's absolute URLs (redirects give those)."""
    assert url.startswith(node.base), url
    return url[len(node.base):]


async def count(node, model, *where) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def upload(browser: Browser, node, content: bytes | None, name: str = "census.txt"):
    form = aiohttp.FormData()
    form.add_field("csrf_token", (await browser.get(MEMBERS)).csrf)
    if content is not None:
        form.add_field("census", content, filename=name, content_type="text/plain")
    async with browser.session.post(node.base + MEMBERS + "/census", data=form, allow_redirects=False) as r:
        return r.status, await r.text(), r.headers.get("Location", "")


async def issue(browser: Browser, count_: str, labels: str = ""):
    return await browser.post(MEMBERS + "/codes", {"count": count_, "labels": labels}, form_page=MEMBERS)


async def test_members_page__everyone_but_the_admins_gets_404(node, town, make_browser):
    """Anonymous visitors are sent to log in; a resident and a moderator get the 404 of a missing
    page for the page and every form (nothing written); the admin gets the page."""
    anonymous = make_browser("en")
    assert (await anonymous.get(MEMBERS)).status == 303
    for handle in ("camille", "modo"):
        browser = await signed_in(make_browser, handle)
        assert (await browser.get(MEMBERS)).status == 404
        token = (await browser.get(VERIFY)).csrf
        for path, data in (("/admit", {"handle": "eva"}), ("/codes", {"count": "3"}),
                           ("/remove", {"user": "1"}), ("/codes/1/revoke", {})):
            reply = await browser.post(MEMBERS + path, {**data, "csrf_token": token})
            assert reply.status == 404, (handle, path)
        form = aiohttp.FormData({"csrf_token": token})
        form.add_field("census", b"ab1234\n", filename="c.txt")
        async with browser.session.post(node.base + MEMBERS + "/census", data=form, allow_redirects=False) as r:
            assert r.status == 404
    assert await count(node, Membership, Membership.role == "member") == 0
    assert await count(node, VerificationCode) == 0 and await count(node, CensusEntry) == 0
    browser = await signed_in(make_browser, "maire")
    page = await browser.get(MEMBERS)
    assert page.status == 200 and "@modo" in page.text and "@maire" in page.text


async def test_members_page__a_large_membership_is_paged(node, town, admin, monkeypatch):
    """With more people than a page holds, the list is paged by handle with links between pages."""
    monkeypatch.setattr(members_module, "PAGE", 1)
    first, second = (await admin.get(MEMBERS)).text, (await admin.get(MEMBERS + "?page=2")).text
    assert "@maire" in first and "@modo" not in first and "Page 1 of 2 (2 people)" in first
    assert "@modo" in second and "@maire" not in second and 'rel="prev"' in second


async def test_members_page__admit_by_handle_with_a_note_and_remove(node, town, admin):
    """The admin admits a resident by handle with a note (shown on the page); an unknown handle or a
    second admission is a 400 with the reason beside the field; removal takes the member away."""
    reply = await admin.post(MEMBERS + "/admit", {"handle": "@camille", "note": "Camille M., carte 4471"})
    assert reply.status == 303 and reply.location.endswith("?done=admitted")
    page = await admin.get(local(node, reply.location))
    assert "Camille M., carte 4471" in page.text and "The person is now a member." in page.text
    for handle in ("nobody", "cam\x00ille", "x" * 5000):
        unknown = await admin.post(MEMBERS + "/admit", {"handle": handle, "note": ""})
        assert unknown.status == 400 and 'id="handle-error">No account with this handle' in unknown.text
    bad_note = await admin.post(MEMBERS + "/admit", {"handle": "eva", "note": "a\x00b"})
    assert bad_note.status == 400 and 'id="note-error">The note is limited' in bad_note.text
    again = await admin.post(MEMBERS + "/admit", {"handle": "camille", "note": ""})
    assert again.status == 400 and "already a member" in again.text
    async with node.rt.sessions() as s:
        camille = await actors.user_by_username(s, "camille")
    reply = await admin.post(MEMBERS + "/remove", {"user": str(camille.id)})
    assert reply.status == 303
    assert "Camille M., carte 4471" not in (await admin.get(MEMBERS)).text
    assert await count(node, Membership, Membership.role == "member") == 0
    missing = await admin.post(MEMBERS + "/remove", {"user": str(camille.id)}, form_page=MEMBERS)
    assert missing.status == 400 and "This person is not a member." in missing.text


async def test_census_upload__reports_what_it_added_and_refuses_a_bad_file_whole(node, town, admin):
    """An upload reports new entries and duplicates; a file with invalid lines is refused with their
    numbers and nothing of it is stored; a file that is not UTF-8, none, or over 1 MB: 400/413."""
    status, _, location = await upload(admin, node, b"# 2026\nAB 12-34\nab1234\nCD 5678\n")
    assert status == 303 and location.endswith("?done=imported&added=2&duplicates=1")
    page = await admin.get(local(node, location))
    assert "Census imported: 2 new entries, 1 duplicates skipped." in page.text
    assert "2 entries, 0 used." in page.text
    status, text, _ = await upload(admin, node, b"ef9012\n\x01\n" + b"f" * 50 + b"\n")
    assert status == 400 and "Nothing was imported" in text
    assert "Line 2: control character" in text and "Line 3: looks like a hash" in text
    assert await count(node, CensusEntry) == 2
    status, text, _ = await upload(admin, node, "Jos\xe9\n".encode("latin-1"))
    assert status == 400 and "The file must be UTF-8 text" in text
    status, text, _ = await upload(admin, node, None)
    assert status == 400 and "Choose a census file." in text
    status, text, _ = await upload(admin, node, b"x" * (1024 * 1024 + 10))
    assert status == 413 and "The file is limited to 1 MB" in text
    assert await count(node, CensusEntry) == 2


async def test_codes__printed_once_no_store_then_listed_by_label_and_revocable(node, town, admin):
    """Issuing codes answers their printable list (print stylesheet, no-store); afterwards the
    members page lists them by label only, never the code itself; a code can be revoked."""
    reply = await issue(admin, "2", "Mme Durand\n")
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    codes = CODE.findall(reply.text)
    assert len(codes) == 2 and "Mme Durand" in reply.text
    assert 'href="/static/codes-print.css" media="print"' in reply.text
    async with admin.session.get(node.base + "/static/codes-print.css") as css:
        assert css.status == 200 and "display: none" in await css.text()
    page = await admin.get(MEMBERS)
    assert "Mme Durand" in page.text and not any(code in page.text for code in codes)
    revoke = re.findall(r'action="[^"]*(/orgs/lyon/admin/members/codes/\d+/revoke)"', page.text)
    assert len(revoke) == 2
    assert (await admin.post(revoke[0], {}, form_page=MEMBERS)).status == 303
    assert len(re.findall(r"/revoke", (await admin.get(MEMBERS)).text)) == 1
    again = await admin.post(revoke[0], {}, form_page=MEMBERS)
    assert again.status == 303  # revoking twice changes nothing
    bad = await admin.post(MEMBERS + "/codes/99999/revoke", {}, form_page=MEMBERS)
    assert bad.status == 400 and "cannot be revoked" in bad.text
    for count_, labels, field in (("0", "", "count"), ("abc", "", "count"), ("1", "a\nb", "labels")):
        reply = await issue(admin, count_, labels)
        assert reply.status == 400 and f'id="{field}-error"' in reply.text
    assert await count(node, VerificationCode) == 2


async def test_verify__residents_verify_with_a_code_and_with_an_identifier(node, town, admin, make_browser):
    """A resident types a printed code, another their census identifier: each becomes a member and
    is told so; a wrong one is a 400 "Not recognised." beside the field; an empty one too."""
    codes = CODE.findall((await issue(admin, "1", "Guichet 3")).text)
    await upload(admin, node, b"AB 12-34\n")
    camille = await signed_in(make_browser, "camille")
    page = await camille.get(VERIFY)
    assert page.status == 200 and 'name="code"' in page.text and 'name="identifier"' in page.text
    wrong = await camille.post(VERIFY, {"method": "code", "code": "AAAAA-AAAAA"})
    assert wrong.status == 400 and 'id="code-error">Not recognised.' in wrong.text
    for typed in ("ab\x0012-34", "\x00"):  # a NUL never reaches the database, and is not recognised
        nul = await camille.post(VERIFY, {"method": "identifier", "identifier": typed})
        assert nul.status == 400 and 'id="identifier-error">Not recognised.' in nul.text
    empty = await camille.post(VERIFY, {"method": "identifier", "identifier": " "})
    assert empty.status == 400 and 'id="identifier-error">Type your identifier.' in empty.text
    done = await camille.post(VERIFY, {"method": "code", "code": codes[0].lower()})
    assert done.status == 303
    assert "You are now a member of Ville de Lyon." in (await camille.get(local(node, done.location))).text
    dominique = await signed_in(make_browser, "dominique")
    used = await dominique.post(VERIFY, {"method": "code", "code": codes[0]})
    assert used.status == 400 and "Not recognised." in used.text
    done = await dominique.post(VERIFY, {"method": "identifier", "identifier": "ab-1234"})
    assert done.status == 303
    assert "You are a member of Ville de Lyon." in (await dominique.get(VERIFY)).text
    assert await count(node, Membership, Membership.role == "member") == 2
    anonymous = make_browser("en")
    assert (await anonymous.get(VERIFY)).status == 303


async def test_verify__too_many_attempts_is_429_with_retry_after(node, town, make_browser, monkeypatch):
    """Past the per-account limit the form answers 429 with Retry-After, the reason beside the field
    (SECURITY.md rule 17)."""
    monkeypatch.setattr(service, "ATTEMPTS_PER_ACCOUNT", 2)
    eva = await signed_in(make_browser, "eva")
    for _ in range(2):
        assert (await eva.post(VERIFY, {"method": "code", "code": "AAAAA-AAAAA"})).status == 400
    refused = await eva.post(VERIFY, {"method": "code", "code": "AAAAA-AAAAA"})
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert 'id="code-error">Too many attempts.' in refused.text


async def test_identity__seen_on_the_admins_members_page_only(node, town, admin, make_browser):
    """What a member typed and an admin's note appear on the admins' members page and nowhere else:
    not on the organisation's page (fresh or from the page cache, for anyone), the member's profile
    or its AS2, the organisation's AS2, or the member's own verify page."""
    await upload(admin, node, b"ZX 99-88-77\n")
    await admin.post(MEMBERS + "/admit", {"handle": "dominique", "note": "Dominique, passeport 12AB34"})
    camille = await signed_in(make_browser, "camille")
    assert (await camille.post(VERIFY, {"method": "identifier", "identifier": "zx-998877"})).status == 303
    secrets = ("zx-998877", "passeport 12AB34")
    members_page = await admin.get(MEMBERS)
    assert all(secret in members_page.text for secret in secrets)
    assert members_page.headers["Cache-Control"] == "no-store"
    modo = await signed_in(make_browser, "modo")
    anonymous, other = make_browser("en"), make_browser("en")
    cache = node.app[PAGE_CACHE]
    seen = []
    for browser in (anonymous, other, camille, modo, admin):
        for path in ("/actors/lyon", "/orgs/lyon", "/actors/camille", "/actors/dominique", VERIFY):
            page = await browser.get(path)
            seen.append(page.text)
        for path in ("/actors/lyon", "/actors/camille", "/actors/dominique"):
            seen.append((await browser.get(path, Accept=AS2)).text)
    hits = cache.hits
    seen.append((await other.get("/actors/lyon")).text)
    assert cache.hits > hits  # that last one came from the page cache
    assert not any(secret in text for text in seen for secret in secrets)
