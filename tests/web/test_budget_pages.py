"""Participatory budget pages with the real app: every page for anonymous visitors, residents,
verified members and admins; the knapsack and approval ballots (with the no-JavaScript
"recalculate" path), districts, refusals answered with a 4xx and their reason in the page, the
admins' screens from creation to the published results, the Pabulib export, members-level
visibility on every path, and fuzzed forms that never get a 500."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from node.db import transaction
from node.models import Actor, Ballot, Budget, BudgetProject, User
from node.services import actors, budget_ballots, budget_projects, membership, pabulib
from node.services import budgets as budget_service
from tests.web.conftest import PASSWORD, Browser

AS2 = "application/activity+json"


def token(ap_id: str) -> str:
    return ap_id.rstrip("/").rsplit("/", 1)[-1]


def path(node, url: str) -> str:
    return url[len(node.base):] if url.startswith(node.base) else url


async def signed_in(make_browser, handle: str) -> Browser:
    browser = make_browser("en")
    assert (await browser.login(handle)).status == 303
    return browser


async def user(s, handle: str) -> User:
    return await actors.user_by_username(s, handle)


async def make_budget(node, slug: str, projects: list[tuple[str, int, bool]], *, phase: str = "voting",
                      districts=(), project_districts=None, **options) -> tuple[str, dict[str, int]]:
    """A budget of Lyon with ``projects`` (title, cost, feasible) proposed by camille and reviewed
    by the admin, moved to ``phase``. Returns (budget ap_id, {title: project id})."""
    ids = {}
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.require_local_actor(s, "lyon", "Organization")
        budget = await budget_service.create(s, node.uris, lyon, slug, {"en": f"Budget {slug}", "fr": f"Budget {slug}"},
                                             10_000, districts=districts, **options)
        await budget_service.set_phase(s, budget, "proposing")
        camille = (await user(s, "camille")).actor
        maire = await user(s, "maire")
        for index, (title, cost, feasible) in enumerate(projects):
            district = (project_districts or {}).get(title)
            project = await budget_projects.propose(s, node.uris, budget, camille, title, f"<p>{title} for all</p>",
                                                   cost=cost, district=district)
            await budget_projects.review(s, project, feasible=feasible, reason="Checked by the services",
                                        cost_estimate=None, by=maire)
            ids[title] = project.id
            del index
        if phase != "proposing":
            for step in ("reviewing", "voting", "results", "implementation"):
                await budget_service.set_phase(s, budget, step)
                if step == phase:
                    break
        return budget.ap_id, ids


@pytest.fixture
async def city(node):
    """Lyon (admin ``maire``), the verified members ``vera`` and ``victor``, the resident
    ``camille`` (not verified, proposes the projects) and ``dominique`` (not verified)."""
    async with transaction(node.rt.sessions) as s:
        lyon = await actors.create_organization(s, node.uris, "lyon", "Ville de Lyon")
        maire = await actors.create_user(s, node.uris, "maire", PASSWORD, "La maire")
        await actors.add_member(s, maire, lyon, "admin")
        for handle in ("vera", "victor", "camille", "dominique"):
            person = await actors.create_user(s, node.uris, handle, PASSWORD, handle.title())
            if handle in ("vera", "victor"):
                await membership.admit(s, lyon, person, maire, note="census 2026")
    return lyon


@pytest.fixture
async def parks(node, city):
    """The knapsack budget ``parks`` (€10,000) in its voting phase: Trees €6,000, Benches €4,000,
    Fountain €3,000 (feasible), Zoo €9,000 (not feasible)."""
    return await make_budget(node, "parks", [("Trees", 6000, True), ("Benches", 4000, True),
                                             ("Fountain", 3000, True), ("Zoo", 9000, False)])


async def votes(node) -> dict[str, int]:
    async with node.rt.sessions() as s:
        return dict((await s.execute(select(BudgetProject.title, BudgetProject.votes_count))).all())


async def ballots(node) -> int:
    async with node.rt.sessions() as s:
        return await s.scalar(select(func.count()).select_from(Ballot))


def ticks(ids: dict[str, int], *titles: str) -> dict[str, str]:
    return {f"project_{ids[t]}": "on" for t in titles}


def checked(page_text: str, project_id: int) -> bool:
    match = re.search(rf'<input type="checkbox" id="project-{project_id}"[^>]*>', page_text)
    assert match, f"no checkbox for project {project_id}"
    return " checked" in match.group(0)


# -- every page, for everyone ----------------------------------------------------------------------

async def test_budget_pages__every_page_for_anonymous_resident_verified_and_admin(node, city, parks, make_browser):
    """Anonymous readers see the public pages; forms send them to log in; a resident sees why they
    cannot vote and how to get verified; a verified member gets the ballot; the admin gets the
    admin screens, the results preview and the Pabulib file; nobody else does."""
    budget, ids = parks
    async with node.rt.sessions() as s:
        project = await s.get(BudgetProject, ids["Trees"])
    anonymous = make_browser("en")
    index = await anonymous.get("/orgs/lyon/budgets")
    assert index.status == 200 and "Budget parks" in index.text
    page = await anonymous.get(path(node, budget))
    assert page.status == 200
    for text in ("Budget parks", "€10,000", "Trees", "€6,000", "Feasible", "Not feasible", 'aria-current="step"',
                 "Voting"):
        assert text in page.text, text
    assert "Accept" in page.headers.get("Vary", "")
    project_page = await anonymous.get(path(node, project.ap_id))
    assert project_page.status == 200 and "Trees for all" in project_page.text
    assert "Checked by the services" in project_page.text and "Log in to comment" in project_page.text
    assert (await anonymous.get(path(node, budget) + "/results")).status == 404
    for url in ("/ballot", "/projects/new"):
        answer = await anonymous.get(path(node, budget) + url)
        assert answer.status == 303 and answer.location.startswith("/login"), url
    assert (await anonymous.get("/orgs/lyon/admin/budgets")).status == 303
    assert (await anonymous.get(path(node, budget) + "/pabulib.pb")).status == 303

    resident = await signed_in(make_browser, "dominique")
    ballot = await resident.get(path(node, budget) + "/ballot")
    assert ballot.status == 403
    assert "Only verified members of the organisation can vote." in ballot.text
    assert "/orgs/lyon/verify" in ballot.text and 'id="ballot"' not in ballot.text
    assert (await resident.get("/orgs/lyon/admin/budgets")).status == 404
    assert (await resident.get("/orgs/lyon/admin/budgets/parks")).status == 404
    assert (await resident.get(path(node, budget) + "/pabulib.pb")).status == 403
    assert (await resident.get(path(node, budget) + "/results")).status == 404
    proposing = await resident.get(path(node, budget) + "/projects/new")
    assert proposing.status == 403 and "only in the proposing phase" in proposing.text

    verified = await signed_in(make_browser, "vera")
    ballot = await verified.get(path(node, budget) + "/ballot")
    assert ballot.status == 200 and 'id="ballot"' in ballot.text
    assert "Zoo" not in ballot.text  # not feasible: not on the ballot
    assert 'data-cost="6000"' in ballot.text and "/static/ballot.js" in ballot.text

    admin = await signed_in(make_browser, "maire")
    for url in ("/orgs/lyon/admin/budgets", "/orgs/lyon/admin/budgets/parks"):
        assert (await admin.get(url)).status == 200, url
    preview = await admin.get(path(node, budget) + "/results")
    assert preview.status == 200 and "Preview" in preview.text and preview.headers["Cache-Control"] == "no-store"
    export = await admin.get(path(node, budget) + "/pabulib.pb")
    assert export.status == 200 and export.headers["Cache-Control"] == "no-store"
    instance = pabulib.read(export.text)
    assert instance.meta["budget"] == "10000" and len(instance.projects) == 3


# -- the knapsack ballot ---------------------------------------------------------------------------

async def test_ballot__a_verified_member_casts_a_knapsack_ballot_then_changes_it(node, city, parks, make_browser):
    """Cast: 303 to the ballot page saying it is recorded and until when it can change; the votes
    count; casting again replaces it (one ballot, the counts moved)."""
    budget, ids = parks
    vera = await signed_in(make_browser, "vera")
    answer = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Trees", "Benches")})
    assert answer.status == 303, answer.text[:500]
    done = await vera.get(path(node, answer.location))
    assert done.status == 200 and "Your ballot is recorded; you can change it until" in done.text
    assert checked(done.text, ids["Trees"]) and checked(done.text, ids["Benches"])
    assert not checked(done.text, ids["Fountain"])
    assert (await votes(node))["Trees"] == 1 and await ballots(node) == 1
    answer = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Fountain")})
    assert answer.status == 303
    counts = await votes(node)
    assert (counts["Trees"], counts["Benches"], counts["Fountain"]) == (0, 0, 1) and await ballots(node) == 1


async def test_ballot__without_javascript_recalculate_shows_the_total_and_keeps_the_choices(
        node, city, parks, make_browser):
    """The "recalculate" button answers the page with the total against the budget, what is left,
    the rule's problem when there is one, and the boxes as ticked; nothing is cast."""
    budget, ids = parks
    vera = await signed_in(make_browser, "vera")
    fits = await vera.post(path(node, budget) + "/ballot", {"action": "recalculate", **ticks(ids, "Trees", "Fountain")})
    assert fits.status == 200
    assert re.search(r'id="ballot-total"[^>]*>€9,000</output>', fits.text)
    assert re.search(r'id="ballot-left">€1,000<', fits.text)
    assert "Your choices follow the rules" in fits.text
    assert checked(fits.text, ids["Trees"]) and checked(fits.text, ids["Fountain"]) and not checked(fits.text, ids["Benches"])
    over = await vera.post(path(node, budget) + "/ballot",
                           {"action": "recalculate", **ticks(ids, "Trees", "Benches", "Fountain")})
    assert over.status == 200 and re.search(r'id="ballot-total"[^>]*>€13,000</output>', over.text)
    assert "The projects you chose cost €13,000: more than the €10,000 available." in over.text
    assert all(checked(over.text, ids[t]) for t in ("Trees", "Benches", "Fountain"))
    assert await ballots(node) == 0


async def test_ballot__refusals_are_4xx_with_the_reason_in_the_page(node, city, parks, make_browser):
    """Over the budget (400), nothing chosen (400), a project not on the ballot (400), not
    eligible (403), outside the voting phase (403): each says why, and no ballot is stored."""
    budget, ids = parks
    vera = await signed_in(make_browser, "vera")
    over = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Trees", "Benches", "Fountain")})
    assert over.status == 400 and "more than the €10,000 available" in over.text
    assert checked(over.text, ids["Benches"])  # the choices are kept
    empty = await vera.post(path(node, budget) + "/ballot", {"action": "cast"})
    assert empty.status == 400 and "Choose at least one project." in empty.text
    unfeasible = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Zoo")})
    assert unfeasible.status == 400 and "A project you chose is not on this ballot." in unfeasible.text
    dominique = await signed_in(make_browser, "dominique")
    refused = await dominique.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Trees")})
    assert refused.status == 403 and "Only verified members of the organisation can vote." in refused.text
    assert await ballots(node) == 0
    async with transaction(node.rt.sessions) as s:
        row = await s.scalar(select(Budget).where(Budget.slug == "parks"))
        await budget_service.set_phase(s, row, "results")
    late = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Trees")})
    assert late.status == 403 and "Voting is not open" in late.text
    assert (await vera.get(path(node, budget) + "/ballot")).status == 403
    assert await ballots(node) == 0


async def test_ballot__a_fediverse_account_cannot_get_a_ballot_page(node, city, parks, make_browser):
    """A ballot is no object: an AS2 request of the ballot address (what a fediverse server
    sends) is a 404 without the form, and the service refuses a fediverse actor with its reason."""
    budget, _ids = parks
    anonymous = await make_browser("en").get(path(node, budget) + "/ballot", Accept=AS2)
    assert anonymous.status == 404 and 'id="ballot"' not in anonymous.text
    vera = await signed_in(make_browser, "vera")
    answer = await vera.get(path(node, budget) + "/ballot", Accept=AS2)
    assert answer.status == 404 and 'id="ballot"' not in answer.text
    async with transaction(node.rt.sessions) as s:
        alice = Actor(ap_id="https://elsewhere.example/users/alice", type="Person", local=False, username="alice",
                      domain="elsewhere.example", inbox="https://elsewhere.example/users/alice/inbox")
        s.add(alice)
        await s.flush()
        row = await s.scalar(select(Budget).where(Budget.slug == "parks"))
        assert await budget_ballots.may_vote(s, row, alice) == budget_ballots.FEDIVERSE_BALLOT


# -- approval ballots and districts ----------------------------------------------------------------

async def test_ballot__approval_between_the_minimum_and_the_maximum(node, city, make_browser):
    budget, ids = await make_budget(node, "schools", [("Library", 2000, True), ("Gym", 8000, True),
                                                      ("Garden", 1000, True)],
                                    rule="approval", min_projects=2, max_projects=2)
    vera = await signed_in(make_browser, "vera")
    page = await vera.get(path(node, budget) + "/ballot")
    assert page.status == 200 and "Approve between 2 and 2 projects." in page.text and 'data-rule="approval"' in page.text
    too_many = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Library", "Gym", "Garden")})
    assert too_many.status == 400 and "Choose at most 2 projects." in too_many.text
    too_few = await vera.post(path(node, budget) + "/ballot", {"action": "recalculate", **ticks(ids, "Gym")})
    assert too_few.status == 200 and "Choose at least 2 projects." in too_few.text and checked(too_few.text, ids["Gym"])
    answer = await vera.post(path(node, budget) + "/ballot", {"action": "cast", **ticks(ids, "Library", "Gym")})
    assert answer.status == 303 and (await votes(node))["Gym"] == 1


async def test_ballot__with_districts_the_district_is_chosen_first(node, city, make_browser):
    districts = [("north", {"en": "North"}, 5000), ("south", {"en": "South"}, 3000)]
    budget, ids = await make_budget(node, "areas", [("Square", 4000, True), ("Bridge", 2500, True)],
                                    districts=districts,
                                    project_districts={"Square": "north", "Bridge": "south"})
    victor = await signed_in(make_browser, "victor")
    first = await victor.get(path(node, budget) + "/ballot")
    assert first.status == 200 and "First choose your district" in first.text and 'id="ballot"' not in first.text
    south = await victor.get(path(node, budget) + "/ballot?district=south")
    assert "Bridge" in south.text and "Square" not in south.text and "€3,000" in south.text
    over = await victor.post(path(node, budget) + "/ballot",
                             {"action": "cast", "district": "south", **ticks(ids, "Square")})
    assert over.status == 400 and "A project you chose is not on this ballot." in over.text
    answer = await victor.post(path(node, budget) + "/ballot",
                               {"action": "cast", "district": "south", **ticks(ids, "Bridge")})
    assert answer.status == 303 and "district=south" in answer.location
    again = await victor.get(path(node, budget) + "/ballot")  # the ballot's district, without asking
    assert checked(again.text, ids["Bridge"])


# -- proposing, supporting and commenting ---------------------------------------------------------

async def test_propose__a_resident_proposes_a_project_in_the_proposing_phase(node, city, make_browser):
    budget, _ids = await make_budget(node, "ideas", [], phase="proposing",
                                     districts=[("east", {"en": "East"}, 4000)])
    dominique = await signed_in(make_browser, "dominique")
    form = await dominique.get(path(node, budget) + "/projects/new")
    assert form.status == 200 and 'name="district"' in form.text
    no_district = await dominique.post(path(node, budget) + "/projects/new",
                                       {"title": "A skate park", "body": "For the teenagers.", "cost": "3000"})
    assert no_district.status == 400 and "Choose the district of the project." in no_district.text
    bad_cost = await dominique.post(path(node, budget) + "/projects/new",
                                    {"title": "A skate park", "body": "For the teenagers.", "cost": "-5", "district": "east"})
    assert bad_cost.status == 400 and "whole number" in bad_cost.text
    answer = await dominique.post(path(node, budget) + "/projects/new",
                                  {"title": "A skate park", "body": "For the teenagers.", "cost": "3000", "district": "east"})
    assert answer.status == 303 and "/projects/" in answer.location
    page = await dominique.get(path(node, answer.location))
    assert page.status == 200 and "A skate park" in page.text and "East" in page.text and "Not reviewed yet" in page.text
    assert "You cannot support your own project." in page.text


async def test_project__supports_and_comments(node, city, parks, make_browser):
    budget, ids = parks
    async with node.rt.sessions() as s:
        project = await s.get(BudgetProject, ids["Benches"])
    url = path(node, project.ap_id)
    vera = await signed_in(make_browser, "vera")
    answer = await vera.post(url + "/support", {}, form_page=url)
    assert answer.status == 303 and answer.location.endswith("#supports")
    page = await vera.get(url)
    assert "1 support" in page.text and 'aria-pressed="true"' in page.text
    empty = await vera.post(url + "/comments", {"comment": "  "}, form_page=url)
    assert empty.status == 400 and "Write your comment." in empty.text
    answer = await vera.post(url + "/comments", {"comment": "Yes, near the <b>river</b>."}, form_page=url)
    assert answer.status == 303 and "#comment-" in answer.location
    page = await make_browser("en").get(url)
    assert "Yes, near the &lt;b&gt;river&lt;/b&gt;." in page.text and "1 comment" in page.text
    camille = await signed_in(make_browser, "camille")  # the author
    own = await camille.post(url + "/support", {}, form_page=url)
    assert own.status == 409 and "You cannot support this project" in own.text
    assert (await vera.post(url + "/support", {}, form_page=url)).status == 303  # withdrawn again
    assert "0 supports" in (await vera.get(url)).text


# -- the admins' screens -------------------------------------------------------------------------

async def test_admin__create_move_review_publish_and_record_progress(node, city, make_browser):
    """From the admin screens: a budget with a bad field comes back with its reason (400); a good
    one is created; projects proposed are reviewed; the vote; results published (an SVG chart,
    winners within the budget); the implementation's progress shows on the project."""
    maire = await signed_in(make_browser, "maire")
    form = "/orgs/lyon/admin/budgets"
    fields = {"slug": "green", "title_en": "Green Lyon", "description_en": "Greener streets.", "amount": "5000",
              "currency": "eur", "rule": "knapsack", "result_method": "greedy", "visibility": "public",
              "verified_only": "on", "min_share": "", "districts": ""}
    bad = await maire.post(form, {**fields, "amount": "lots", "currency": "EURO"})
    assert bad.status == 400 and "Give a whole number between 1 and" in bad.text and "three letters" in bad.text
    answer = await maire.post(form, fields)
    assert answer.status == 303 and answer.location == "/orgs/lyon/admin/budgets/green", answer.text[:500]
    manage = answer.location
    assert (await maire.post(form, fields)).status == 409  # the same short name again
    assert (await maire.post(manage + "/phase", {"phase": "proposing"}, form_page=manage)).status == 303
    async with transaction(node.rt.sessions) as s:
        budget = await s.scalar(select(Budget).where(Budget.slug == "green"))
        camille = (await user(s, "camille")).actor
        made = [await budget_projects.propose(s, node.uris, budget, camille, title, "<p>x</p>", cost=cost)
                for title, cost in (("Hedges", 3000), ("Ponds", 2500), ("Moss", 1000))]
        budget_ap_id = budget.ap_id
    review = f"{manage}/projects/{made[0].id}/review"
    no_reason = await maire.post(review, {"feasibility": "unfeasible", "reason": ""}, form_page=manage)
    assert no_reason.status == 400 and "Say why the project is not feasible." in no_reason.text
    for project in made:
        answer = await maire.post(f"{manage}/projects/{project.id}/review",
                                  {"feasibility": "feasible", "reason": "Fine", "cost_estimate": ""}, form_page=manage)
        assert answer.status == 303, answer.text[:300]
    back = await maire.post(manage + "/phase", {"phase": "informing"}, form_page=manage)
    assert back.status == 400 and "A budget cannot go back to an earlier phase." in back.text
    assert (await maire.post(manage + "/phase", {"phase": "voting", "voting_ends_at": "2099-01-01T12:00"},
                             form_page=manage)).status == 303
    for handle, choice in (("vera", ("Hedges", "Moss")), ("victor", ("Ponds", "Moss"))):
        voter = await signed_in(make_browser, handle)
        ticks_ = {f"project_{p.id}": "on" for p in made if p.title in choice}
        assert (await voter.post(path(node, budget_ap_id) + "/ballot", {"action": "cast", **ticks_})).status == 303
    published = await maire.post(manage + "/results", {}, form_page=manage)
    assert published.status == 303 and published.location.endswith("/results")
    results = await make_browser("en").get(path(node, budget_ap_id) + "/results")
    assert results.status == 200 and "<svg" in results.text and 'role="img"' in results.text
    assert "Most votes within the budget" in results.text and "2 projects selected" in results.text
    # Moss (2 votes) first, then the tie at one vote goes to the cheaper Ponds; Hedges no longer fits.
    assert re.search(r"Spent</dt><dd><span class=\"number\">€3,500", results.text)
    assert re.search(r'<tr class="selected">\s*<th scope="row"><a href="[^"]+">Ponds</a>', results.text)
    assert (await maire.post(manage + "/results", {}, form_page=manage)).status == 409
    assert (await maire.post(manage + "/phase", {"phase": "implementation"}, form_page=manage)).status == 303
    moss = f"{manage}/projects/{made[2].id}/progress"
    assert (await maire.post(moss, {"progress": "150"}, form_page=manage)).status == 400
    assert (await maire.post(moss, {"progress": "40", "note": "Planted in March."}, form_page=manage)).status == 303
    page = await make_browser("en").get(path(node, made[2].ap_id))
    assert "40 % done" in page.text and "Planted in March." in page.text


# -- visibility ----------------------------------------------------------------------------------

async def test_visibility__a_members_budget_is_for_members_on_every_path(node, city, make_browser):
    budget, ids = await make_budget(node, "secret", [("Hidden", 1000, True)], visibility="members")
    async with node.rt.sessions() as s:
        project = await s.get(BudgetProject, ids["Hidden"])
    paths = [path(node, budget), path(node, project.ap_id), path(node, budget) + f"/projects/{project.id}",
             path(node, budget) + "/results"]
    for who in (make_browser("en"), await signed_in(make_browser, "dominique")):
        for url in paths:
            answer = await who.get(url)
            assert answer.status == 404 and "Hidden" not in answer.text, url
        assert "Budget secret" not in (await who.get("/orgs/lyon/budgets")).text
        assert (await who.get(path(node, budget), Accept=AS2)).status == 404
    dominique_ballot = await (await signed_in(make_browser, "dominique")).get(path(node, budget) + "/ballot")
    assert dominique_ballot.status == 404
    vera = await signed_in(make_browser, "vera")  # a member
    assert (await vera.get(path(node, budget))).status == 200
    assert "Budget secret" in (await vera.get("/orgs/lyon/budgets")).text
    assert (await vera.get(path(node, budget) + "/ballot")).status == 200


# -- hostile input, fuzzed -------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
NAMES = st.sampled_from(["action", "district", "project_1", "project_2", "project_999999999999", "project_x",
                         "title", "body", "cost", "comment", "slug", "amount", "currency", "rule", "min_share",
                         "min_projects", "max_projects", "result_method", "visibility", "districts", "title_en",
                         "phase", "voting_ends_at", "feasibility", "reason", "cost_estimate", "progress", "note"])


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(fields=st.dictionaries(NAMES, TEXT, max_size=8))
async def test_fuzz__budget_forms_answer_4xx_or_a_redirect_never_a_500(node, city, parks, make_browser, fields):
    budget, ids = parks
    vera = await signed_in(make_browser, "vera")
    maire = await signed_in(make_browser, "maire")
    async with node.rt.sessions() as s:
        project = await s.get(BudgetProject, ids["Trees"])
    targets = [(vera, path(node, budget) + "/ballot"), (vera, path(node, budget) + "/projects/new"),
               (vera, path(node, project.ap_id) + "/comments"), (maire, "/orgs/lyon/admin/budgets"),
               (maire, "/orgs/lyon/admin/budgets/parks/phase"),
               (maire, f"/orgs/lyon/admin/budgets/parks/projects/{project.id}/review"),
               (maire, f"/orgs/lyon/admin/budgets/parks/projects/{project.id}/progress")]
    for who, url in targets:
        answer = await who.post(url, fields, form_page="/")
        assert answer.status in (200, 303, 400, 403, 404, 409, 413), (url, fields, answer.status, answer.text[:300])
        assert "Traceback" not in answer.text
    for url in (path(node, budget) + "/ballot?district=" + "x" * 70, path(node, budget) + "/pabulib.pb?district=%00",
                "/budgets/" + "é" * 10, "/projects/../x", path(node, budget) + "/projects/99999999999"):
        answer = await maire.get(url)
        assert answer.status < 500, (url, answer.status)
