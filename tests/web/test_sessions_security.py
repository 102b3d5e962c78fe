"""Sessions end (SECURITY.md rule 16), log-in and registration limits (17), equal-cost log-ins and
registration approval (18)."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess

import pytest
from sqlalchemy import func, select, update

from node.config import write_settings
from node.models import AccountState, User
from node.services import actors as actor_service
from node.services import limits
from tests.node.test_cli import civic
from tests.web.conftest import PASSWORD, Browser
from web.security import COOKIE

NEW_PASSWORD = "a brand new passphrase"
ACCOUNT = {"username": "camille", "display_name": "Camille", "email": "",
           "password": "un mot de passe", "password_confirm": "un mot de passe"}


def configure(node, **changes) -> None:
    node.rt.settings = dataclasses.replace(node.rt.settings, **changes)


async def _copy(node, browser: Browser) -> Browser:
    """A second browser holding a copy of ``browser``'s session cookie (a stolen cookie)."""
    thief = Browser(node.base)
    thief.set_cookie(COOKIE, browser.cookie(COOKIE))
    return thief


async def _signed_in(browser: Browser) -> bool:
    page = await browser.get("/account")
    assert page.status in (200, 303)
    return page.status == 200


async def _users(node) -> int:
    async with node.rt.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User))


# -- rule 16: sessions end ------------------------------------------------------------------------


async def test_logout__every_copy_of_the_cookie_stops_working(node, org, browser):
    """A copied cookie works until its owner logs out; then it is anonymous (sent to log in)."""
    assert (await browser.login("maire")).status == 303
    thief = await _copy(node, browser)
    try:
        assert await _signed_in(thief)
        assert (await browser.post("/logout", {}, form_page="/")).status == 303
        page = await thief.get("/account")
        assert page.status == 303 and page.location == "/login?next=/account"
        assert "La maire" not in (await thief.get("/")).text
        assert thief.cookie(COOKIE) != browser.cookie(COOKIE)  # replaced by an anonymous one
    finally:
        await thief.close()
    # Logging in again works (a new session under the new epoch).
    assert (await browser.login("maire")).status == 303
    assert await _signed_in(browser)


async def test_logout__a_revoked_cookie_is_anonymous_on_cached_pages(node, org, browser):
    """The page cache (web/cache.py) never serves a revoked cookie its former owner's page."""
    assert (await browser.login("maire")).status == 303
    thief = await _copy(node, browser)
    try:
        first = await thief.get("/actors/lyon")
        assert "La maire" in first.text
        assert (await browser.post("/logout", {}, form_page="/")).status == 303
        again = await thief.get("/actors/lyon")
        assert again.status == 200 and "La maire" not in again.text
        assert 'action="/logout"' not in again.text and 'href="/login"' in again.text
    finally:
        await thief.close()


async def test_password_change__ends_other_sessions_and_keeps_this_one(node, org, browser):
    """The account page changes the password: the copied cookie is anonymous, the changer's new
    session works, the old password no longer does and the new one does."""
    assert (await browser.login("maire")).status == 303
    thief = await _copy(node, browser)
    try:
        page = await browser.get("/account")
        assert page.status == 200 and "Changer votre mot de passe" in page.text
        assert "@maire@" in page.text
        done = await browser.post("/account/password", {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD}, form_page="/account")
        assert done.status == 303 and done.location == "/account?password=changed"
        page = await browser.get("/account?password=changed")
        assert page.status == 200 and "Votre mot de passe a été changé." in page.text
        assert not await _signed_in(thief)
    finally:
        await thief.close()
    other = Browser(node.base)
    try:
        assert (await other.login("maire", PASSWORD)).status == 400
        assert (await other.login("maire", NEW_PASSWORD)).status == 303
    finally:
        await other.close()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current_password": "not it"}, "current_password", "Ce n’est pas votre mot de passe actuel."),
        ({"new_password": "short", "new_password_confirm": "short"}, "new_password", "au moins 8 caractères"),
        ({"new_password_confirm": "something else"}, "new_password_confirm",
         "Les deux mots de passe sont différents."),
    ],
)
async def test_password_change__refusals_are_translated_and_change_nothing(node, org, browser, form,
                                                                          field, message):
    """Each refusal: 400, the form with the translated error on its field, sessions untouched."""
    assert (await browser.login("maire")).status == 303
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD, **form}
    page = await browser.post("/account/password", data, form_page="/account")
    assert page.status == 400 and message in page.text
    assert f'id="{field}-error"' in page.text and 'href="#' + field + '"' in page.text
    assert await _signed_in(browser)
    async with node.rt.sessions() as session:
        user = await actor_service.user_by_username(session, "maire")
    assert actor_service.verify_password(user.password_hash, PASSWORD)


async def test_password_change__needs_csrf_and_an_account(node, org, browser):
    """Without the form's token: 403; anonymous: sent to log in; the password stays."""
    assert (await browser.get("/account")).location == "/login?next=/account"
    assert (await browser.login("maire")).status == 303
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD}
    assert (await browser.post("/account/password", data, csrf=False)).status == 403
    assert (await Browser(node.base).login("maire")).status == 303


# -- rule 17: limits ------------------------------------------------------------------------------


async def test_login__ten_failures_from_one_address_get_429_until_the_window_passes(
        node, org, browser, monkeypatch):
    """10 failures from one address, then even the right password gets 429 with Retry-After and a
    translated message; once the failures are out of the window it works again."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(limits, "CLOCK", lambda: now[0])
    for number in range(10):
        assert (await browser.login(f"someone{number}", "wrong password")).status == 400
    page = await browser.login("maire")
    assert page.status == 429 and 0 < int(page.headers["Retry-After"]) <= 2 * 900
    assert "Trop de tentatives échouées. Réessayez dans" in page.text
    assert 'action="/logout"' not in (await browser.get("/")).text
    now[0] += int(page.headers["Retry-After"])
    assert (await browser.login("maire")).status == 303


async def test_login__parallel_guesses_are_all_counted(node, org, make_browser):
    """Attempts are counted before the (slow) password check: 15 guesses sent at once from one
    address get 10 answers and 5 refusals, not 15 answers."""
    guessers = [make_browser() for _ in range(15)]
    pages = await asyncio.gather(*(guesser.login("maire", f"guess {number}")
                                   for number, guesser in enumerate(guessers)))
    assert sorted(page.status for page in pages) == [400] * 10 + [429] * 5


async def test_login__a_stranger_cannot_lock_someone_out(node, org, make_browser):
    """Behind a trusted proxy: a stranger's failures lock the stranger's address, not the account."""
    configure(node, trusted_proxies="127.0.0.1")
    stranger, owner = make_browser(), make_browser()
    for _ in range(10):
        page = await stranger.post("/login", {"username": "maire", "password": "guess"},
                                   form_page="/login", **{"X-Forwarded-For": "203.0.113.9"})
        assert page.status == 400
    page = await stranger.post("/login", {"username": "maire", "password": PASSWORD},
                               form_page="/login", **{"X-Forwarded-For": "203.0.113.9"})
    assert page.status == 429
    page = await owner.post("/login", {"username": "maire", "password": PASSWORD},
                            form_page="/login", **{"X-Forwarded-For": "198.51.100.7"})
    assert page.status == 303


async def test_login__failures_spread_over_addresses_stop_at_the_account_limit(node, org, make_browser):
    """Guesses from many addresses count against the account (login_account_limit), and only it."""
    configure(node, trusted_proxies="127.0.0.1", login_account_limit=5)
    guesser = make_browser()
    for number in range(5):
        page = await guesser.post("/login", {"username": "maire", "password": f"guess {number}"},
                                  form_page="/login", **{"X-Forwarded-For": f"203.0.113.{number}"})
        assert page.status == 400
    page = await guesser.post("/login", {"username": "maire", "password": PASSWORD},
                              form_page="/login", **{"X-Forwarded-For": "203.0.113.77"})
    assert page.status == 429 and "Retry-After" in page.headers
    page = await guesser.post("/login", {"username": "nobody", "password": "guess"},
                              form_page="/login", **{"X-Forwarded-For": "203.0.113.78"})
    assert page.status == 400  # another handle is not locked


async def test_login__x_forwarded_for_is_ignored_without_trusted_proxies(node, org, browser):
    """By default the socket peer is the client: a forged X-Forwarded-For buys no new budget."""
    for number in range(10):
        page = await browser.post("/login", {"username": f"x{number}", "password": "guess"},
                                  form_page="/login", **{"X-Forwarded-For": f"192.0.2.{number}"})
        assert page.status == 400
    page = await browser.post("/login", {"username": "maire", "password": PASSWORD},
                              form_page="/login", **{"X-Forwarded-For": "192.0.2.200"})
    assert page.status == 429


async def test_register__limited_per_address(node, make_browser):
    """registration_limit accounts per address and window; the next one is a translated 429 and
    creates nothing."""
    configure(node, registration_limit=2)
    for number in range(2):
        visitor = make_browser()
        data = {**ACCOUNT, "username": f"camille{number}"}
        assert (await visitor.post("/register", data)).status == 303
    page = await make_browser("de").post("/register", {**ACCOUNT, "username": "camille9"})
    assert page.status == 429 and int(page.headers["Retry-After"]) > 0
    assert "Von Ihrer Adresse wurden zu viele Konten angelegt." in page.text
    assert await _users(node) == 2


async def test_follow__lookups_limited_per_address(node, org, browser):
    """Remote-follow look-ups (each one a WebFinger fetch) are limited per address: 429 after."""
    configure(node, follow_lookup_limit=2)
    target = f"{node.base}/actors/lyon"
    data = {"target": target, "handle": "someone@127.0.0.1:9"}  # nothing listens: a fast 400
    for _ in range(2):
        assert (await browser.post("/follow", data, form_page=f"/follow?target={target}")).status == 400
    page = await browser.post("/follow", data, form_page=f"/follow?target={target}")
    assert page.status == 429 and "Trop de recherches depuis votre adresse." in page.text
    assert int(page.headers["Retry-After"]) > 0


# -- rule 18: equal work, approval ----------------------------------------------------------------


async def test_login__unknown_handle_costs_one_argon2_verification_like_a_known_one(node, org, browser):
    """An unknown handle is verified against a dummy argon2 hash: the same work as a wrong password
    for a real account, so response times do not reveal which accounts exist; neither runs on the
    event loop's thread."""
    on_loop = actor_service.VERIFICATIONS["on the main thread"]
    before = actor_service.VERIFICATIONS["argon2"]
    assert (await browser.login("maire", "wrong password")).status == 400
    known = actor_service.VERIFICATIONS["argon2"] - before
    before = actor_service.VERIFICATIONS["argon2"]
    page = await browser.login("nobody-here", "wrong password")
    unknown = actor_service.VERIFICATIONS["argon2"] - before
    assert page.status == 400 and known == unknown == 1
    assert actor_service.VERIFICATIONS["on the main thread"] == on_loop  # off the event loop
    assert "Identifiant inconnu ou mot de passe incorrect." in page.text


def _cli(node, *args: str) -> subprocess.CompletedProcess:
    return civic(*args, data_dir=node.settings.data_dir)


async def test_registration_approval__accounts_wait_for_an_admin(node, browser):
    """With registration_approval on, a new account is told it waits, cannot log in (a clear 403
    once the password is right) until `civic user approve`, which `civic user pending` lists."""
    configure(node, registration_approval=True)
    write_settings(node.rt.settings)  # the CLI reads the node's civic.toml
    page = await browser.post("/register", ACCOUNT)
    assert page.status == 200 and "attend la validation des administrateurs" in page.text
    assert 'action="/logout"' not in (await browser.get("/")).text
    wrong = await browser.login("camille", "wrong password")
    assert wrong.status == 400 and "validation" not in wrong.text  # nothing told without the password
    waiting = await browser.login("camille", ACCOUNT["password"])
    assert waiting.status == 403 and "Votre compte attend la validation" in waiting.text
    pending = await asyncio.to_thread(_cli, node, "user", "pending")
    assert pending.returncode == 0 and pending.stdout.startswith("camille\t"), pending.stderr
    approved = await asyncio.to_thread(_cli, node, "user", "approve", "camille")
    assert approved.returncode == 0 and "Approved @camille" in approved.stdout, approved.stderr
    again = await asyncio.to_thread(_cli, node, "user", "approve", "camille")
    assert again.returncode == 1 and "not waiting for approval" in again.stderr
    assert "Traceback" not in again.stderr
    assert (await browser.login("camille", ACCOUNT["password"])).status == 303
    assert "No account waits" in (await asyncio.to_thread(_cli, node, "user", "pending")).stdout


async def test_login__argon2_runs_one_at_a_time_so_a_burst_adds_its_memory_once(monkeypatch):
    """argon2 takes 64 MiB while it runs: eight log-ins at once are verified one after the
    other, off the event loop (a web process's memory grows by one verification, not eight)."""
    import asyncio
    import contextlib
    import threading

    from node.services import actors as actor_service

    running, most, lock = [0], [0], threading.Lock()
    verify = actor_service.verify_password
    # The first two calls wait for each other (at most a second): two threads would meet here.
    meet = threading.Barrier(2, timeout=1.0)

    def counted(password_hash: str, password: str) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait()
            return verify(password_hash, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(actor_service, "verify_password", counted)
    stored = actor_service.hash_password("password-123")
    results = await asyncio.gather(*(actor_service.verify_password_async(stored, "password-123")
                                     for _ in range(8)))
    assert results == [True] * 8 and most[0] == 1


async def test_epochs__remembered_a_moment_and_dropped_by_a_logout_at_once(node, org, browser, monkeypatch):
    """Each signed-in request checks its cookie's epoch (rule 16): the epoch is read once and kept
    for at most a second, but a logout (any change of the account's sessions) drops it at once,
    and a change no announcement reaches (the CLI on SQLite) counts once the second is over."""
    from node.services import accounts
    from web.sessions import EPOCHS

    reads = []
    read = accounts.session_epoch

    async def counted(session, user_id):
        reads.append(user_id)
        return await read(session, user_id)

    monkeypatch.setattr(accounts, "session_epoch", counted)
    assert (await browser.login("maire")).status == 303
    thief = await _copy(node, browser)
    try:
        reads.clear()
        for _ in range(3):
            assert await _signed_in(thief)
        assert len(reads) == 1  # read once, remembered
        assert (await browser.post("/logout", {}, form_page="/")).status == 303
        assert not await _signed_in(thief)  # at once: the logout dropped the remembered epoch
        # A change written where no announcement reaches: honoured when the moment is over.
        assert (await browser.login("maire")).status == 303
        assert await _signed_in(browser)
        async with node.rt.sessions() as session:
            uid = await session.scalar(select(User.id).where(User.actor.has(username="maire")))
        async with node.rt.sessions.kw["bind"].begin() as connection:  # the engine: no ORM session
            await connection.execute(update(AccountState).where(AccountState.user_id == uid)
                                     .values(session_epoch=AccountState.session_epoch + 1))
        assert await _signed_in(browser)  # still remembered for the moment
        for known in node.app[EPOCHS]._known.values():
            known.until = 0.0  # the moment is over, as time would make it
        assert not await _signed_in(browser)
    finally:
        await thief.close()
