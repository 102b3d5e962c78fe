"""Clear errors for people: an over-size form comes back with what was typed and a translated message
next to the field (not a bare 413 page), an error summary takes the focus, over-long text is refused
with its limit and its length and never cut, and limited fields show a live counter."""

from __future__ import annotations

import html
import re

import aiohttp
import pytest
from babel.numbers import format_decimal
from sqlalchemy import func, select

from node.db import transaction
from node.errors import InvalidInput
from node.models import Actor, Contribution, Discussion, Proposal
from node.services import community, spaces
from tests.web.participation_helpers import Client
from tests.web.test_logo import png
from tests.web.test_participation_pages import text_of
from web.oversize import SALVAGE_LIMIT
from web.render import MAX_FORM

DISCUSSION = "/orgs/lyon/discussions/clos-jouve"
TOO_LONG = {  # the message of web/participation/limits.py, per language, with the numbers filled in
    "en": "At most {max} characters (you wrote {count}).",
    "fr": "{max} caractères au plus (vous en avez écrit {count}).",
    "de": "Höchstens {max} Zeichen (Sie haben {count} geschrieben).",
}
CUT = {
    "en": "This text is too long to be sent: at most {max} characters.",
    "fr": "Ce texte est trop long pour être envoyé : {max} caractères au plus.",
    "de": "Dieser Text ist zu lang zum Senden: höchstens {max} Zeichen.",
}


def too_long(lang: str, limit: int, count: int) -> str:
    return TOO_LONG[lang].format(max=format_decimal(limit, locale=lang), count=format_decimal(count, locale=lang))


def field_error(page: str, field_id: str) -> str:
    """The text of the message shown next to a field (``<p class="field-error" id="<field>-error">``)."""
    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert match, f"no error next to #{field_id}"
    return html.unescape(match.group(1)).strip()


def textarea_value(page: str, field_id: str) -> str:
    match = re.search(rf'<textarea id="{re.escape(field_id)}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea #{field_id}"
    return html.unescape(match.group(1))


async def count(node, model, *where) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


# -- over-long text: refused with the limit and the length, never cut ----------------------------

@pytest.mark.parametrize("lang", ["en", "fr", "de"])
async def test_contribution__over_long_text_is_refused_with_its_length_and_kept_whole(node, world, clients, lang):
    """10,001 characters: 400, "at most 10,000 characters (you wrote 10,001)" in the reader's
    language next to the field, the text whole in the form again, nothing stored."""
    camille = clients(lang)
    await camille.login("camille")
    text = "é" * 9_990 + "0123456789x"
    before = await count(node, Contribution)
    page = await camille.post(f"{DISCUSSION}/contributions", {"content": text}, form=DISCUSSION)
    assert page.status == 400
    assert field_error(page.text, "content") == too_long(lang, 10_000, 10_001)
    assert textarea_value(page.text, "content") == text
    assert await count(node, Contribution) == before


async def test_contribution__line_breaks_count_as_one_character_as_in_the_counter(node, world, clients):
    """Browsers send a line break as CR LF; it counts as one character, like the page's counter:
    a text of exactly 10,000 characters with line breaks is accepted, not refused."""
    camille = clients()
    await camille.login("camille")
    text = ("a" * 98 + "\r\n") * 100 + "b" * 100  # 99 × 100 + 100 = 10,000 characters as typed
    page = await camille.post(f"{DISCUSSION}/contributions", {"content": text}, form=DISCUSSION)
    assert page.status == 303, field_error(page.text, "content")


async def test_contribution__ten_thousand_characters_of_any_script_fit_in_a_form(node, world, clients):
    """10,000 Chinese characters are ~90 KB once percent-encoded by the browser: accepted (the form
    limit was 64 KB, so a text within the 10,000-character limit got a bare 413)."""
    camille = clients()
    await camille.login("camille")
    text = "公园" * 5_000
    page = await camille.post(f"{DISCUSSION}/contributions", {"content": text}, form=DISCUSSION)
    assert page.status == 303
    async with node.rt.sessions() as s:
        stored = await s.scalar(select(Contribution).order_by(Contribution.id.desc()).limit(1))
    assert stored.content == f"<p>{text}</p>"


async def test_forms__every_limited_field_says_its_limit_and_the_length_written(node, world, clients):
    """Citizen discussion, proposal, article and initiative forms: each over-long field gets the same
    message with its own limit; nothing is written."""
    camille = clients()
    await camille.login("camille")
    cases = [
        ("/orgs/lyon/new-discussion", "/orgs/lyon/new-discussion",
         {"title": "t" * 201, "summary": "s" * 501, "body": "b" * 20_001},
         {"title": (200, 201), "summary": (500, 501), "body": (20_000, 20_001)}),
        ("/orgs/lyon/proposals/new", "/orgs/lyon/proposals/new",
         {"title": "t" * 301, "body": "b" * 20_001}, {"title": (300, 301), "body": (20_000, 20_001)}),
        (f"{DISCUSSION}/articles", DISCUSSION,
         {"article_title": "Un titre", "article_summary": "s" * 1_001, "article_body": "b" * 20_001},
         {"article_summary": (1_000, 1_001), "article_body": (20_000, 20_001)}),
        (f"{DISCUSSION}/initiatives", f"{DISCUSSION}/initiatives",
         {"title": "t" * 301, "body": "b" * 10_001}, {"title": (300, 301), "body": (10_000, 10_001)}),
    ]
    before = [await count(node, model) for model in (Discussion, Proposal)]
    for action, form, data, expected in cases:
        page = await camille.post(action, data, form=form)
        assert page.status == 400, action
        for field, (limit, written) in expected.items():
            assert field_error(page.text, field) == too_long("en", limit, written), (action, field)
    assert [await count(node, model) for model in (Discussion, Proposal)] == before


async def test_services__over_long_text_is_refused_never_cut(node, world):
    """What the services used to cut silently (an article's summary at 1,000 characters, a
    stakeholder's description at 300, the territory at 255, themes at 60) is refused instead."""
    async with transaction(node.rt.sessions) as s:
        discussion = await s.get(Discussion, world.ids["discussion"])
        eva = await s.get(Actor, world.people["eva"].id)
        with pytest.raises(InvalidInput, match="summary is limited to 1000"):
            await community.add_article(s, node.uris, discussion, eva, "Un article", summary="s" * 1_001,
                                        link="https://example.org/a")
        with pytest.raises(InvalidInput, match="description is limited to 300"):
            await community.set_stakeholder(s, discussion, eva, "resident", "d" * 301)
        org = await s.get(Actor, world.org.id)
        with pytest.raises(InvalidInput, match="territory is limited to 255"):
            await spaces.update_profile(s, org, territory="t" * 256)
        with pytest.raises(InvalidInput, match="themes"):
            await spaces.update_profile(s, org, themes=["x" * 61])
        kept = await community.add_article(s, node.uris, discussion, eva, "Un article", summary="s" * 1_000,
                                           link="https://example.org/a")
        assert len(kept.summary) == 1_000


# -- over-size forms come back ------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "fr", "de"])
async def test_oversize__a_form_over_the_size_limit_comes_back_with_its_values(node, world, clients, lang):
    """A contribution body over the form limit: 413, the discussion page with the form again, the
    text and the position chosen kept, the length-and-limit message in the reader's language."""
    camille = clients(lang)
    await camille.login("camille")
    text = "x" * (MAX_FORM + 10)
    page = await camille.post(f"{DISCUSSION}/contributions", {"content": text, "alignment": "against"},
                              form=DISCUSSION)
    assert page.status == 413
    assert "Maximum request body size" not in page.text
    assert field_error(page.text, "content") == too_long(lang, 10_000, len(text))
    assert textarea_value(page.text, "content") == text
    assert re.search(r'id="alignment-against" name="alignment" value="against" checked', page.text)
    assert await count(node, Contribution, Contribution.content.like("xxx%")) == 0


@pytest.mark.parametrize("lang", ["en", "fr", "de"])
async def test_oversize__a_body_over_what_the_node_reads_keeps_the_fields_before_the_cut(node, world, clients, lang):
    """A citizen discussion whose text is over what the node reads at all (the body is cut): 413,
    the title and summary kept, the cut field named with its limit in the reader's language."""
    camille = clients(lang)
    await camille.login("camille")
    form = "/orgs/lyon/new-discussion"
    # The token first, as the page's hidden field is: what comes after the cut never arrives.
    data = {"csrf_token": (await camille.get(form)).csrf, "title": "Des bancs au parc",
            "summary": "Pour s'asseoir à l'ombre", "body": "é" * SALVAGE_LIMIT}
    before = await count(node, Discussion)
    page = await camille.post(form, data, csrf=False)
    assert page.status == 413
    assert field_error(page.text, "body") == CUT[lang].format(max=format_decimal(20_000, locale=lang))
    assert 'value="Des bancs au parc"' in page.text
    assert textarea_value(page.text, "summary") == "Pour s'asseoir à l'ombre"
    assert textarea_value(page.text, "body").startswith("éééé")
    assert await count(node, Discussion) == before


async def test_oversize__a_form_with_a_bad_token_is_still_403(node, world, clients):
    """An over-size form is checked like any other: a wrong CSRF token is a 403, nothing shown back."""
    camille = clients()
    await camille.login("camille")
    page = await camille.post(f"{DISCUSSION}/contributions",
                              {"csrf_token": "forged", "content": "x" * (MAX_FORM + 10)}, csrf=False)
    assert page.status == 403 and "xxxxxxxx" not in page.text


@pytest.mark.parametrize("lang, message", [
    ("en", "The image is limited to 512 KB."),
    ("de", "Das Bild darf höchstens 512 KB groß sein."),
])
async def test_oversize__an_upload_over_the_limit_comes_back_to_the_profile_form(node, world, lang, message):
    """A logo over the upload limit (multipart): 413, the profile screen with the message next to
    the file field (not a bare error page), nothing stored."""
    admin = Client(node.base, lang)
    try:
        await admin.login("maire")
        profile = "/orgs/lyon/admin/profile"
        form = aiohttp.FormData()
        form.add_field("csrf_token", (await admin.get(profile)).csrf)
        form.add_field("logo", png(padding=900 * 1024), filename="logo.png", content_type="image/png")
        async with admin.session.post(f"{node.base}/orgs/lyon/admin/logo", data=form,
                                      allow_redirects=False) as response:
            status, text = response.status, await response.text()
    finally:
        await admin.close()
    assert status == 413
    assert field_error(text, "logo") == message
    assert 'enctype="multipart/form-data"' in text and 'id="error-summary"' in text
    async with node.rt.sessions() as s:
        assert (await spaces.profile(s, await s.get(Actor, world.org.id))).logo_path in (None, "")


# -- the error summary and the counters --------------------------------------------------------

async def test_error_summary__lists_the_errors_with_links_to_their_fields_and_takes_the_focus(node, world, clients):
    """After a failed submit the form opens with a summary (heading, one link per error to its
    field's id), focusable and autofocused, with the script that focuses it where autofocus is
    not honoured; the script is served from this node."""
    camille = clients()
    await camille.login("camille")
    form = "/orgs/lyon/proposals/new"
    page = await camille.post(form, {"title": "t" * 301, "body": ""}, form=form)
    assert page.status == 400
    summary = re.search(r'<div class="error-summary" id="error-summary"([^>]*)>(.*?)</div>', page.text, re.S)
    assert summary, "no error summary"
    assert 'tabindex="-1"' in summary.group(1) and "autofocus" in summary.group(1)
    assert "The form has errors" in summary.group(2)
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(2))
    assert [target for target, _ in links] == ["title", "body"]
    for target, _ in links:
        assert f'id="{target}"' in page.text
    assert page.text.index('id="error-summary"') < page.text.index('id="title"')
    assert '<script src="/static/forms.js" defer></script>' in page.text
    script = await camille.get("/static/forms.js")
    assert script.status == 200 and 'getElementById("error-summary")' in script.text and ".focus()" in script.text


async def test_error_summary__on_the_reply_page_links_to_the_reply_field(node, world, clients):
    """A reply refused on the reply page: the summary links to the reply's own field id."""
    camille = clients()
    await camille.login("camille")
    reply = world.ids["reply"]
    page = await camille.post(f"{DISCUSSION}/contributions", {"content": "r" * 10_001, "parent": str(reply)},
                              form=DISCUSSION)
    assert page.status == 400
    assert '<a href="#reply-content">' in page.text and 'id="reply-content"' in page.text
    assert field_error(page.text, "reply-content") == too_long("en", 10_000, 10_001)


async def test_counters__limited_fields_have_a_live_counter_and_no_maxlength(node, world, clients):
    """Limited fields carry no maxlength (it cuts pasted text silently in some browsers) but a
    counter with their limit, described by the field, with a polite live region for screen readers."""
    camille = clients("fr")
    await camille.login("camille")
    page = await camille.get("/orgs/lyon/proposals/new")
    assert "maxlength" not in page.text
    body = re.search(r'<textarea id="body"[^>]*>', page.text).group(0)
    assert "body-counter" in body
    counter = re.search(r'<p class="counter hint" id="body-counter"([^>]*)>([^<]*)</p>', page.text, re.S)
    assert 'data-limit="20000"' in counter.group(1) and 'data-counter-for="body"' in counter.group(1)
    assert "Caractères restants : {count}" in html.unescape(counter.group(1))
    assert counter.group(2).strip() == f"{format_decimal(20_000, locale='fr')} caractères au plus."
    assert re.search(r'<p class="visually-hidden" id="body-counter-status" aria-live="polite"></p>', page.text)


async def test_oversize__an_admin_form_in_several_languages_comes_back_too(node, world, clients):
    """The official discussion form over the size limit: 413, the slug and the French title kept,
    the message on the introduction (its fields are ``body_fr``…), no discussion opened."""
    maire = clients()
    await maire.login("maire")
    admin = "/orgs/lyon/admin/discussions"
    before = await count(node, Discussion)
    page = await maire.post(admin, {"slug": "parc-blandan", "title_fr": "Le parc Blandan", "visibility": "public",
                                    "body_fr": "b" * (MAX_FORM + 10)}, form=admin)
    assert page.status == 413
    assert field_error(page.text, "body") == too_long("en", 20_000, MAX_FORM + 10)
    assert 'value="parc-blandan"' in page.text and 'value="Le parc Blandan"' in page.text
    assert '<a href="#body">' in page.text and '<fieldset id="body"' in page.text
    assert await count(node, Discussion) == before


@pytest.mark.parametrize("lang, message", [
    ("fr", "Ce que vous avez envoyé est trop volumineux."),
    ("de", "Was Sie gesendet haben, ist zu groß."),
])
async def test_oversize__a_form_that_is_not_shown_again_gets_a_translated_page(node, world, clients, lang, message):
    """A form whose handler does not show it again (the log-in form) still gets a 413 page in the
    reader's language, never aiohttp's English "Maximum request body size … exceeded"."""
    visitor = clients(lang)
    page = await visitor.post("/login", {"username": "camille", "password": "p" * (MAX_FORM + 10)}, form="/login")
    assert page.status == 413
    assert message in text_of(page.text) and "Maximum request body size" not in page.text
