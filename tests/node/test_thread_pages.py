"""Pages of threads (contributions.thread_page): put end to end, they are the whole thread tree as
contributions.thread builds it, whatever the ties, deleted parents, hidden ones and page size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from node.db import transaction
from node.models import Contribution, utcnow
from node.services import actors, contributions, discussions


def shape(items: list[contributions.ThreadItem]) -> list:
    return [(item.contribution.id, shape(item.replies)) for item in items]


async def all_pages(s, discussion, limit: int, include_hidden: bool) -> tuple[list, int]:
    items, cursor, pages = [], None, 0
    while True:
        page = await contributions.thread_page(s, discussion, before=cursor, limit=limit,
                                               include_hidden=include_hidden)
        items += page.items
        pages += 1
        assert len(page.items) <= limit
        if page.next is None:
            return items, pages
        assert len(page.items) == limit
        cursor = page.next


@pytest.fixture
async def discussion(sessions, uris):
    """Eleven threads, four published at the same microsecond; replies three levels deep and
    deeper; a deleted reply whose reply is left without its parent; a hidden thread with a reply."""
    async with transaction(sessions) as s:
        lyon = await actors.create_organization(s, uris, "lyon", "Ville de Lyon")
        people = [(await actors.create_user(s, uris, n, "password-123")).actor for n in ("ana", "bo")]
        d = await discussions.open_discussion(s, uris, lyon, "parc", "Le parc")
        same = utcnow() - timedelta(days=1)
        for i in range(11):
            root = await contributions.contribute(s, uris, d, people[i % 2], f"<p>Thread {i}</p>")
            when = same if i in (3, 4, 5, 6) else utcnow() - timedelta(days=2, hours=i)
            await s.execute(update(Contribution).where(Contribution.id == root.id).values(published=when))
            parent = root
            for depth in range(i % 5):  # 0 to 4 replies in a chain (the fourth stays at level 3)
                parent = await contributions.contribute(s, uris, d, people[depth % 2], f"<p>{i}.{depth}</p>",
                                                        parent=parent)
            if i == 4:
                middle = (await s.get(Contribution, parent.parent_id))
                await contributions.delete_contribution(s, middle, federate=False)
            if i == 7:
                await contributions.set_mark(s, root, hidden=True)
    return d


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 20])
@pytest.mark.parametrize("include_hidden", [True, False])
async def test_thread_pages__end_to_end_are_the_whole_tree(sessions, discussion, limit, include_hidden):
    async with sessions() as s:
        d = await s.merge(discussion)
        whole = await contributions.thread(s, d, include_hidden=include_hidden)
        paged, pages = await all_pages(s, d, limit, include_hidden)
    assert shape(paged) == shape(whole)
    assert pages == max(1, -(-len(whole) // limit))  # no empty last page
    ids = _flatten(shape(paged))
    assert len(ids) == len(set(ids))


def _flatten(tree: list) -> list[int]:
    return [i for cid, replies in tree for i in (cid, *_flatten(replies))]


async def test_thread_pages__a_contribution_finds_its_page(sessions, discussion):
    """root_of and threads_before place any contribution (a deep reply too) on its thread's page."""
    async with sessions() as s:
        d = await s.merge(discussion)
        whole = await contributions.thread(s, d, include_hidden=True)
        for position, item in enumerate(whole):
            deepest = item
            while deepest.replies:
                deepest = deepest.replies[-1]
            root = await contributions.root_of(s, deepest.contribution, include_hidden=True)
            assert root.id == item.contribution.id
            assert await contributions.threads_before(s, d, root, include_hidden=True) == position
            sub = await contributions.subthread(s, item.contribution, include_hidden=True)
            assert shape([sub]) == shape([item])
