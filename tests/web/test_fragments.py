"""The per-contribution fragment cache of the discussion page: a change re-renders that contribution
alone and shows at once, readers keep their own marks on shared fragments, and renderings that differ
(moderator, resident, anonymous, language, one reader alone) never share a fragment."""

from __future__ import annotations

import re

from sqlalchemy import update

from node.db import transaction
from node.models import Contribution
from web.cache import PAGE_CACHE
from web.participation.fragments import FRAGMENTS

PAGE = "/orgs/lyon/discussions/clos-jouve"
# A contribution's agree form: (contribution id, hidden on the reader's own, pressed).
AGREE = re.compile(r'action="[^"]*/contributions/(\d+)/agree" class="inline"( hidden)?>\s*'
                   r'<input type="hidden" name="csrf_token" value="[^"]+">\s*'
                   r'<button type="submit"(?: class="secondary")? aria-pressed="(true|false)"')


def agree_forms(page: str) -> dict[int, tuple[bool, bool]]:
    """{contribution id: (form hidden as the reader's own, agreement given)}."""
    return {int(cid): (bool(hidden), pressed == "true") for cid, hidden, pressed in AGREE.findall(page)}


def counts(node) -> tuple[int, int]:
    cache = node.app[FRAGMENTS]
    return cache.renders, cache.hits


async def test_fragments__a_change_re_renders_that_contribution_alone_and_shows_at_once(node, world, clients):
    """An agreement from another reader, a moderator hiding a reply, a text edited: each shows on the
    next rendering, which renders that one contribution again and reuses the three others."""
    ids = world.ids
    camille, eva, modo = clients(), clients(), clients()
    for client, handle in ((camille, "camille"), (eva, "eva"), (modo, "modo")):
        await client.login(handle)
    await camille.get(PAGE)
    assert len(node.app[FRAGMENTS]) >= 4

    async def after(change) -> str:
        renders, hits = counts(node)
        await change()
        page = (await camille.get(PAGE)).text
        assert counts(node) == (renders + 1, hits + 3), "one contribution rendered, three reused"
        return page

    async def agree():
        assert (await eva.post(f"{PAGE}/contributions/{ids['official']}/agree", {}, form="/")).status == 303
    assert "+ 1 person agrees" in await after(agree)

    async def hide():
        hidden = await modo.post("/moderation/content", {"target": await ap_id(node, ids["reply"]),
                                                         "action": "hide", "reason": "Hors sujet"}, form="/")
        assert hidden.status == 303
    page = await after(hide)
    assert "Hidden by the moderators: Hors sujet" in page and "Les contraintes du compostage" not in page

    async def edit():
        async with transaction(node.rt.sessions) as s:
            await s.execute(update(Contribution).where(Contribution.id == ids["deeper"])
                            .values(content="<p>Texte corrigé</p>"))
        node.app[PAGE_CACHE].clear()  # a change made outside the web pages (the page cache's TTL)
    page = await after(edit)
    assert "Texte corrigé" in page and "Le compostage en ville" not in page


async def ap_id(node, contribution_id: int) -> str:
    async with node.rt.sessions() as s:
        return (await s.get(Contribution, contribution_id)).ap_id


async def test_fragments__reused_fragments_carry_each_readers_own_marks(node, world, clients):
    """Camille agreed with the reply and wrote the top contribution; Eva agreed with the top one.
    Eva's rendering reuses every fragment of Camille's, and each sees only their own marks."""
    ids = world.ids
    camille, eva = clients(), clients()
    await camille.login("camille")
    await eva.login("eva")
    camille_page = (await camille.get(PAGE)).text
    node.app[PAGE_CACHE].clear()  # Eva's page is rendered again, not served from Camille's rendering
    renders, hits = counts(node)
    eva_page = (await eva.get(PAGE)).text
    assert counts(node) == (renders, hits + 4)
    mine, hers = agree_forms(camille_page), agree_forms(eva_page)
    assert mine[ids["top"]] == (True, False)  # her own: no "agree" offered
    assert mine[ids["reply"]] == (False, True) and mine[ids["official"]] == (False, False)
    assert hers[ids["top"]] == (False, True) and hers[ids["reply"]] == (False, False)
    assert hers[ids["deeper"]] == (True, False)  # Eva wrote the deepest reply
    assert "<!--" not in eva_page.split('<ol class="thread"')[1].split("</ol>\n")[0]
    assert len(mine) == len(hers) == 4


async def test_fragments__audiences_and_languages_never_share_a_fragment(node, world, clients):
    """Anonymous, resident, official and moderator renderings, and another language: each renders its
    own fragments (a key without the page's flags would hand one audience another's HTML)."""
    anonymous, french, camille, elu, modo = clients(), clients("fr"), clients(), clients(), clients()
    await camille.login("camille")
    await elu.login("elu")
    await modo.login("modo")
    node.app[FRAGMENTS].clear()
    pages = {}
    for name, client in (("anonymous", anonymous), ("french", french), ("resident", camille),
                         ("official", elu), ("moderator", modo)):
        renders, hits = counts(node)
        pages[name] = (await client.get(PAGE)).text
        assert counts(node) == (renders + 4, hits), name
    assert pages["moderator"].count('<details class="moderate">') == 4
    assert pages["resident"].count('<details class="reply">') == 4
    assert '<details class="moderate">' not in pages["resident"] + pages["official"] + pages["anonymous"]
    assert '<details class="reply">' not in pages["anonymous"] + pages["french"]
    assert pages["official"].count('name="official"') == 5  # its reply forms offer the official answer
    assert "Répondre" not in pages["anonymous"] and "jour" in pages["french"]
    # Again, each rendering from its own fragments.
    node.app[PAGE_CACHE].clear()
    for client in (anonymous, french, camille, elu, modo):
        renders, hits = counts(node)
        await client.get(PAGE)
        assert counts(node) == (renders, hits + 4)


async def test_fragments__renderings_for_one_reader_alone_neither_store_nor_reuse(node, world, clients):
    """A contribution refused with its errors is rendered for its author alone (real CSRF token,
    resolved marks): no fragment is stored or reused for it."""
    camille = clients()
    await camille.login("camille")
    await camille.get(PAGE)
    renders, hits = counts(node)
    size = len(node.app[FRAGMENTS])
    refused = await camille.post(f"{PAGE}/contributions", {"content": "  "}, form=PAGE)
    assert refused.status == 400 and "Write your contribution." in refused.text
    assert counts(node) == (renders, hits) and len(node.app[FRAGMENTS]) == size
    assert refused.text.count('<details class="reply">') == 4 and "__civic_" not in refused.text
