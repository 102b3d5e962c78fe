"""The discussion page's threads by pages: "Show more contributions" links (keyset cursor), the partial
answer threads.js appends, hidden contributions, access rules, hostile cursors, links after posting."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from node.db import transaction
from node.models import Actor, Contribution, Discussion, utcnow
from node.services import contributions, discussions
from web.participation import threads
from web.participation.common import contribution_anchor

PAGE = "/orgs/lyon/discussions/clos-jouve"
PER_PAGE = 3
ITEM = re.compile(r'<li id="(contribution-[^"]+)" class="contribution')
MORE = re.compile(r'<a href="([^"]+)" rel="next" data-more-threads>')


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    """Three threads a page: three pages of threads with the world's two and six more."""
    monkeypatch.setattr(threads, "THREADS_PER_PAGE", PER_PAGE)


async def add_threads(node, world, count: int = 6, *, same_time: bool = True) -> list[Contribution]:
    """``count`` more threads by eva, one hour apart, each with a reply by camille; the last two
    share their publication time to the microsecond (the cursor's id breaks the tie)."""
    made = []
    async with transaction(node.rt.sessions) as s:
        disc = await s.get(Discussion, world.ids["discussion"])
        eva, camille = await s.get(Actor, world.people["eva"].id), await s.get(Actor, world.people["camille"].id)
        moment = utcnow() - timedelta(hours=count + 1)
        for i in range(count):
            root = await contributions.contribute(s, node.uris, disc, eva, f"<p>Thread number {i}</p>")
            reply = await contributions.contribute(s, node.uris, disc, camille, f"<p>Reply to {i}</p>",
                                                   parent=root)
            when = moment + timedelta(hours=min(i, count - 2) if same_time else i)
            await s.execute(update(Contribution).where(Contribution.id.in_([root.id, reply.id]))
                            .values(published=when))
            made.append(root)
    return made


async def live_anchors(node, discussion_id: int) -> set[str]:
    async with node.rt.sessions() as s:
        rows = await s.scalars(select(Contribution).where(Contribution.discussion_id == discussion_id,
                                                          Contribution.deleted_at.is_(None)))
        return {contribution_anchor(c) for c in rows}


async def follow_pages(client, start: str = PAGE) -> tuple[list[str], list[str]]:
    """Every contribution shown from ``start`` to the last "Show more" page, and the URLs followed."""
    shown, urls, url = [], [], start
    while url:
        page = await client.get(url)
        assert page.status == 200, (url, page.text[:300])
        shown += ITEM.findall(page.text)
        more = MORE.search(page.text)
        url = html.unescape(more[1]) if more else None
        if url:
            urls.append(url)
        assert len(urls) < 20
    return shown, urls


async def test_pager__show_more_links_show_every_contribution_once(node, world, clients):
    """Eight threads, three a page: the first page and two "Show more" pages show every contribution
    (replies included) exactly once, newest threads first; the partial answers hold the same items."""
    await add_threads(node, world)
    reader = clients()
    first = await reader.get(PAGE)
    assert len(re.findall(r'<ol class="thread"', first.text)) == 1
    assert "Show more contributions" in first.text and 'id="threads-status" aria-live="polite"' in first.text
    assert '<script src="/static/threads.js" defer></script>' in first.text
    assert re.search(r'<span class="count">16</span>', first.text)  # the total, not the page's
    shown, urls = await follow_pages(reader)
    assert len(urls) == 2
    assert sorted(shown) == sorted(await live_anchors(node, world.ids["discussion"]))
    assert len(shown) == len(set(shown)) == 16
    for url in urls:
        page, partial = await reader.get(url), await reader.get(url + "&partial=1")
        assert "/orgs/lyon/theme.css?v=" in page.text and "Back to the discussion" in page.text
        assert partial.status == 200 and "<html" not in partial.text and "<li id=" in partial.text
        assert ITEM.findall(partial.text) == ITEM.findall(page.text)
        assert MORE.findall(partial.text) == MORE.findall(page.text)
    last = await reader.get(urls[-1] + "&partial=1")
    assert "data-more-threads" not in last.text  # the last page has no "Show more"


async def test_pager__contributions_written_between_page_loads_skip_and_repeat_nothing(node, world, clients):
    """After page 1 was read, new threads and replies are written: following the links still shows
    each contribution of the first reading once, and the reply where its thread is."""
    made = await add_threads(node, world)
    reader = clients()
    first = await reader.get(PAGE)
    seen = ITEM.findall(first.text)
    original = await live_anchors(node, world.ids["discussion"])
    async with transaction(node.rt.sessions) as s:
        disc = await s.get(Discussion, world.ids["discussion"])
        dominique = await s.get(Actor, world.people["dominique"].id)
        late = [await contributions.contribute(s, node.uris, disc, dominique, f"<p>Late thread {i}</p>")
                for i in range(4)]  # four new threads: an offset would show page 1's last threads again
        late_reply = await contributions.contribute(s, node.uris, disc, dominique, "<p>Late reply</p>",
                                                    parent=await s.get(Contribution, made[0].id))
    more = html.unescape(MORE.search(first.text)[1])
    rest, _ = await follow_pages(reader, more)
    shown = seen + rest
    assert len(shown) == len(set(shown))  # nothing twice
    assert original <= set(shown)  # nothing skipped
    assert contribution_anchor(late_reply) in rest  # in its (older) thread, on a later page
    assert not {contribution_anchor(c) for c in late} & set(rest)  # newer: on the first page, reloaded
    assert set(ITEM.findall((await clients().get(PAGE)).text)) >= {contribution_anchor(c) for c in late[-3:]}


async def test_pager__hidden_contributions_and_moderators_on_later_pages(node, world, clients):
    """A hidden contribution on page 3 keeps its place with the reason; moderators read it and
    get their moderation forms there too; residents get the reply form, anonymous visitors neither."""
    await add_threads(node, world)
    async with transaction(node.rt.sessions) as s:  # the oldest thread of the world: on the last page
        await s.execute(update(Contribution).where(Contribution.id == world.ids["official"])
                        .values(hidden=True))
    anonymous, modo, camille = clients(), clients(), clients()
    await modo.login("modo")
    await camille.login("camille")
    _, urls = await follow_pages(anonymous)
    last = urls[-1]
    seen = await anonymous.get(last)
    assert "Merci pour vos idées." not in seen.text and "Hidden by the moderators." in seen.text
    moderated = await modo.get(last)
    assert "Merci pour vos idées." in moderated.text and '<details class="moderate">' in moderated.text
    assert '<details class="moderate">' not in (await camille.get(last)).text
    assert '<details class="reply">' in (await camille.get(last)).text
    assert '<details class="reply">' not in seen.text and "/agree" not in seen.text


@pytest.mark.parametrize("level", ["followers", "members"])
async def test_pager__threads_of_a_restricted_discussion_answer_like_its_page(node, world, clients, level):
    """A followers or members discussion: its threads URL gives a stranger the same 404 as its page
    (and as a missing discussion); a member of the organisation reads both."""
    async with transaction(node.rt.sessions) as s:
        lyon = await s.get(Actor, world.org.id)
        closed = await discussions.open_discussion(s, node.uris, lyon, "entre-nous", "Entre nous", visibility=level)
        await contributions.contribute(s, node.uris, closed, await s.get(Actor, world.people["maire"].id),
                                       "<p>Réservé</p>")
    stranger = clients()
    await stranger.login("camille")
    for who in (clients(), stranger):
        page = await who.get("/orgs/lyon/discussions/entre-nous")
        listed = await who.get("/orgs/lyon/discussions/entre-nous/threads")
        partial = await who.get("/orgs/lyon/discussions/entre-nous/threads?partial=1&before=1-1")
        missing = await who.get("/orgs/lyon/discussions/absent/threads")
        assert page.status == listed.status == partial.status == missing.status == 404
        assert listed.text.replace("entre-nous", "absent") == missing.text  # only the address differs
        assert "Réservé" not in listed.text + partial.text
    staff = clients()
    await staff.login("maire")
    assert "Réservé" in (await staff.get("/orgs/lyon/discussions/entre-nous/threads")).text


@pytest.mark.parametrize("cursor", [
    "garbage", "-5", "5--1", "1-", "-", "99999999999999999999-1", "1-99999999999999999999",
    "1-2147483648", "1.5-2", "%00", "1%00-1", "1-1%00", "%EF%BC%91-1", "%F0%9F%98%80", "1" * 5000,
])
async def test_pager__hostile_cursors_get_a_400_with_a_reason(node, world, clients, cursor):
    """Cursors that are not ours (garbage, huge or negative numbers, NUL, other digits) get a 400
    that says what happened, never a 500; the partial answer too."""
    reader = clients()
    for tail in ("", "&partial=1"):
        page = await reader.get(f"{PAGE}/threads?before={cursor}{tail}")
        assert page.status == 400, (cursor, page.status)
        assert "Traceback" not in page.text
        if "%00" not in cursor:  # a NUL anywhere in an address is refused earlier, with its own reason
            assert "This list of contributions does not exist" in page.text


async def test_pager__cursors_at_the_edges_answer_a_page(node, world, clients):
    """A well-formed cursor older than everything answers an empty list, one newer than everything
    the first threads; no cursor is the first page."""
    await add_threads(node, world)
    reader = clients()
    empty = await reader.get(f"{PAGE}/threads?before=0-0")
    assert empty.status == 200 and ITEM.findall(empty.text) == [] and "data-more-threads" not in empty.text
    newest = await reader.get(f"{PAGE}/threads?before=9999999999999999-2147483647")
    first = await reader.get(f"{PAGE}/threads")
    home = await reader.get(PAGE)
    assert ITEM.findall(newest.text) == ITEM.findall(first.text) == ITEM.findall(home.text)


async def test_pager__after_replying_on_a_later_page_the_reply_is_reachable(node, world, clients):
    """Replying to (or agreeing with) a contribution of a thread past the first page sends back to
    that contribution's own page; on the first page, to its place on the discussion page."""
    made = await add_threads(node, world)
    camille = clients()
    await camille.login("camille")
    old_root = made[0]  # the oldest added thread: on the last page
    sent = await camille.post(f"{PAGE}/contributions", {"content": "Une réponse tardive", "parent": str(old_root.id)},
                              form=PAGE)
    assert sent.status == 303
    assert f"{PAGE}/contributions/" in sent.location and "#contribution-" in sent.location
    target = await camille.get(sent.location.split("#")[0])
    assert target.status == 200 and "Une réponse tardive" in target.text
    assert f'id="{sent.location.split("#")[1]}"' in target.text
    agreed = await camille.post(f"{PAGE}/contributions/{old_root.id}/agree", {}, form=PAGE)
    assert agreed.status == 303 and agreed.location.endswith(f"/contributions/{old_root.id}#{contribution_anchor(old_root)}")
    # Her agreement is marked on the threads page where that thread is, for her alone.
    _, urls = await follow_pages(camille)
    other = clients()
    await other.login("dominique")
    pressed = re.compile(f'contributions/{old_root.id}/agree" class="inline">\\s*<input[^>]+>\\s*'
                         '<button type="submit" class="secondary" aria-pressed="true"')
    assert pressed.search((await camille.get(urls[-1])).text)
    for url in (urls[-1], urls[-1] + "&partial=1"):
        page = (await other.get(url)).text
        assert not pressed.search(page) and f'contributions/{old_root.id}/agree" class="inline">' in page
    assert pressed.search((await camille.get(urls[-1] + "&partial=1")).text)
    new = await camille.post(f"{PAGE}/contributions", {"content": "Tout neuf"}, form=PAGE)
    assert new.status == 303 and new.location.startswith(node.base + PAGE + "#contribution-")
    page = await camille.get(PAGE)
    assert f'id="{new.location.split("#")[1]}"' in page.text


async def test_pager__a_moderator_is_sent_back_to_a_contribution_past_the_first_page(node, world, clients):
    """Moderating a contribution of a later thread sends the moderator to its own page (an anchor on
    the discussion page would point past the threads it shows); a recent one, to its place there."""
    made = await add_threads(node, world)
    modo = clients()
    await modo.login("modo")
    old_root, recent = made[0], made[-1]
    sent = await modo.post(f"{PAGE}/contributions/{old_root.id}/moderate", {"mark": "quality-on"}, form=PAGE)
    assert sent.status == 303
    assert sent.location.endswith(f"{PAGE}/contributions/{old_root.id}#{contribution_anchor(old_root)}")
    sent = await modo.post(f"{PAGE}/contributions/{recent.id}/moderate", {"mark": "quality-on"}, form=PAGE)
    assert sent.status == 303 and sent.location.endswith(f"{PAGE}#{contribution_anchor(recent)}")
