"""Acceptance (issue 10): a coalition spanning three Civic Nodes, relayed to Fedify and bovine-herd.

Three real `civic serve` processes on their own loopback addresses — the coalition's **home**
(organisation surfrider founds the coalition `bleue`), a **city** (organisation lyon) and an
**NGO** (organisation eauvive) — plus Fedify's alice and bovine-herd's alice. Everything is done as
an operator scripts it, with `civic coalition …` on each node's data directory, and the running
nodes federate it:

1. the peers follow the organisations (Fedify the city's lyon, bovine-herd the NGO's eauvive);
2. lyon asks to join (`civic coalition join` on the city: Join → the home), the home's admin
   accepts (`civic coalition accept` on the home: Accept{Join} → the city);
3. the home invites eauvive (`civic coalition invite`: Invite → the NGO), the NGO accepts
   (`civic coalition answer … accept`: Accept{Invite} → the home) — both paths into a coalition;
4. the home publishes a campaign in French and German (`civic coalition campaign create`), which
   reaches both members;
5. each organisation relays it with its own variant in its own language
   (`civic coalition campaign adapt`: lyon in French, eauvive in German) — a `Create{Page}` with
   `civic:variantOf` = the campaign, to the organisation's followers (the peers) and the home;
6. the peers support the variant they received (Fedify likes lyon's, bovine-herd eauvive's); each
   organisation relays the support to the home, which counts 2 supports, 1 credited to lyon in
   French and 1 to eauvive in German — read from the home's database with the node's services and
   from `civic coalition report bleue --format json`;
7. Fedify undoes its Like: lyon's variant and the home's campaign both count one less, and the
   breakdown keeps only eauvive's support; then bovine-herd undoes its own (naming the Like by
   its bare id), and eauvive's share goes too.

Then, deeper: a person counted once whether she likes the campaign or a variant, a forged relay
from a non-member counting nothing, the supporter's erasure (Delete{alice}) taken back on the
city and the home, and a removed member whose variant still circulates (its later supports count
for the campaign, not for it).

Each step is a module fixture that depends on the step before it and returns a snapshot of what
the nodes and peers held right after it; each test asserts one step's snapshot. So the verdicts
do not depend on which tests a pytest-xdist worker runs or in what order (with pytest 9.2 and
xdist 3.8 the `xdist_group` marks are not honoured: pytest-dev/pytest-xdist#1386). The nodes run on SQLite, as
`civic init` sets them up; when CIVIC_TEST_DATABASE_URL names a PostgreSQL server, the whole
scenario runs a second time with each node on its own PostgreSQL database (`civic init
--database-url`), on other loopback addresses.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.dbs import backends
from tests.interop import coalition_setup as seen
from tests.interop.coalition_nodes import (
    WAIT,
    id_of,
    node_for,
    urls_in,
    variant_of,
    wait_for,
    wait_state,
)
from tests.interop.node_process import CivicNode
from tests.interop.peers import FedifyPeer, HerdPeer, PeerError

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
HOME_ORG, CITY_ORG, NGO_ORG, COALITION = "surfrider", "lyon", "eauvive", "bleue"
CAMPAIGN_NAME = {"fr": "Des plages sans plastique", "de": "Strände ohne Plastik"}
CITY_VARIANT = {"language": "fr", "name": "Lyon sans plastique",
                "text": "La Ville de Lyon s'engage : des fontaines sur les quais du Rhône."}
NGO_VARIANT = {"language": "de", "name": "Eau Vive: Flüsse ohne Plastik",
               "text": "Eau Vive ruft auf: Sammelaktion am Rheinufer, Samstag 10 Uhr."}


# ---- the three nodes, on SQLite (as `civic init` sets a node up) and, when the suite is given a
# PostgreSQL server (CIVIC_TEST_DATABASE_URL), once more each on its own PostgreSQL database


@pytest.fixture(scope="module", params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """The coalition's home, with organisation surfrider."""
    yield from node_for(tmp_path_factory, backend, "home", {HOME_ORG: "Surfrider Europe"})


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """The city, with organisation lyon."""
    yield from node_for(tmp_path_factory, backend, "city", {CITY_ORG: "Ville de Lyon"})


@pytest.fixture(scope="module")
def ngo(tmp_path_factory: pytest.TempPathFactory, backend: str):
    """The NGO, with organisation eauvive."""
    yield from node_for(tmp_path_factory, backend, "ngo", {NGO_ORG: "Eau Vive"})


@pytest.fixture(scope="module")
def ids(home: CivicNode, city: CivicNode, ngo: CivicNode) -> dict:
    return {"coalition": home.actor_url(COALITION), "founder": home.actor_url(HOME_ORG),
            "city": city.actor_url(CITY_ORG), "ngo": ngo.actor_url(NGO_ORG)}


@pytest.fixture(scope="module")
def coalition(home: CivicNode, ids: dict) -> dict:
    """`civic coalition create bleue --org surfrider --languages fr,de` on the home."""
    # create the coalition
    home.civic("coalition", "create", COALITION, "--name", "Coalition bleue", "--org", HOME_ORG,
               "--summary", "Pour des océans et des rivières sans plastique",
               "--languages", "fr,de", "--visibility", "public")
    assert seen.membership_state(home, ids["coalition"], ids["founder"]) == "accepted"
    return ids


# ---- the peers follow the organisations (before anything is relayed to them)


@pytest.fixture(scope="module")
def followers(city: CivicNode, ngo: CivicNode, fedify_peer: FedifyPeer, herd_peer: HerdPeer, ids: dict):
    """Fedify's alice follows lyon (the city), herd's alice follows eauvive (the NGO); both
    Follows are accepted. Undone at the end: the peers must not deliver to stopped nodes."""
    # peers follow the organisations
    fedify_peer.follow(ids["city"])
    fedify_peer.wait_for_accepted(ids["city"], timeout=WAIT)
    herd_peer.follow(ids["ngo"])
    wait_for(lambda: ids["ngo"] in herd_peer.following(), WAIT, "herd following eauvive",
             interval=0.3)
    wait_for(lambda: city.follow_state(fedify_peer.actor_url, ids["city"]) == "accepted", WAIT,
             "lyon's follower Fedify", interval=0.3)
    wait_for(lambda: ngo.follow_state(herd_peer.actor_id, ids["ngo"]) == "accepted", WAIT,
             "eauvive's follower herd", interval=0.3)
    yield ids
    for undo in (lambda: fedify_peer.unfollow(ids["city"]), lambda: herd_peer.unfollow(ids["ngo"])):
        try:
            undo()
        except PeerError as error:  # the scenario's verdict stands; say why the clean-up failed
            print(f"clean-up: {error}")


# ---- the scenario, one step per fixture
#
# Every change of state is a module fixture that depends on the step before it and returns what
# the nodes and peers held right after it (a snapshot); each test asserts one step's snapshot.
# So a test checks its step whatever ran before it on its worker: pytest-xdist may hand this
# module's tests to several workers (each then builds the scenario up to the steps it needs),
# and later steps change the counts an earlier step's test checks.


@pytest.fixture(scope="module")
def city_joined(home: CivicNode, city: CivicNode, coalition: dict) -> dict:
    """lyon's Join reaches the home (requested); the home's admin accepts it; lyon's node learns
    it from the Accept{Join}."""
    # city joins (Join, accepted by the home)
    city.civic("coalition", "join", CITY_ORG, coalition["coalition"])
    wait_state(home, coalition["coalition"], coalition["city"], "requested",
               "lyon's Join recorded at the home")
    home.civic("coalition", "accept", COALITION, coalition["city"])
    wait_state(city, coalition["coalition"], coalition["city"], "accepted",
               "the home's Accept{Join} recorded on the city's node")
    return coalition


@pytest.fixture(scope="module")
def ngo_invited(home: CivicNode, city: CivicNode, ngo: CivicNode, city_joined: dict) -> dict:
    """The home invites eauvive; the Invite reaches the NGO (invited); the NGO accepts it and
    the home records eauvive as an accepted member. Snapshot: the members as `civic coalition
    members --json` lists them and each node's membership rows."""
    ids = city_joined
    # NGO invited (Invite, accepted by the NGO)
    home.civic("coalition", "invite", COALITION, ids["ngo"])
    wait_state(ngo, ids["coalition"], ids["ngo"], "invited",
               "the home's Invite recorded on the NGO's node")
    ngo.civic("coalition", "answer", NGO_ORG, ids["coalition"], "accept")
    wait_state(home, ids["coalition"], ids["ngo"], "accepted",
               "eauvive's Accept{Invite} recorded at the home")
    wait_state(ngo, ids["coalition"], ids["ngo"], "accepted",
               "the NGO's own record of its membership")
    listed = json.loads(home.civic("coalition", "members", COALITION, "--json"))
    states = {(where, org): seen.membership_state(node, ids["coalition"], ids[org])
              for where, node in (("home", home), ("city", city), ("ngo", ngo))
              for org in ("founder", "city", "ngo")}
    return {**ids, "listed": listed, "states": states}


def test_coalition__city_joins_by_join_and_ngo_by_invite(ngo_invited):
    """Both paths into a coalition end with the same three accepted members at the home, and
    each member's node holds its own accepted membership (and nothing about the other's)."""
    ids = ngo_invited
    listed = {m.get("id") or m.get("actor"): m for m in (
        ids["listed"]["members"] if isinstance(ids["listed"], dict) else ids["listed"])}
    assert set(listed) == {ids["founder"], ids["city"], ids["ngo"]}
    assert {m["state"] for m in listed.values()} == {"accepted"}
    assert ids["states"] == {
        ("home", "founder"): "accepted", ("home", "city"): "accepted", ("home", "ngo"): "accepted",
        # Sovereignty: a member's node keeps its own membership, not the coalition's list.
        ("city", "founder"): None, ("city", "city"): "accepted", ("city", "ngo"): None,
        ("ngo", "founder"): None, ("ngo", "city"): None, ("ngo", "ngo"): "accepted",
    }


# ---- the campaign and the variants


@pytest.fixture(scope="module")
def campaign(home: CivicNode, city: CivicNode, ngo: CivicNode, ngo_invited: dict) -> dict:
    """`civic coalition campaign create bleue` in French and German; it reaches both members.
    Snapshot: the campaign as each node stored it."""
    # campaign published and received by the members
    out = home.civic("coalition", "campaign", "create", COALITION,
                     "--name", f"fr={CAMPAIGN_NAME['fr']}", "--name", f"de={CAMPAIGN_NAME['de']}",
                     "--summary", "fr=Signez pour des plages propres",
                     "--summary", "de=Unterschreiben Sie für saubere Strände",
                     "--text", "fr=Chaque été, nos plages recueillent des tonnes de plastique.",
                     "--text", "de=Jeden Sommer landen Tonnen von Plastik an unseren Stränden.",
                     "--message", "fr=Je soutiens des plages sans plastique !",
                     "--message", "de=Ich unterstütze Strände ohne Plastik!")
    found = urls_in(out, "/campaigns/") or urls_in(
        home.civic("coalition", "campaign", "list", COALITION), "/campaigns/")
    assert found, f"`civic coalition campaign create` printed no campaign id: {out!r}"
    campaign_id = found[0]
    stored = {"home": seen.campaign(home, campaign_id)}
    for role, member in (("city", city), ("ngo", ngo)):
        stored[role] = wait_for(lambda m=member: seen.campaign(m, campaign_id), WAIT,
                                f"the campaign stored on {member.base_url}")
    return {**ngo_invited, "campaign": campaign_id, "stored": stored}


def test_campaign__reaches_both_members_in_both_languages(campaign):
    """The home holds its campaign; each member's node stored the coalition's Create{Page} with
    both languages' names and texts."""
    own = campaign["stored"]["home"]
    assert own["local"] and own["coalition"] == campaign["coalition"]
    assert own["name"] == CAMPAIGN_NAME
    for role in ("city", "ngo"):
        stored = campaign["stored"][role]
        assert stored["local"] is False
        assert stored["coalition"] == campaign["coalition"]
        assert stored["name"] == CAMPAIGN_NAME
        assert set(stored["content"]) == {"fr", "de"}


def adapt(node: CivicNode, org: str, campaign_id: str, wording: dict) -> str:
    """`civic coalition campaign adapt ORG CAMPAIGN --language … --name … --text …`: the variant id."""
    out = node.civic("coalition", "campaign", "adapt", org, campaign_id, "--language",
                     wording["language"], "--name", wording["name"], "--text", wording["text"])
    found = urls_in(out, "/variants/")
    assert found, f"`civic coalition campaign adapt` printed no variant id: {out!r}"
    return found[0]


@pytest.fixture(scope="module")
def variants(home: CivicNode, city: CivicNode, ngo: CivicNode, fedify_peer: FedifyPeer,
             herd_peer: HerdPeer, followers, campaign: dict) -> dict:
    """lyon adapts the campaign in French, eauvive in German (the peers already follow them);
    each peer receives its organisation's Create{Page}, and the home learns both variants.
    Snapshot: what each peer received, and the variants the home stored."""
    # variants adapted by the members
    city_variant = adapt(city, CITY_ORG, campaign["campaign"], CITY_VARIANT)
    ngo_variant = adapt(ngo, NGO_ORG, campaign["campaign"], NGO_VARIANT)
    # Fedify receives the city's variant
    fedify_create = fedify_peer.wait_for_inbox(
        lambda a: a["type"] == "Create" and a["object"] == city_variant, timeout=WAIT)
    # herd receives the NGO's variant
    herd_create = herd_peer.wait_for_inbox(
        lambda a: a.get("type") == "Create" and id_of(a.get("object")) == ngo_variant,
        timeout=WAIT)
    herd_page = herd_create["object"] if isinstance(herd_create["object"], dict) \
        else herd_peer.lookup(ngo_variant)
    # the home learns the variants
    at_home = wait_for(lambda: (found := seen.variants_at_home(home, campaign["campaign"]))
                       and len(found) == 2 and found, WAIT, "both variants at the home")
    return {**campaign, "city_variant": city_variant, "ngo_variant": ngo_variant,
            "fedify_create": fedify_create, "fedify_errors": fedify_peer.errors(),
            "herd_create": herd_create, "herd_page": herd_page, "at_home": at_home}


def test_variants__fedify_receives_the_city_variant(variants):
    """Fedify verified and recorded lyon's Create{Page}: its French variant of the campaign."""
    create = variants["fedify_create"]
    assert create["actor"] == variants["city"]
    page = (create.get("raw") or {}).get("object")
    assert isinstance(page, dict), create
    assert page["type"] == "Page"
    assert id_of(page["attributedTo"]) == variants["city"]
    assert variant_of(page) == variants["campaign"]
    assert CITY_VARIANT["name"] in json.dumps(page, ensure_ascii=False)
    assert variants["fedify_errors"] == []


def test_variants__herd_receives_the_ngo_variant(variants):
    """bovine-herd stored eauvive's Create{Page}: its German variant, variantOf the campaign."""
    assert id_of(variants["herd_create"]["actor"]) == variants["ngo"]
    page = variants["herd_page"]
    assert page["type"] == "Page"
    assert id_of(page["attributedTo"]) == variants["ngo"]
    assert variant_of(page) == variants["campaign"]
    assert NGO_VARIANT["name"] in json.dumps(page, ensure_ascii=False)


def test_variants__the_home_learns_each_member_variant(variants):
    """The home stored both variants (Create{Page} to the coalition), each credited to its
    organisation in its language — what later relayed supports are credited through."""
    assert variants["at_home"] == {
        variants["city_variant"]: {"organization": variants["city"], "language": "fr", "local": False},
        variants["ngo_variant"]: {"organization": variants["ngo"], "language": "de", "local": False},
    }


# ---- supports: Likes from the peers, relayed to the home


def report(home: CivicNode) -> dict:
    """`civic coalition report bleue --format json`: the one campaign's entry."""
    data = json.loads(home.civic("coalition", "report", COALITION, "--format", "json"))
    (entry,) = data["campaigns"]
    return {"supports": entry["supports"], "total": data["totals"]["supports"],
            "breakdown": {((s["member"] or {}).get("id"), s["language"]): s["supports"]
                          for s in entry["breakdown"]},
            "per_member": {(m["member"] or {}).get("id"): m["supports"] for m in entry["per_member"]},
            "per_language": entry["per_language"]}


def snapshot(home: CivicNode, ids: dict, **more) -> dict:
    """The home's figures (database and CLI report) after a step, with the step's own findings."""
    return {"figures": seen.counts(home, ids["campaign"]), "report": report(home), **more}


@pytest.fixture(scope="module")
def supported(home: CivicNode, city: CivicNode, ngo: CivicNode, fedify_peer: FedifyPeer,
              herd_peer: HerdPeer, variants: dict) -> dict:
    """Fedify likes lyon's variant (to lyon), herd likes eauvive's (to eauvive); each node counts
    its variant's support and relays it; the home counts both."""
    # supports counted on the members and at the home
    fedify_like = fedify_peer.like(variants["city_variant"], to=variants["city"])
    assert fedify_like["recipients"] == [variants["city"]]
    herd_like = herd_peer.like(variants["ngo_variant"], to=variants["ngo"])
    for node, variant in ((city, "city_variant"), (ngo, "ngo_variant")):
        wait_for(lambda n=node, v=variant: (seen.variant(n, variants[v]) or {}).get("supports") == 1,
                 WAIT, f"1 support of {variants[variant]} on {node.base_url}")
    wait_for(lambda: seen.counts(home, variants["campaign"])["count"] == 2, WAIT,
             "2 supports counted at the home")
    ids = {**variants, "fedify_like": fedify_like["activity"]["id"], "herd_like": herd_like["id"]}
    return {**ids, "after": snapshot(
        home, ids,
        from_supporters=home.inbox(fedify_peer.actor_url) + home.inbox(herd_peer.actor_id),
        relays={m: [r for r in home.inbox(ids[m]) if r["type"] == "Announce"] for m in ("city", "ngo")},
        supporter_rows=[seen.actor_row(home, a) for a in (fedify_peer.actor_url, herd_peer.actor_id)])}


def test_supports__home_count_equals_supports_sent_broken_down_by_who_relayed(
        fedify_peer, herd_peer, supported):
    """2 Likes sent, 2 counted at the home, once per person: Fedify's through lyon (French),
    herd's through eauvive (German). The count, the tallies' sum, the breakdown, the support rows
    and the CLI report all agree."""
    figures, printed = supported["after"]["figures"], supported["after"]["report"]
    assert figures["count"] == figures["total"] == 2
    assert figures["breakdown"] == {(supported["city"], "fr"): 1, (supported["ngo"], "de"): 1}
    assert figures["supporters"] == {
        fedify_peer.actor_url: (supported["city"], "fr", supported["city"]),
        herd_peer.actor_id: (supported["ngo"], "de", supported["ngo"]),
    }
    assert printed["supports"] == printed["total"] == 2
    assert printed["breakdown"] == figures["breakdown"]
    assert printed["per_member"] == {supported["city"]: 1, supported["ngo"]: 1}
    assert printed["per_language"] == {"de": 1, "fr": 1}


def test_supports__the_home_received_nothing_but_the_supporters_actor(supported):
    """Sovereignty: the home learned of each support through the member's relay (an Announce
    signed by the organisation), never from the supporter's server, and keeps of each supporter
    its actor id and nothing more: no inbox, no key, no fetched document."""
    after = supported["after"]
    assert after["from_supporters"] == []
    for member in ("city", "ngo"):
        relays = after["relays"][member]
        assert len(relays) == 1, relays
        assert (relays[0]["state"], relays[0]["error"]) == ("processed", "support recorded"), relays
    for kept in after["supporter_rows"]:
        assert kept is not None and not kept["local"]
        assert (kept["inbox"], kept["key"], kept["fetched"], kept["document"]) == \
            (None, None, False, None), kept


# ---- Undo takes one back on every node


@pytest.fixture(scope="module")
def fedify_undone(home: CivicNode, city: CivicNode, ngo: CivicNode, fedify_peer: FedifyPeer,
                  supported: dict) -> dict:
    """Fedify's Undo{Like} to lyon."""
    # Undo taken back on the city and the home
    fedify_peer.undo_like(supported["city_variant"])
    wait_for(lambda: seen.variant(city, supported["city_variant"])["supports"] == 0, WAIT,
             "lyon's variant back to 0 supports")
    wait_for(lambda: seen.counts(home, supported["campaign"])["count"] == 1, WAIT,
             "the home back to 1 support")
    return {**supported, "after": snapshot(
        home, supported, ngo_variant=seen.variant(ngo, supported["ngo_variant"])["supports"])}


def test_undo__takes_the_support_back_on_the_city_and_the_home(herd_peer, fedify_undone):
    """Fedify's Undo{Like} reaches lyon: its variant's count and the home's count both go down
    by one, and the breakdown keeps only eauvive's German support."""
    ids, figures, printed = fedify_undone, fedify_undone["after"]["figures"], fedify_undone["after"]["report"]
    assert figures["count"] == figures["total"] == 1
    assert figures["breakdown"] == {(ids["ngo"], "de"): 1}
    assert figures["supporters"] == {herd_peer.actor_id: (ids["ngo"], "de", ids["ngo"])}
    assert fedify_undone["after"]["ngo_variant"] == 1
    assert printed["supports"] == printed["total"] == 1
    assert printed["breakdown"] == {(ids["ngo"], "de"): 1}
    assert printed["per_language"] == {"de": 1}


@pytest.fixture(scope="module")
def herd_undone(home: CivicNode, ngo: CivicNode, herd_peer: HerdPeer, fedify_undone: dict) -> dict:
    """bovine-herd's Undo, naming its Like by bare id, to eauvive."""
    before = seen.counts(home, fedify_undone["campaign"])
    # herd's Undo taken back on the NGO and the home
    herd_peer.undo(fedify_undone["herd_like"], to=fedify_undone["ngo"])
    wait_for(lambda: seen.variant(ngo, fedify_undone["ngo_variant"])["supports"] == 0, WAIT,
             "eauvive's variant back to 0 supports")
    wait_for(lambda: seen.counts(home, fedify_undone["campaign"])["count"] == before["count"] - 1,
             WAIT, "the home one support less")
    return {**fedify_undone, "before": before, "after": snapshot(home, fedify_undone)}


def test_undo__herd_undo_by_bare_id_takes_the_ngo_support_back(herd_peer, herd_undone):
    """bovine-herd's Undo names its Like by bare id: eauvive's variant and the home both count
    one less, and eauvive's German share leaves the breakdown."""
    ids, before, figures = herd_undone, herd_undone["before"], herd_undone["after"]["figures"]
    assert figures["count"] == figures["total"] == before["count"] - 1 == 0
    assert (ids["ngo"], "de") not in figures["breakdown"]
    assert herd_peer.actor_id not in figures["supporters"]
    assert herd_undone["after"]["report"]["per_member"].get(ids["ngo"], 0) == 0


# ---- deeper: once per person, a forged relay, the supporter's erasure, a removed member


def wait_processed(node: CivicNode, actor: str, activity_id: str) -> dict:
    """The inbox row of `activity_id` from `actor` once `node` has processed it (whatever the
    outcome: the row's state and reason say what it made of it)."""
    return wait_for(lambda: next((r for r in node.inbox(actor) if r["id"] == activity_id
                                  and r["state"] != "received"), None),
                    WAIT, f"{activity_id} processed on {node.base_url}")


@pytest.fixture(scope="module")
def once_per_person(home: CivicNode, ngo: CivicNode, herd_peer: HerdPeer, herd_undone: dict) -> dict:
    """herd's alice likes the campaign itself (to the coalition), then eauvive's variant again."""
    ids = herd_undone
    before = seen.counts(home, ids["campaign"])["count"]
    # once per person: a direct Like, then a relayed one
    herd_peer.like(ids["campaign"], to=ids["coalition"])
    wait_for(lambda: seen.counts(home, ids["campaign"])["count"] == before + 1, WAIT,
             "herd's Like of the campaign counted at the home")
    relays_before = len([r for r in home.inbox(ids["ngo"]) if r["type"] == "Announce"])
    herd_peer.like(ids["ngo_variant"], to=ids["ngo"])
    wait_for(lambda: seen.variant(ngo, ids["ngo_variant"])["supports"] == 1, WAIT,
             "eauvive's variant supported again")
    relay = wait_for(lambda: (rows := [r for r in home.inbox(ids["ngo"])
                                       if r["type"] == "Announce"][relays_before:]) and rows[0],
                     WAIT, "eauvive's relay of the second Like at the home")
    relay = wait_processed(home, ids["ngo"], relay["id"])
    return {**ids, "before": before, "relay": relay, "after": snapshot(home, ids)}


def test_once_per_person__a_direct_like_and_a_relayed_one_count_once(herd_peer, once_per_person):
    """herd's Like of the campaign is counted for no member in the campaign's first language;
    her Like of eauvive's variant, counted on the NGO and relayed, is not counted again."""
    figures, relay = once_per_person["after"]["figures"], once_per_person["relay"]
    assert "already supported" in (relay["error"] or ""), relay
    assert figures["count"] == figures["total"] == once_per_person["before"] + 1, (figures, relay)
    assert figures["supporters"][herd_peer.actor_id] == (None, "fr", None)
    assert figures["breakdown"].get((None, "fr")) == 1


@pytest.fixture(scope="module")
def forged(home: CivicNode, fedify_peer: FedifyPeer, once_per_person: dict) -> dict:
    """Fedify's alice sends the home an Announce{Like} of lyon's variant, as if she relayed it."""
    ids = once_per_person
    before = seen.counts(home, ids["campaign"])
    actor = fedify_peer.actor_url
    announce_id = f"{actor}#forged-relay-{uuid.uuid4()}"
    fedify_peer.send({"@context": "https://www.w3.org/ns/activitystreams", "id": announce_id,
                      "type": "Announce", "actor": actor, "to": [ids["coalition"]],
                      "object": {"id": f"{actor}#forged-like-{uuid.uuid4()}", "type": "Like",
                                 "actor": f"http://{fedify_peer.host}:{fedify_peer.port}/users/nobody",
                                 "object": ids["city_variant"]}},
                     to=[ids["coalition"]])
    row = wait_processed(home, actor, announce_id)
    return {**ids, "before": before, "row": row, "after": seen.counts(home, ids["campaign"])}


def test_forged_relay__from_someone_not_the_variants_organisation_counts_nothing(forged):
    """She is not the variant's organisation: the home counts nothing and says why."""
    assert "only the variant's organisation relays its supports" in (forged["row"]["error"] or ""), \
        forged["row"]
    assert forged["after"] == forged["before"]


@pytest.fixture(scope="module")
def erased(home: CivicNode, city: CivicNode, fedify_peer: FedifyPeer, forged: dict) -> dict:
    """Fedify's alice supports lyon's variant again, then erases herself (Delete{alice} to lyon)."""
    ids = forged
    before = seen.counts(home, ids["campaign"])["count"]
    # erasure taken back on the city and the home
    fedify_peer.like(ids["city_variant"], to=ids["city"])
    wait_for(lambda: seen.counts(home, ids["campaign"])["count"] == before + 1, WAIT,
             "Fedify's new support counted at the home")
    credited = seen.counts(home, ids["campaign"])["supporters"].get(fedify_peer.actor_url)
    actor = fedify_peer.actor_url
    fedify_peer.send({"@context": "https://www.w3.org/ns/activitystreams",
                      "id": f"{actor}#delete-{uuid.uuid4()}", "type": "Delete", "actor": actor,
                      "object": actor, "to": [PUBLIC]}, to=[ids["city"]])
    wait_for(lambda: seen.variant(city, ids["city_variant"])["supports"] == 0, WAIT,
             "lyon's variant without Fedify's support")
    wait_for(lambda: seen.counts(home, ids["campaign"])["count"] == before, WAIT,
             "the home one support less")
    return {**ids, "before": before, "credited": credited, "after": seen.counts(home, ids["campaign"])}


def test_erasure__the_supporters_delete_takes_the_support_back_on_the_city_and_the_home(
        fedify_peer, erased):
    """Her new support was credited to lyon in French; after her Delete{alice} to lyon, lyon
    drops it and relays its withdrawal, and the home counts one less."""
    assert erased["credited"] == (erased["city"], "fr", erased["city"])
    figures = erased["after"]
    assert fedify_peer.actor_url not in figures["supporters"]
    assert (erased["city"], "fr") not in figures["breakdown"]
    assert figures["total"] == figures["count"] == erased["before"]


@pytest.fixture(scope="module")
def removed(home: CivicNode, ngo: CivicNode, fedify_peer: FedifyPeer, erased: dict) -> dict:
    """`civic coalition remove bleue <eauvive>` on the home; then Fedify's alice supports
    eauvive's variant, which still circulates."""
    ids = erased
    before = seen.counts(home, ids["campaign"])
    # a removed member's later support
    home.civic("coalition", "remove", COALITION, ids["ngo"])
    at_home = seen.membership_state(home, ids["coalition"], ids["ngo"])
    wait_state(ngo, ids["coalition"], ids["ngo"], None,
               "the home's Remove recorded on the NGO's node")
    fedify_peer.like(ids["ngo_variant"], to=ids["ngo"])
    wait_for(lambda: seen.variant(ngo, ids["ngo_variant"])["supports"] == 2, WAIT,
             "eauvive's variant supported by Fedify too")
    wait_for(lambda: seen.counts(home, ids["campaign"])["count"] == before["count"] + 1,
             WAIT, "the removed member's relay counted at the home")
    return {**ids, "before": before, "at_home": at_home, "after": snapshot(home, ids)}


def test_removed_member__its_variant_still_circulates_and_counts_for_the_campaign_only(
        fedify_peer, removed):
    """The Remove reaches the NGO, which drops its membership; Fedify's later support of
    eauvive's variant, relayed by eauvive, counts at the home for the campaign (in German) and
    for no member."""
    ids, before, figures = removed, removed["before"], removed["after"]["figures"]
    assert removed["at_home"] is None
    assert figures["supporters"][fedify_peer.actor_url] == (None, "de", ids["ngo"])
    assert figures["breakdown"].get((None, "de")) == before["breakdown"].get((None, "de"), 0) + 1
    assert not any(member == ids["ngo"] for member, _ in figures["breakdown"])
    assert figures["total"] == figures["count"] == before["count"] + 1
    assert ids["ngo"] not in removed["after"]["report"]["per_member"]

