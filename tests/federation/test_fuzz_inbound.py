"""Property-based fuzzing of the whole inbound path, intake and processing (SECURITY.md rules 13, 14, 19).

AS2 documents of the shapes other servers send (Create/Update/Delete of a Note, replies to a
contribution, posts addressed to a discussion's Group, Like, Undo, Follow, Join, Flag, Announce…)
carry hostile values (dates out of range, huge numbers, NaN, long and strange strings, nulls, lists
where objects are expected, deep nesting, unknown types and contexts). Each is signed by a real remote
actor, POSTed to a running node and processed. Properties: every answer is 2xx or 4xx; a 202'd
activity is stored once and, once processed, no longer ``received``; a failed row says why; nothing
is written for an activity that was refused or failed.

The suite runs ``CIVIC_FUZZ_EXAMPLES`` examples (300 by default); ``make fuzz`` runs 10,000 and
writes its figures to bench/RESULTS.md (bench/fuzz_inbound.py).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from civic.app import create_app
from federation.signatures import sign_headers
from node.config import Settings
from node.db import transaction
from node.models import (
    Agreement,
    Contribution,
    Follow,
    InboxActivity,
    InboxStates,
    Note,
    ProposalSupport,
    Report,
)
from node.services import proposals
from node.services.actors import local_actor, require_local_actor
from tests.conftest import RunningNode
from tests.federation.participation_scene import AS, PUBLIC, contribute, open_scene
from tests.remote import RemoteHost, free_port

EXAMPLES = int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "300"))
REPORT = os.environ.get("CIVIC_FUZZ_REPORT")  # where bench/fuzz_inbound.py reads the figures
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not REPORT, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# Placeholders, replaced by real ids when an example runs (each example gets fresh ids).
ALICE, OBJ, ACT, GROUP, PAGE, ORG = "$alice", "$obj", "$act", "$group", "$page", "$org"
CONTRIB, MINE, PROPOSAL, LIKED = "$contrib", "$mine", "$proposal", "$liked"
RAW = re.compile(r'"\$(deep|digits):(\d+):?(\w?)"')  # raw JSON spliced into the body (see _raw)

# --- hostile values ---------------------------------------------------------------------------
DATES = st.sampled_from([
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "0000-00-00T00:00:00Z",
    "2024-02-30T25:61:61Z", "1970-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "99999-01-01T00:00:00Z",
    "2024-01-01T00:00:00+99:99", "2025-06-01T12:00:00Z", "2025-06-01", "now", "",
    "2025-06-01T12:00:00.123456789012Z", "1e10",
])
NUMBERS = st.one_of(st.integers(), st.floats(), st.sampled_from(
    [2**31, 2**63, -(2**63) - 1, 10**30, 10**400, "$digits:5000", -0.0, 1e308, 5e-324]))
STRANGE = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "null", "true", "1e999", "\x00", "a\x00b", "\ud800", "\u202egnp.exe",
    "\ufeff", "🏳️\u200d🌈", "javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "http://127.0.0.1:1/nothing", "http://[::1", "//evil", "", " ", "$obj", "$act", "$mine",
    "<script>alert(1)</script>", "<h1>headline</h1><img src=x onerror=alert(1)>", "%00%ff", "../../etc/passwd",
])
LONG = st.sampled_from(["x" * 100_000, "é" * 30_000, "<p>" * 10_000, "\U0001f600" * 20_000])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=40), STRANGE, DATES)
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
# Nesting deeper than json.dumps can write: a sentinel string, swapped for brackets in the body.
# (So are integers too long for Python to print: "$digits:5000".)
NESTED = st.builds(lambda depth, kind: f"$deep:{depth}:{kind}", st.integers(2, 1500), st.sampled_from("lo"))
HOSTILE = st.one_of(SCALARS, LONG, JSON, NESTED)


MILD = st.one_of(st.none(), st.text(max_size=40), st.integers(-1000, 1000), STRANGE)


def field(*valid: st.SearchStrategy, odd: bool = True) -> st.SearchStrategy:
    """A field's value: usually a valid one (as a value, a one-element list or an object with an
    id, as senders vary), sometimes a plausible oddity (null, text, a number, a strange string).
    Out-of-range values come from ``mutated``, a few per document, so most documents get past
    intake and are processed."""
    good = st.one_of(*valid)
    shapes = st.one_of(good, good, good, st.lists(good, min_size=1, max_size=2),
                       good.map(lambda value: {"id": value} if isinstance(value, str) else value))
    return st.one_of(*[shapes] * 7, MILD) if odd else st.one_of(*[good] * 7, shapes)


def _positions(value, found: list) -> list:
    """Every (container, key) of a document, in a stable order."""
    if isinstance(value, dict):
        for key in value:
            found.append((value, key))
            _positions(value[key], found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append((value, index))
            _positions(item, found)
    return found


def mutated(doc: dict, mutations: list[tuple[int, object]]) -> dict:
    """``doc`` with a hostile value put at a few of its positions (or added as a new field)."""
    for selector, value in mutations:
        positions = _positions(doc, [])
        container, key = positions[selector % len(positions)]
        if selector % 5 == 0 and isinstance(container, dict):
            container[f"extra{selector % 7}"] = value
        else:
            container[key] = value
    return doc


CONTEXTS = st.sampled_from([
    AS, [AS, "https://w3id.org/security/v1"], [AS, {"toot": "http://joinmastodon.org/ns#",
                                                     "sensitive": "as:sensitive"}],
    [AS, "https://w3id.org/fep/5711"], [AS, "http://litepub.social/ns#", {"@language": "und"}],
    "https://www.w3.org/ns/credentials/v2", {"@vocab": "http://example.invalid/#"},
])
ADDRESSES = st.sampled_from([[PUBLIC], PUBLIC, [GROUP], [PUBLIC, GROUP], [ORG], [], "as:Public",
                             [ALICE + "/followers"], ["Public"]])
CONTENT = st.one_of(st.sampled_from([
    "<p>Un jardin partagé au Clos Jouve</p>", "<p>Reply</p><script>alert(1)</script>", "",
    "<h1>Title</h1><h2>Sub</h2><p><a href='javascript:x'>link</a></p>", "<p>" + "mot " * 5000 + "</p>",
]), st.text(max_size=200))
ATTACHMENT = st.fixed_dictionaries(
    {"type": field(st.sampled_from(["Image", "Document", "Video", "Audio", "Link", "Bogus"])),
     "url": field(st.sampled_from([ALICE + "/media/1.png", "javascript:x", "ftp://x/y"]))},
    optional={"name": field(st.text(max_size=40)), "mediaType": field(st.sampled_from(["image/png", "x/y"])),
              "width": field(NUMBERS), "blurhash": field(st.text(max_size=20))})
TAG = st.fixed_dictionaries(
    {"type": field(st.sampled_from(["Mention", "Hashtag", "Emoji", "Unknown"])),
     "name": field(st.sampled_from(["@alice", "#jardin", ":blob:", ""]))},
    optional={"href": field(st.sampled_from([ALICE, "https://x.invalid/tags/jardin", "javascript:x"]))})


def note(object_id: st.SearchStrategy = st.just(OBJ)) -> st.SearchStrategy:
    """A posted object: a Note by default, other types (and hostile types) sometimes."""
    return st.fixed_dictionaries({
        "id": object_id,
        "type": field(st.sampled_from(["Note"] * 12 + ["Article", "Page", "Image", "Video", "Audio",
                                       "Document", "Question", "Event", "Tombstone", "Bogus"]), odd=False),
        "attributedTo": field(st.just(ALICE), odd=False),
        "content": field(CONTENT),
        "inReplyTo": field(st.sampled_from([PAGE, CONTRIB, MINE]), st.none()),
        "to": field(ADDRESSES),
        "published": field(st.just("2025-06-01T12:00:00Z"), DATES),
    }, optional={
        "cc": field(ADDRESSES), "audience": field(st.just(GROUP)), "context": field(st.sampled_from([GROUP, PAGE])),
        "summary": field(st.text(max_size=60)), "sensitive": field(st.booleans()),
        "contentMap": field(st.dictionaries(st.sampled_from(["fr", "en", "de", "xx-XX", "", "@"]),
                                            CONTENT, max_size=3)),
        "name": field(st.text(max_size=60)), "url": field(st.sampled_from([ALICE + "/p/1", "javascript:x"])),
        "updated": field(DATES), "attachment": field(st.lists(ATTACHMENT, max_size=3)),
        "tag": field(st.lists(TAG, max_size=3)), "mediaType": field(st.sampled_from(["text/html", "text/x"])),
        "@context": CONTEXTS,
    })


def activity(kind: str | st.SearchStrategy, obj: st.SearchStrategy, **extra: st.SearchStrategy):
    kinds = st.just(kind) if isinstance(kind, str) else kind
    return st.fixed_dictionaries({
        "@context": st.one_of(st.just(AS), CONTEXTS),
        "id": st.just(ACT),
        "type": kinds,
        "actor": st.one_of(*[st.just(ALICE)] * 8, st.just([ALICE]), st.just({"id": ALICE, "type": "Person"})),
        "object": obj,
        **extra,
    }, optional={"to": field(ADDRESSES), "cc": field(ADDRESSES), "published": field(DATES)})


LIKE = st.fixed_dictionaries({"id": st.just(LIKED), "type": st.just("Like"), "actor": st.just(ALICE),
                              "object": field(st.just(CONTRIB))})
FOLLOW = st.fixed_dictionaries({"id": field(st.just(ALICE + "/follows/0")), "type": st.just("Follow"),
                                "actor": field(st.just(ALICE)), "object": field(st.sampled_from([ORG, GROUP]))})
SHAPES = st.one_of(
    activity("Create", note()),
    activity("Create", note()),
    activity("Update", note(st.sampled_from([OBJ, MINE]))),
    activity("Delete", field(st.sampled_from([MINE, OBJ]), st.fixed_dictionaries(
        {"id": st.sampled_from([MINE, OBJ]), "type": st.sampled_from(["Tombstone", "Note"])}))),
    activity("Like", field(st.sampled_from([CONTRIB, PROPOSAL, PAGE, MINE]))),
    activity("Undo", field(LIKE, FOLLOW, st.sampled_from([LIKED, ACT]))),
    activity("Follow", field(st.sampled_from([ORG, GROUP]))),
    activity("Join", field(st.sampled_from([GROUP, ORG, CONTRIB]))),
    activity("Flag", field(st.sampled_from([CONTRIB, ALICE, ORG]), st.just([CONTRIB, ALICE])),
             content=field(st.text(max_size=80))),
    activity("Announce", field(st.sampled_from([CONTRIB, MINE, PAGE]), note())),
    activity(st.sampled_from(["Accept", "Reject"]), field(FOLLOW)),
    activity(st.sampled_from(["Add", "Remove"]), field(st.just(ALICE)),
             target=field(st.sampled_from([GROUP, GROUP + "/moderators"]))),
    activity(st.sampled_from(["EmojiReact", "Move", "Block", "Question", "Bogus"]), field(st.just(CONTRIB))),
)
DOCUMENTS = st.builds(mutated, SHAPES, st.lists(st.tuples(st.integers(0, 10**6), HOSTILE), max_size=3))
INBOXES = st.sampled_from(["group", "shared", "org"])


def _substitute(value, ids: dict[str, str]):
    if isinstance(value, str):
        for placeholder, real in ids.items():
            if placeholder in value:
                value = value.replace(placeholder, real)
        return value
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {_substitute(k, ids): _substitute(v, ids) for k, v in value.items()}
    return value


def _raw(match: re.Match) -> str:
    kind, size, shape = match[1], int(match[2]), match[3]
    if kind == "digits":
        return "9" * size
    return "[" * size + "]" * size if shape == "l" else '{"a":' * size + "1" + "}" * size


def _body(doc: dict) -> bytes:
    """JSON of ``doc`` (NaN and Infinity as senders may write them), sentinels spliced in as raw JSON."""
    return RAW.sub(_raw, json.dumps(doc)).encode("utf-8", "surrogatepass")


def _write_report(outcomes: Counter, reasons: Counter) -> None:
    figures = {"examples": sum(outcomes.values()),
               "outcomes": {f"{status} {state}": count for (status, state), count in outcomes.most_common()},
               "reasons": [[state, reason, count] for (state, reason), count in reasons.most_common(40)]}
    with open(REPORT, "w", encoding="utf-8") as handle:
        json.dump(figures, handle)


class Target:
    """The node under fuzzing, its seeded discussion, and alice, the remote actor who signs."""

    def __init__(self, node: RunningNode, remote: RemoteHost, scene, ids: dict, inboxes: dict):
        self.node, self.remote, self.scene, self.ids, self.inboxes = node, remote, scene, ids, inboxes
        self.counter = itertools.count(1)
        self.outcomes: Counter = Counter()
        self.reasons: Counter = Counter()  # (state, reason with digits masked)

    async def writes(self, *ap_ids: str) -> int:
        """Rows written for these ids: contributions, notes, agreements, supports, follows, reports."""
        async with self.node.rt.sessions() as s:
            total = 0
            for column in (Contribution.ap_id, Note.ap_id, Agreement.ap_id, ProposalSupport.ap_id,
                           Follow.ap_id, Report.flag_ap_id):
                total += await s.scalar(select(func.count()).where(column.in_(ap_ids)))
            return total

    async def rows(self, ap_id: str) -> list[InboxActivity]:
        async with self.node.rt.sessions() as s:
            return list(await s.scalars(select(InboxActivity).where(InboxActivity.ap_id == ap_id)))


@pytest.fixture
async def target(database_url, tmp_path):
    """A running node (no inbox rate limit: the fuzzer is one busy host) with lyon's discussion, a
    contribution by a local resident, a proposal, and alice's own reply and agreement, to act on."""
    port = free_port()
    settings_ = Settings(base_url=f"http://127.0.0.1:{port}", database_url=database_url, data_dir=tmp_path,
                         development=True, instance_name="Fuzzed node", secret_key="fuzz-secret",
                         inbox_host_limit=10**9)
    app = create_app(settings_, background=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    remote = await RemoteHost().start()
    node = RunningNode(app, settings_)
    try:
        scene = await open_scene(node)
        contribution = await contribute(node, scene)
        async with transaction(node.rt.sessions) as s:
            org = await local_actor(s, "lyon")
            amel = await require_local_actor(s, "amel")
            proposal = await proposals.create(s, node.uris, org, amel, "Un composteur", "<p>Texte</p>",
                                              publish=True)
        alice = remote.add_actor("alice")
        ids = {ALICE: alice.ap_id, GROUP: scene.group, PAGE: scene.page, ORG: scene.org,
               CONTRIB: contribution, PROPOSAL: proposal.ap_id, MINE: f"{alice.ap_id}/statuses/mine",
               LIKED: f"{alice.ap_id}/likes/seed"}
        inboxes = {"group": scene.group_inbox, "shared": f"{node.base}/inbox", "org": f"{scene.org}/inbox"}
        seed = [
            {"@context": AS, "id": f"{alice.ap_id}/seed/1", "type": "Create", "actor": alice.ap_id,
             "to": [PUBLIC], "cc": [scene.group],
             "object": {"id": ids[MINE], "type": "Note", "attributedTo": alice.ap_id, "to": [PUBLIC],
                        "cc": [scene.group], "inReplyTo": contribution, "content": "<p>Mine</p>",
                        "published": "2025-06-01T12:00:00Z"}},
            {"@context": AS, "id": ids[LIKED], "type": "Like", "actor": alice.ap_id, "object": contribution},
        ]
        for doc in seed:
            status, body = await remote.post(inboxes["group"], doc, alice)
            assert status == 202, body
        await node.step()
        assert await Target(node, remote, scene, ids, inboxes).writes(ids[MINE], ids[LIKED]) == 2
        fuzz = Target(node, remote, scene, ids, inboxes)
        yield fuzz
        if REPORT:
            _write_report(fuzz.outcomes, fuzz.reasons)
    finally:
        await remote.stop()
        await runner.cleanup()


def _storable(text: object) -> bool:
    """Text a database can hold and look up: no NUL, no lone surrogate."""
    if not isinstance(text, str) or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _check(fuzz: Target, template: dict, inbox: str) -> None:
    n = next(fuzz.counter)
    alice = fuzz.remote.actors["alice"]
    act, obj = f"{alice.ap_id}/fuzz/{n}", f"{alice.ap_id}/fuzz/{n}/object"
    doc = _substitute(template, {**fuzz.ids, OBJ: obj, ACT: act})
    # A mutated document may carry another id (even one already stored, or an object's): what
    # counts is what this POST adds, so rows and writes are compared with what was there before.
    act = doc["id"] if _storable(doc.get("id")) else act  # (one no database can hold: refused)
    stored_before, writes_before = len(await fuzz.rows(act)), await fuzz.writes(act, obj)
    status, answer = await fuzz.remote.post(fuzz.inboxes[inbox], doc, alice, body=_body(doc))
    shown = json.dumps(doc)[:2000]
    assert 200 <= status < 300 or 400 <= status < 500, f"{status} {answer} for {shown}"
    rows = await fuzz.rows(act)
    if status == 202:
        assert len(rows) == 1, f"a 202'd activity is stored once: {shown}"
    else:
        assert "error" in answer and answer["error"], f"a refusal says why: {status} {answer}"
        assert len(rows) == stored_before, f"a refused activity is not stored: {shown}"
    await fuzz.node.step()
    rows = await fuzz.rows(act)
    new = status == 202 and not stored_before
    state = (rows[0].state if new else "duplicate") if status == 202 else "refused"
    fuzz.outcomes[(status, state)] += 1
    reason = answer.get("error") if status >= 400 else (rows[0].error or "")
    kind = doc.get("type") if isinstance(doc.get("type"), str) else "?"
    fuzz.reasons[(f"{kind} {state}", re.sub(r"\d+", "N", str(reason))[:90])] += 1
    for row in rows:
        assert row.state != InboxStates.received, f"left unprocessed: {row.error} {shown}"
        if row.state == InboxStates.failed:
            assert row.error, f"a failed row says why: {shown}"
    if state != InboxStates.processed:  # nothing written for what was refused, ignored, failed or seen
        assert await fuzz.writes(act, obj) == writes_before, f"partial write ({state}): {shown}"


@FUZZ
@given(template=DOCUMENTS, inbox=INBOXES)
async def test_fuzz_inbound__hostile_documents_give_4xx_or_are_processed_without_partial_writes(
        target, template, inbox):
    """Signed AS2 documents of valid shapes with hostile values: never a 5xx, never left
    ``received``, a failed row has its reason, nothing written for what was refused or failed."""
    await _check(target, template, inbox)


async def test_fuzz_inbound__the_queue_is_empty_and_counts_match_rows(target):
    """After a fixed sample of hostile documents, no activity is waiting, and every contribution
    alice's host has here comes from a processed activity (rows and writes agree)."""
    fixed = [
        {"@context": AS, "id": ACT, "type": "Create", "actor": ALICE, "object": {
            "id": OBJ, "type": "Note", "attributedTo": ALICE, "to": [PUBLIC], "cc": [GROUP],
            "inReplyTo": CONTRIB, "content": "<p>ok</p>", "published": published}}
        for published in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "2025-06-01T12:00:00Z",
                          "$deep:1200:l", None, 10**30, "$digits:5000")
    ] + [{"@context": AS, "id": ACT, "type": "Like", "actor": ALICE, "object": [CONTRIB, PROPOSAL]},
         {"@context": AS, "id": ACT, "type": "Flag", "actor": ALICE, "object": {"id": "$deep:900:o"}}]
    for doc in fixed:
        await _check(target, doc, "group")
    async with target.node.rt.sessions() as s:
        waiting = await s.scalar(select(func.count()).where(InboxActivity.state == InboxStates.received))
        created = list(await s.scalars(select(Contribution.ap_id).where(
            Contribution.ap_id.like(f"{target.ids[ALICE]}/fuzz/%"))))
        processed = set(await s.scalars(select(InboxActivity.ap_id).where(
            InboxActivity.state == InboxStates.processed)))
    assert waiting == 0
    alice = target.ids[ALICE]
    assert f"{alice}/fuzz/3/object" in created  # the reply dated 2025
    assert f"{alice}/fuzz/1/object" not in created and f"{alice}/fuzz/2/object" not in created
    assert all(ap_id.removesuffix("/object") in processed for ap_id in created)
    assert sum(target.outcomes.values()) == len(fixed)



@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-www-form-urlencoded", b"type=Create&actor=x"),
    ("application/x-www-form-urlencoded; charset=bogus", b"a=b"),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--\r\n"),
    ("application/activity+json", b"\xff\xfe{}"),
    ("application/activity+json", b'{"type": "Create", "id": '),
    ("application/activity+json", b"[]"),
    ("application/activity+json", b'"a string"'),
])
async def test_fuzz_inbound__a_form_or_garbage_where_json_is_expected_is_400(target, content_type, body):
    """A signed POST whose body is a form, a multipart body or not a JSON object: 400 with a reason
    in JSON, nothing stored."""
    alice = target.remote.actors["alice"]
    inbox = target.inboxes["group"]
    headers = sign_headers("POST", inbox, body, alice.key_id, alice.private_pem, content_type=content_type)
    async with aiohttp.ClientSession() as session:
        async with session.post(inbox, data=body, headers=headers) as response:
            assert response.status == 400, await response.text()
            assert (await response.json())["error"]
    async with target.node.rt.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboxActivity)) == 2  # the two seeds
