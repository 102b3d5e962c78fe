"""Local accounts: registration, log in with rotation and safe ``next``, log out.

Limits, epochs and approval: tests/web/test_sessions_security.py."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from node.models import Actor, User
from node.services import actors as actor_service
from tests.web.conftest import PASSWORD
from web.render import local_path
from web.security import COOKIE

GOOD = {
    "username": "camille",
    "display_name": "Cam du 4e",
    "email": "Cam@Example.org",
    "password": "un mot de passe",
    "password_confirm": "un mot de passe",
}


async def _users(node) -> int:
    async with node.rt.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User))


async def test_register_form__says_pseudonyms_are_welcome(make_browser):
    """The form invites pseudonyms, labels every field and marks e-mail as optional."""
    page = await make_browser("en").get("/register")
    assert page.status == 200
    assert "Pseudonyms are welcome" in page.text and "E-mail address (optional)" in page.text
    for field in ("username", "display_name", "email", "password", "password_confirm"):
        assert f'<label for="{field}">' in page.text and f'id="{field}"' in page.text
    assert "Les pseudonymes sont les bienvenus" in (await make_browser("fr").get("/register")).text


async def test_register__creates_the_account_and_logs_in(node, browser):
    """A valid form creates a Person actor and user (argon2 hash), logs in and goes to the profile."""
    page = await browser.post("/register", GOOD)
    assert page.status == 303 and page.location == "/actors/camille"
    async with node.rt.sessions() as session:
        user = await actor_service.user_by_username(session, "camille")
    assert user.actor.name == "Cam du 4e" and user.actor.type == "Person"
    assert user.email == "cam@example.org" and user.password_hash.startswith("$argon2")
    home = await browser.get("/")
    assert "Cam du 4e" in home.text and 'action="/logout"' in home.text


async def test_register__display_name_defaults_to_handle_and_next_is_followed(node, browser):
    """Without a display name the handle is shown; a local ``next`` is where registration ends."""
    data = {**GOOD, "display_name": "", "email": "", "next": "/follow?target=x"}
    page = await browser.post("/register", data)
    assert page.status == 303 and page.location == "/follow?target=x"
    async with node.rt.sessions() as session:
        user = await actor_service.user_by_username(session, "camille")
    assert user.actor.name == "camille" and user.email is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "Choisissez un identifiant."),
        ({"username": "Bad Handle!"}, "username", "Un identifiant compte de 1 à 30 caractères"),
        ({"username": "x" * 31}, "username", "Un identifiant compte de 1 à 30 caractères"),
        ({"username": "admin"}, "username", "Cet identifiant est réservé."),
        ({"display_name": "n" * 101}, "display_name", "au plus 100 caractères"),
        ({"email": "not-an-address"}, "email", "Ce n’est pas une adresse e-mail"),
        ({"password": "short", "password_confirm": "short"}, "password", "au moins 8 caractères"),
        (
            {"password_confirm": "something else"},
            "password_confirm",
            "Les deux mots de passe sont différents.",
        ),
    ],
)
async def test_register__bad_input_is_a_400_with_the_form_and_nothing_created(
    node, browser, changes, field, message
):
    """Each bad field: 400, the form again with its values, a translated error on that field."""
    page = await browser.post("/register", {**GOOD, **changes})
    assert page.status == 400
    assert message in page.text
    assert f'id="{field}-error"' in page.text and 'aria-invalid="true"' in page.text
    assert 'role="alert"' in page.text and f'href="#{field}"' in page.text
    if field != "display_name":
        assert 'value="Cam du 4e"' in page.text  # what the visitor typed is kept
    assert 'value="un mot de passe"' not in page.text  # passwords are never echoed
    assert await _users(node) == 0


async def test_register__taken_handle_and_email_are_refused_in_the_visitor_language(
    node, make_browser
):
    """A second account with the same handle or e-mail: 400 in German, still one account."""
    first = make_browser("de")
    assert (await first.post("/register", GOOD)).status == 303
    again = make_browser("de")
    page = await again.post("/register", {**GOOD, "email": ""})
    assert page.status == 400 and "Dieser Benutzername ist schon vergeben." in page.text
    page = await again.post(
        "/register", {**GOOD, "username": "camille2", "email": "cam@example.org"}
    )
    assert page.status == 400 and "Diese E-Mail-Adresse wird schon" in page.text
    assert await _users(node) == 1


async def test_register__without_csrf_token_is_refused(node, browser):
    """A cross-site POST (no CSRF token) is a 403 and creates nothing."""
    page = await browser.post("/register", GOOD, csrf=False)
    assert page.status == 403
    assert await _users(node) == 0


async def test_register__closed_registrations_create_nothing(node, browser):
    """With open_registrations off, the form says so (403) and a POST creates nothing."""
    node.rt.settings = dataclasses.replace(node.rt.settings, open_registrations=False)
    page = await browser.get("/register")
    assert page.status == 403 and "n’accepte pas de nouveaux comptes" in page.text
    assert 'href="/register"' not in (await browser.get("/")).text
    posted = await browser.post("/register", GOOD, form_page="/login")
    assert posted.status == 403
    assert await _users(node) == 0


async def test_login__rotates_the_session_and_follows_a_local_next(node, org, browser):
    """Logging in issues a new session cookie and CSRF token, then goes to ``next``."""
    form = await browser.get("/login?next=/actors/lyon")
    assert 'name="next" value="/actors/lyon"' in form.text
    before_cookie, before_csrf = browser.cookie(COOKIE), form.csrf
    page = await browser.post(
        "/login",
        {
            "username": "maire",
            "password": PASSWORD,
            "next": "/actors/lyon",
            "csrf_token": before_csrf,
        },
    )
    assert page.status == 303 and page.location == "/actors/lyon"
    assert browser.cookie(COOKIE) != before_cookie
    profile = await browser.get("/actors/lyon")
    assert profile.csrf != before_csrf and "Publier une annonce" in profile.text


@pytest.mark.parametrize(
    "target",
    [
        "https://elsewhere.example/",
        "//elsewhere.example",
        "/\\elsewhere.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "",
    ],
)
async def test_login__never_redirects_off_the_node(node, org, browser, target):
    """``next`` pointing elsewhere (or smuggling headers) is replaced by the home page."""
    page = await browser.post("/login", {"username": "maire", "password": PASSWORD, "next": target})
    assert page.status == 303 and page.location == "/"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/actors/lyon?x=1#top", "/actors/lyon?x=1#top"),
        ("/", "/"),
        ("actors", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/a\\b", "/"),
        ("http://x/", "/"),
        ("/\tx", "/"),
        (None, "/"),
    ],
)
def test_local_path__only_paths_on_this_node(target, expected):
    """local_path keeps absolute paths on this node and nothing else."""
    assert local_path(target) == expected


async def test_login__wrong_password_is_a_translated_400(node, org, make_browser):
    """A wrong password re-renders the form (400) with the error in the visitor's language."""
    page = await make_browser("de").login("maire", "wrong password")
    assert page.status == 400 and "Unbekannter Benutzername oder falsches Passwort." in page.text
    assert 'value="maire"' in page.text


async def test_logout__needs_the_csrf_token(node, org, browser):
    """Logging out is a POST with a CSRF token; without one the visitor stays logged in."""
    assert (await browser.login("maire")).status == 303
    assert (await browser.post("/logout", {}, csrf=False)).status == 403
    assert "La maire" in (await browser.get("/")).text
    page = await browser.post("/logout", {}, form_page="/")
    assert page.status == 303
    home = await browser.get("/")
    assert "La maire" not in home.text and 'href="/login"' in home.text


async def test_register__handle_is_stored_lower_case_and_unique(node, browser):
    """Handles are case-insensitive: 'Camille' is stored as camille and blocks 'CAMILLE'."""
    assert (await browser.post("/register", {**GOOD, "username": "Camille"})).status == 303
    await browser.post("/logout", {}, form_page="/")
    page = await browser.post("/register", {**GOOD, "username": "CAMILLE", "email": ""})
    assert page.status == 400
    async with node.rt.sessions() as session:
        names = (await session.scalars(select(Actor.username).where(Actor.type == "Person"))).all()
    assert names == ["camille"]
