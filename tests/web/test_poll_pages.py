"""Poll pages with the real app: the poll card on a discussion's page, the organisation's page and
the poll's own page (``/polls/<token>``, AS2 at the same id); voting through the form without
JavaScript (oneOf radio buttons, anyOf check boxes), closing, the staff's form; hidden results on
every path until the poll closes; refusals as 4xx with their reasons; fuzzed forms never a 500."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from node.db import transaction
from node.models import Actor, OutboxEvent, Poll, PollOption, PollVote, utcnow
from node.services import actors, coalitions, discussions, follows
from node.services import polls as poll_service
from tests.web.conftest import PASSWORD, Browser

AS2 = "application/activity+json"
DISCUSSION = "/orgs/lyon/discussions/velo"
ORGANISATION = "/actors/lyon"
HIDDEN = "Results are hidden until the poll closes."


@pytest.fixture
async def scene(node):
    """Lyon (admin ``maire``, moderator ``modo``), residents camille, dominique, eva; the public
    discussion ``velo`` and the members-only ``budget``; passwords PASSWORD."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        for handle, role in (("maire", "admin"), ("modo", "moderator"), ("camille", None),
                             ("dominique", None), ("eva", None)):
            user = await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
            if role:
                await actors.add_member(s, user, lyon, role)
        await discussions.open_discussion(s, node.uris, lyon, "velo", {"en": "Bicycles"})
        await discussions.open_discussion(s, node.uris, lyon, "budget", {"en": "Budget"}, visibility="members")
    return lyon


async def make_poll(node, *, where: str | None = "velo", multiple=False, hide_results=False,
                    end_time=None, options=("Monday", "Tuesday", "Friday")) -> Poll:
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.local_actor(s, "lyon")
        discussion = await discussions.by_slug(s, lyon, where) if where else None
        return await poll_service.create(s, node.uris, lyon, lyon, "<p>Which day for the market?</p>",
                                         list(options), multiple=multiple, hide_results=hide_results,
                                         end_time=end_time, discussion=discussion)


async def option_ids(node, poll: Poll) -> dict[str, int]:
    async with node.rt.sessions() as s:
        return {o.name: o.id for o in await s.scalars(select(PollOption).where(PollOption.poll_id == poll.id))}


async def signed_in(make_browser, handle: str) -> Browser:
    browser = make_browser("en")
    assert (await browser.login(handle)).status == 303
    return browser


def path(node, url: str) -> str:
    assert url.startswith(node.base), url
    return url[len(node.base):]


async def vote(browser: Browser, node, poll: Poll, fields: dict, *, back: str = "poll"):
    target = path(node, poll.ap_id)
    return await browser.post(f"{target}/vote", {"back": back, **fields}, form_page=target)


async def counts(node, poll: Poll) -> tuple[dict[str, int], int]:
    async with node.rt.sessions() as s:
        kept = {o.name: o.votes_count for o in await s.scalars(select(PollOption).where(PollOption.poll_id == poll.id))}
        voters = await s.scalar(select(Poll.voters_count).where(Poll.id == poll.id))
        rows = await s.scalar(select(func.count()).select_from(PollVote).where(PollVote.poll_id == poll.id))
    assert sum(kept.values()) == rows
    return kept, voters


def counts_in(html: str) -> list[str]:
    """The counts a card writes: "<percent>% · <n> vote(s)"."""
    return re.findall(r'class="poll-count">([^<]*)<', html)


# -- hidden results: on no path until the poll closes ------------------------------------------------

async def test_hidden_results__shown_on_no_path_until_the_poll_closes(node, scene, make_browser):
    """A poll in a discussion and one of the organisation, both hiding their results, with votes:
    the discussion's page, the organisation's page, the poll's page (anonymous, a voter, the staff;
    asked twice, so the second answer may come from the page cache) and the AS2 Question at its id
    show the voters' count and no count of any option. Once the staff close them, every path shows
    the counts and percentages (the cached pages too)."""
    in_discussion = await make_poll(node, hide_results=True)
    of_org = await make_poll(node, where=None, hide_results=True)
    camille, maire = await signed_in(make_browser, "camille"), await signed_in(make_browser, "maire")
    dominique, anonymous = await signed_in(make_browser, "dominique"), make_browser("en")
    for poll in (in_discussion, of_org):
        ids = await option_ids(node, poll)
        assert (await vote(camille, node, poll, {"choice": ids["Monday"]})).status == 303
        assert (await vote(dominique, node, poll, {"choice": ids["Friday"]})).status == 303
        assert await counts(node, poll) == ({"Monday": 1, "Tuesday": 0, "Friday": 1}, 2)
    pages = (DISCUSSION, ORGANISATION, path(node, in_discussion.ap_id), path(node, of_org.ap_id))

    async def look(closed: bool) -> None:
        for reader in (anonymous, camille, maire):
            for url in pages:
                for _time in range(2):
                    answer = await reader.get(url)
                    assert answer.status == 200, (url, answer.status)
                    assert "2 voters" in answer.text, url
                    if closed:
                        assert HIDDEN not in answer.text, url
                        assert "50% · 1 vote" in counts_in(answer.text) and "0% · 0 votes" in counts_in(answer.text)
                    else:
                        assert HIDDEN in answer.text and counts_in(answer.text) == [], url
                        assert "<meter" not in answer.text and "% ·" not in answer.text, url
        for poll in (in_discussion, of_org):
            answer = await anonymous.get(path(node, poll.ap_id), Accept=AS2)
            assert answer.status == 200 and answer.headers["Content-Type"].startswith(AS2)
            question = json.loads(answer.text)
            assert question["type"] == "Question" and question["votersCount"] == 2
            totals = {o["name"]: o.get("replies", {}).get("totalItems") for o in question["oneOf"]}
            assert totals == ({"Monday": 1, "Tuesday": 0, "Friday": 1} if closed else
                              {"Monday": None, "Tuesday": None, "Friday": None})
            assert ("closed" in question) == closed

    await look(closed=False)
    # The voter sees their own choice, never the others' counts.
    assert "You voted." in (await camille.get(DISCUSSION)).text
    assert "You voted." not in (await anonymous.get(DISCUSSION)).text
    for poll in (in_discussion, of_org):
        target = path(node, poll.ap_id)
        refused = await camille.post(f"{target}/close", {}, form_page=target)
        assert refused.status == 403
        assert (await maire.post(f"{target}/close", {}, form_page=target)).status == 303
    await look(closed=True)


# -- voting through the form ---------------------------------------------------------------------

async def test_vote__one_choice_through_the_form_then_a_second_vote_is_refused(node, scene, make_browser):
    """A radio-button vote without JavaScript goes back to the discussion; a second one is a 409 with its reason."""
    poll = await make_poll(node)
    ids = await option_ids(node, poll)
    camille = await signed_in(make_browser, "camille")
    page = await camille.get(DISCUSSION)
    assert 'type="radio"' in page.text and f'action="{poll.ap_id}/vote"' in page.text
    answer = await vote(camille, node, poll, {"choice": ids["Tuesday"]}, back="discussion")
    assert answer.status == 303 and answer.location.startswith(f"{node.base}{DISCUSSION}#poll-")
    again = await vote(camille, node, poll, {"choice": ids["Monday"]})
    assert again.status == 409 and "You have already voted in this poll." in again.text
    assert await counts(node, poll) == ({"Monday": 0, "Tuesday": 1, "Friday": 0}, 1)
    page = await camille.get(path(node, poll.ap_id))
    assert "You voted." in page.text and "Your choice" in page.text and "100% · 1 vote" in counts_in(page.text)
    french = await make_browser("fr").get(DISCUSSION)
    assert "Sondage" in french.text and "1 votant" in french.text and "100% · 1 voix" in counts_in(french.text)
    german = await make_browser("de").get(path(node, poll.ap_id))
    assert "Umfrage" in german.text and "1 Person hat abgestimmt" in german.text and "1 Stimme" in german.text


async def test_vote__several_choices_one_option_each_time(node, scene, make_browser):
    """Check boxes: several options at once, another later; an option chosen again is a 409 with its reason."""
    poll = await make_poll(node, multiple=True)
    ids = await option_ids(node, poll)
    eva = await signed_in(make_browser, "eva")
    assert 'type="checkbox"' in (await eva.get(path(node, poll.ap_id))).text
    first = await vote(eva, node, poll, {f"choice_{ids['Monday']}": "on", f"choice_{ids['Friday']}": "on"})
    assert first.status == 303
    assert (await vote(eva, node, poll, {f"choice_{ids['Tuesday']}": "on"})).status == 303
    again = await vote(eva, node, poll, {f"choice_{ids['Monday']}": "on"})
    assert again.status == 409 and "You have already chosen this option." in again.text
    assert await counts(node, poll) == ({"Monday": 1, "Tuesday": 1, "Friday": 1}, 1)


async def test_vote__refusals_answer_4xx_with_their_reason(node, scene, make_browser):
    """Anonymous: sent to log in; no option or another poll's option: 400; a closed poll: 409;
    no CSRF token: 403; a members-only discussion's poll: 404 to outsiders on every path."""
    poll = await make_poll(node)
    other = await make_poll(node, where=None)
    ids, others = await option_ids(node, poll), await option_ids(node, other)
    camille = await signed_in(make_browser, "camille")
    anonymous = make_browser("en")
    target = path(node, poll.ap_id)
    answer = await anonymous.post(f"{target}/vote", {"choice": ids["Monday"]}, form_page=target)
    assert answer.status == 303 and answer.location.startswith("/login")
    for fields in ({}, {"choice": ""}, {"choice": others["Monday"]}, {"choice": "x"}, {"choice": "99999999999"}):
        answer = await vote(camille, node, poll, fields)
        assert answer.status == 400 and "Choose one of the poll&#39;s options." in answer.text, fields
    answer = await camille.post(f"{target}/vote", {"choice": ids["Monday"], "csrf_token": "forged"})
    assert answer.status == 403
    async with transaction(node.rt.sessions) as s:
        await poll_service.close(s, await s.get(Poll, poll.id))
    answer = await vote(camille, node, poll, {"choice": ids["Monday"]})
    assert answer.status == 409 and "This poll is closed." in answer.text
    assert await counts(node, poll) == ({"Monday": 0, "Tuesday": 0, "Friday": 0}, 0)

    secret = await make_poll(node, where="budget")
    secret_ids = await option_ids(node, secret)
    target = path(node, secret.ap_id)
    for reader in (anonymous, camille):
        assert (await reader.get(target)).status == 404
        assert (await reader.get(target, Accept=AS2)).status == 404
    answer = await camille.post(f"{target}/vote", {"choice": secret_ids["Monday"]}, form_page=DISCUSSION)
    assert answer.status == 404
    maire = await signed_in(make_browser, "maire")
    assert (await maire.get(target)).status == 200
    assert (await vote(maire, node, secret, {"choice": secret_ids["Monday"]})).status == 303
    assert secret.ap_id not in (await camille.get(ORGANISATION)).text
    assert (await anonymous.get("/polls/no-such-poll")).status == 404
    assert (await anonymous.get("/polls/%00")).status in (400, 404)


async def test_vote__a_late_vote_is_refused_once_the_end_time_passed(node, scene, make_browser):
    """Past its end time a poll refuses a vote (409), even before the pass closes it."""
    poll = await make_poll(node)
    ids = await option_ids(node, poll)
    async with transaction(node.rt.sessions) as s:
        row = await s.get(Poll, poll.id)
        row.end_time = utcnow()
    camille = await signed_in(make_browser, "camille")
    answer = await vote(camille, node, poll, {"choice": ids["Monday"]})
    assert answer.status == 409 and "This poll is closed." in answer.text


# -- a remote poll addressed to the discussion ----------------------------------------------------------

async def test_remote_poll__shown_with_its_tallies_and_a_local_vote_goes_to_its_author(node, scene, make_browser):
    """A remote poll addressed to the discussion shows its server's tallies; a local vote is kept, queued for its author, and changes no tally here."""
    async with transaction(node.rt.sessions) as s:
        author = Actor(ap_id="https://fedify.example/users/asker", type="Person", local=False, username="asker",
                       domain="fedify.example", name="Asker", inbox="https://fedify.example/users/asker/inbox")
        s.add(author)
        await s.flush()
        lyon = await actors.local_actor(s, "lyon")
        poll = await poll_service.store_remote(
            s, "https://fedify.example/questions/7", author, content_html="<p>Tram or bus?</p>",
            options=[("Tram", 3), ("Bus", 1)], multiple=False, end_time=None, closed_at=None, voters_count=4,
            discussion=await discussions.by_slug(s, lyon, "velo"))
        tram = (await poll_service.options(s, poll))[0].id
    camille = await signed_in(make_browser, "camille")
    page = await camille.get(DISCUSSION)
    assert "Tram or bus?" in page.text and "75% · 3 votes" in counts_in(page.text) and "See it on its server" in page.text
    answer = await camille.post(f"/polls/remote/{poll.id}/vote", {"choice": tram, "back": "discussion"},
                                form_page=DISCUSSION)
    assert answer.status == 303, answer.text[:300]
    async with node.rt.sessions() as s:
        sent = [e.payload for e in await s.scalars(select(OutboxEvent).where(OutboxEvent.kind == poll_service.POLL_VOTED))]
        assert [p["poll_id"] for p in sent] == [poll.id]
        assert (await s.get(Poll, poll.id)).voters_count == 4  # its server's tallies, until it updates them
    page = await camille.get(DISCUSSION)
    assert "You voted." in page.text and "75% · 3 votes" in counts_in(page.text)
    again = await camille.post(f"/polls/remote/{poll.id}/vote", {"choice": tram}, form_page=DISCUSSION)
    assert again.status == 409
    assert (await camille.post("/polls/remote/abc/vote", {"choice": tram}, form_page=DISCUSSION)).status == 404


async def test_followed_poll__the_staff_see_a_followed_organisations_poll_with_its_tallies(node, scene, make_browser):
    """A Question from an organisation Lyon follows (addressed to no discussion here) shows to
    Lyon's staff on its page, with the tallies its server last sent, and no vote form; nobody else
    sees it, and an update of its tallies shows at once."""
    async with transaction(node.rt.sessions) as s:
        paris = Actor(ap_id="https://paris.example/actors/paris", type="Organization", local=False,
                      username="paris", domain="paris.example", name="Ville de Paris",
                      inbox="https://paris.example/actors/paris/inbox")
        s.add(paris)
        await s.flush()
        follow = await follows.request_follow(s, node.uris, await actors.local_actor(s, "lyon"), paris)
        follow.state = "accepted"
        poll = await poll_service.store_remote(
            s, "https://paris.example/polls/1", paris, content_html="<p>Quel jour pour le marché ?</p>",
            options=[("Lundi", 2), ("Mardi", 1)], multiple=False, end_time=None, closed_at=None,
            voters_count=3, discussion=None)
    maire, camille = await signed_in(make_browser, "maire"), await signed_in(make_browser, "camille")
    page = await maire.get(ORGANISATION)
    assert "Quel jour pour le marché ?" in page.text and "67% · 2 votes" in counts_in(page.text)
    assert f"/polls/remote/{poll.id}/vote" not in page.text and "See it on its server" in page.text
    for reader in (camille, make_browser("en")):
        assert "Quel jour pour le marché ?" not in (await reader.get(ORGANISATION)).text
    async with transaction(node.rt.sessions) as s:
        await poll_service.store_remote(
            s, "https://paris.example/polls/1", await s.get(Actor, paris.id), content_html="<p>Quel jour pour le marché ?</p>",
            options=[("Lundi", 2), ("Mardi", 2)], multiple=False, end_time=None, closed_at=None,
            voters_count=4, discussion=None)
    page = await maire.get(ORGANISATION)
    assert counts_in(page.text).count("50% · 2 votes") == 2 and "4 voters" in page.text
    answer = await maire.post(f"/polls/remote/{poll.id}/vote", {"choice": "1"}, form_page=ORGANISATION)
    assert answer.status == 404


async def test_coalition__a_coalitions_poll_on_its_page_voted_in_by_its_readers(node, scene, make_browser):
    """A coalition hosted here asks a poll (its admins, through the same form): it shows on the
    coalition's page, residents vote in it there, and a members-only coalition's poll is nobody
    else's (the 404 of a missing page)."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.local_actor(s, "lyon")
        await coalitions.create(s, node.uris, "blue", "Coalition bleue", founder=lyon, languages=["fr"])
        await coalitions.create(s, node.uris, "secret", "Coalition secrète", founder=lyon, languages=["fr"],
                                visibility_level="members")
    maire, camille = await signed_in(make_browser, "maire"), await signed_in(make_browser, "camille")
    made = {}
    for handle in ("blue", "secret"):
        form = f"/orgs/{handle}/polls/new"
        answer = await maire.post(form, {"question": f"Which beach, {handle}?", "options": "North\nSouth"})
        assert answer.status == 303, answer.text[:300]
        made[handle] = answer.location
    page = await camille.get("/actors/blue")
    assert "Which beach, blue?" in page.text and f'action="{made["blue"]}/vote"' in page.text
    async with node.rt.sessions() as s:
        blue_poll = await poll_service.by_ap_id(s, made["blue"])
        assert blue_poll.visibility == "public" and blue_poll.author_id == blue_poll.organization_id
        south = (await poll_service.options(s, blue_poll))[1].id
    answer = await camille.post(f"{path(node, made['blue'])}/vote", {"choice": south, "back": "organisation"},
                                form_page="/actors/blue")
    assert answer.status == 303 and answer.location.startswith(f"{node.base}/actors/blue#poll-")
    assert "You voted." in (await camille.get("/actors/blue")).text
    assert (await camille.get(path(node, made["secret"]))).status == 404
    assert (await make_browser("en").get(path(node, made["secret"]), Accept=AS2)).status == 404
    assert "Which beach, secret?" in (await maire.get("/actors/secret")).text


# -- the staff's form ----------------------------------------------------------------------------------

async def test_create__the_staff_ask_a_poll_residents_cannot(node, scene, make_browser):
    """The staff's form makes a poll in a discussion (one option per line); each bad field comes back with its reason; residents get a 403."""
    modo = await signed_in(make_browser, "modo")
    form = "/orgs/lyon/polls/new"
    assert (await modo.get(form)).status == 200
    answer = await modo.post(form, {"question": "Which colour for the benches?", "options": "Green\nBlue\n\nRed",
                                    "kind": "any", "hide_results": "on", "discussion": "velo",
                                    "end_time": "2099-01-01T12:00"})
    assert answer.status == 303 and "/polls/" in answer.location
    async with node.rt.sessions() as s:
        poll = await poll_service.by_ap_id(s, answer.location)
        assert poll.multiple and poll.hide_results and poll.discussion_id is not None
        assert poll.end_time.year == 2099 and [o.name for o in await poll_service.options(s, poll)] == \
            ["Green", "Blue", "Red"]
    assert "Which colour for the benches?" in (await modo.get(DISCUSSION)).text
    for page in (DISCUSSION, ORGANISATION):
        assert "/orgs/lyon/polls/new" in (await modo.get(page)).text
        assert "/orgs/lyon/polls/new" not in (await make_browser("en").get(page)).text
    for fields, message in (({"question": "Q", "options": "Only one"}, "different options"),
                            ({"question": "", "options": "a\nb"}, "Write the question."),
                            ({"question": "Q", "options": "a\nA"}, "different options"),
                            ({"question": "Q", "options": "a\nb", "end_time": "2001-01-01T00:00"}, "in the future"),
                            ({"question": "Q", "options": "a\nb", "end_time": "tomorrow"}, "a date and a time"),
                            ({"question": "Q", "options": "a\nb", "end_time": "9999-12-31T23:59-05:00"}, "a date"),
                            ({"question": "Q", "options": "a\nb", "end_time": "0001-01-01T00:00+05:00"}, "a date"),
                            ({"question": "Q\x00", "options": "a\nb"}, "Check the question"),
                            ({"question": "Q", "options": "a\x00\nb"}, "different options"),
                            ({"question": "Q", "options": "a\nb", "discussion": "nope\x00"}, "discussions"),
                            ({"question": "Q", "options": "a\nb", "discussion": "nope"}, "discussions")):
        answer = await modo.post(form, fields)
        assert answer.status == 400 and message in answer.text, (fields, answer.status)
    camille = await signed_in(make_browser, "camille")
    assert (await camille.get(form)).status == 403
    assert (await camille.post(form, {"question": "Q", "options": "a\nb"}, form_page="/")).status == 403


# -- hostile input, fuzzed ---------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(st.sampled_from(["choice", "choice_1", "choice_2", "choice_99", "back", "question",
                                               "options", "kind", "end_time", "discussion", "hide_results"]),
                              TEXT, max_size=6))
async def test_fuzz__poll_forms_answer_4xx_or_a_redirect_never_a_500(node, scene, make_browser, shared, fields):
    """Any fields posted to the vote, close and create forms: a redirect or a 4xx, never a 500, the counts equal to the rows."""
    modo = await _fuzz_browser(make_browser, shared)
    polls = await _fuzz_polls(node, shared)
    for url in (*(f"{path(node, p.ap_id)}/vote" for p in polls), "/orgs/lyon/polls/new",
                f"{path(node, polls[0].ap_id)}/close", f"/polls/remote/{polls[0].id}/vote"):
        answer = await modo.post(url, fields, form_page="/")
        assert answer.status in (303, 400, 403, 404, 409, 413), (url, fields, answer.status, answer.text[:300])
        assert "Traceback" not in answer.text
    for poll in polls:
        await counts(node, poll)


@pytest.fixture
def shared():
    """What the examples of one fuzzing test share: hypothesis runs them all within one test's
    fixtures (the node, the browsers), so the polls and the signed-in browser are made once."""
    return {}


async def _fuzz_polls(node, shared: dict) -> list[Poll]:
    if "polls" not in shared:
        shared["polls"] = [await make_poll(node), await make_poll(node, multiple=True, hide_results=True)]
    return shared["polls"]


async def _fuzz_browser(make_browser, shared: dict) -> Browser:
    if "modo" not in shared:
        shared["modo"] = await signed_in(make_browser, "modo")
    return shared["modo"]


# -- visibility on every path ------------------------------------------------------------------------

LEVELS = ("public", "unlisted", "followers", "members")


async def test_visibility__a_poll_is_read_and_voted_in_only_by_the_readers_its_level_admits(node, scene, make_browser):
    """A poll in a discussion at each level × anonymous, an outsider, a follower, a member and the
    staff × its page, its AS2 document, its discussion's page and its vote form: what
    node/visibility.py admits is read (and voted in), anything else answers exactly the 404 of a
    made-up poll (SECURITY.md rule 24)."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.local_actor(s, "lyon")
        for level in LEVELS[1:]:
            await discussions.open_discussion(s, node.uris, lyon, f"at-{level}", {"en": level}, visibility=level)
        eva = await actors.local_actor(s, "eva")
        await follows.request_follow(s, node.uris, eva, lyon)
        dominique = await actors.user_by_username(s, "dominique")
        await actors.add_member(s, dominique, lyon, "member")
    made = {}
    for level in LEVELS:
        made[level] = await make_poll(node, where="velo" if level == "public" else f"at-{level}",
                                      options=(f"Yes {level}", "No"))
    readers = {"anonymous": make_browser("en")}
    for handle in ("camille", "eva", "dominique", "maire"):
        readers[handle] = await signed_in(make_browser, handle)
    admitted = {"anonymous": {"public", "unlisted"}, "camille": {"public", "unlisted"},
                "eva": {"public", "unlisted", "followers"}, "dominique": set(LEVELS), "maire": set(LEVELS)}
    for name, reader in readers.items():
        made_up = "/polls/0123456789abcdef0123456789abcdef"
        missing = await reader.get(made_up)
        assert missing.status == 404
        for level, poll in made.items():
            target = path(node, poll.ap_id)
            answer = await reader.get(target)
            page = await reader.get(DISCUSSION if level == "public" else f"/orgs/lyon/discussions/at-{level}")
            if level in admitted[name]:
                assert answer.status == 200 and f"Yes {level}" in answer.text, (name, level)
                assert page.status == 200 and f"Yes {level}" in page.text, (name, level)
            else:
                # The same page, but for the address itself (the log-in link returns to it).
                assert (answer.status, answer.text.replace(target, made_up)) == (404, missing.text), (name, level)
                assert page.status == 404 and f"Yes {level}" not in page.text, (name, level)
            if name == "anonymous":
                document = await reader.get(target, Accept=AS2)
                assert document.status == (200 if level in ("public", "unlisted") else 404), level
                continue
            ids = await option_ids(node, poll)
            voted = await vote(reader, node, poll, {"choice": ids["No"]}, back="discussion")
            assert voted.status == (303 if level in admitted[name] else 404), (name, level, voted.status)
    for level, poll in made.items():
        expected = sum(level in levels for name, levels in admitted.items() if name != "anonymous")
        assert await counts(node, poll) == ({f"Yes {level}": 0, "No": expected}, expected)


MOMENTS = st.one_of(TEXT, st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
                    st.builds(lambda d, h: f"{d.isoformat(timespec='minutes')}{h:+03d}:00",
                              st.datetimes(), st.integers(-23, 23)))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(question=TEXT, options=st.lists(TEXT, max_size=25), end_time=MOMENTS,
       kind=st.sampled_from(["one", "any", "", "x"]), discussion=st.sampled_from(["", "velo", "budget", "no\x00pe", "é"]),
       hide=st.booleans())
async def test_fuzz__the_poll_form_makes_a_poll_or_says_why_never_a_500(
        node, scene, make_browser, shared, question, options, end_time, kind, discussion, hide):
    """Forms close to valid ones (any question, options, end time, kind, place): a poll made
    (303), or 400 with the form and its errors."""
    modo = await _fuzz_browser(make_browser, shared)
    fields = {"question": question, "options": "\n".join(options), "end_time": end_time, "kind": kind,
              "discussion": discussion, **({"hide_results": "on"} if hide else {})}
    answer = await modo.post("/orgs/lyon/polls/new", fields, form_page="/orgs/lyon/polls/new")
    assert answer.status in (303, 400), (fields, answer.status, answer.text[:300])
    if answer.status == 400:
        assert "The form has errors" in answer.text
