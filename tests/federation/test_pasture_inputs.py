"""Every sample of fediverse-pasture-inputs, sent to a discussion's Group through the real path.

The package (CC0, a test dependency) holds the activities the fediverse-pasture project sends to
every implementation to see how each renders them, grouped in input sets (mentions, hashtags,
attachments, content warnings, language, HTML tags…). Each sample is wrapped as the pasture's
sender wraps it (``fediverse_pasture.runner.ActivitySender``), signed by a loopback remote actor,
POSTed to the Group's inbox of one node, processed, and the discussion page read back. Every
sample that is valid AS2 becomes a contribution rendered as SECURITY.md rules 7, 20 and 21 say;
every other one leaves a reason (a 4xx answer or an inbox row), never silence.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp
import pytest
from sqlalchemy import select

from node.models import Contribution, InboxActivity
from tests.federation.participation_scene import AS, PUBLIC, open_scene

inputs = pytest.importorskip("fediverse_pasture_inputs")

PASTURE_ACTOR = "http://pasture-one-actor/actor"
PASTURE_SECOND = "http://pasture-one-actor/second"
# What is not a contribution, by (input set, sample index): not valid as a post (no id, no
# author, no type), not a post at all (Event, Place, Profile, Relationship, Tombstone), or nothing
# left to show once sanitised (a lone <script>). Each must leave its reason.
NOT_CONTRIBUTIONS = {
    ("necessary_properties", 1), ("necessary_properties", 3), ("necessary_properties", 4),
    ("object_types", 3), ("object_types", 7), ("object_types", 8), ("object_types", 9),
    ("object_types", 10), ("object_types", 13),
    ("html_tags", 26), ("html_tags_article", 26),
}


@dataclass
class Sent:
    set_name: str
    index: int
    example: dict
    activity: dict
    status: int
    answer: dict
    contribution: Contribution | None = None
    row: InboxActivity | None = None
    html: str = ""  # the contribution as the discussion page shows it (French reader)
    html_de: str = ""  # the same page read in German


def pasture_create(actor_id: str, group: str, set_name: str, index: int, example: dict) -> dict:
    """The Create the pasture's ActivitySender makes of ``example`` (its init_create_note and
    send): a public Note skeleton, ``content: "text"`` then the example over it, the target
    (our Group) added to ``to``, the Note's @context (or the AS2 one with Hashtag/sensitive)."""
    published = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    skeleton = {"type": "Note", "attributedTo": PASTURE_ACTOR, "to": [PUBLIC],
                "id": f"{PASTURE_ACTOR}/object/{set_name}/{index}", "published": published}
    note = json.loads(json.dumps({**skeleton, "content": "text", **example}))
    # The pasture's actor is our signing actor (other mentions of it stay as they are).
    note["attributedTo"] = json.loads(json.dumps(note["attributedTo"])
                                      .replace(PASTURE_ACTOR, actor_id)
                                      .replace(PASTURE_SECOND, actor_id.rsplit("/", 1)[0] + "/second"))
    note["id"] = note["id"].replace(PASTURE_ACTOR, actor_id) if note["id"] else None
    note["to"] = (note["to"] if isinstance(note["to"], list) else [note["to"]]) + [group]
    context = note["@context"] if "@context" in note else [
        AS, {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"}]
    return {"@context": context, "type": "Create", "actor": actor_id,
            "id": f"{actor_id}/activity/{set_name}/{index}", "published": published,
            "to": note["to"], "cc": note.get("cc", []), "object": note}


def _article_of(page: str, contribution: Contribution) -> str:
    """The contribution's <article> on the discussion page (remote ones: ``contribution-r<id>``)."""
    begin = page.find(f'<li id="contribution-r{contribution.id}"')
    if begin < 0:
        return ""
    return page[begin:page.find("</article>", begin)]


MORE = re.compile(r'<a href="([^"]+)" rel="next" data-more-threads>')


async def _every_thread(http: aiohttp.ClientSession, page: str, lang: str) -> str:
    """The discussion page and every "Show more contributions" page after it, as one text."""
    texts, url = [], page
    while url:
        async with http.get(url, headers={"Accept": "text/html", "Accept-Language": lang}) as response:
            assert response.status == 200
            texts.append(await response.text())
        more = MORE.search(texts[-1])
        url = urljoin(page, html.unescape(more[1])) if more else None
    return "".join(texts)


async def _send_all(node, remote, scene) -> list[Sent]:
    alice = remote.add_actor("alice")
    sent = []
    for set_name, data in sorted(inputs.available.items()):
        for index, example in enumerate(data.examples):
            activity = pasture_create(alice.ap_id, scene.group, set_name, index, example)
            status, answer = await remote.post(scene.group_inbox, activity, alice)
            sent.append(Sent(set_name, index, example, activity, status, answer))
    await node.step(rounds=20)
    async with node.rt.sessions() as s:
        rows = {r.ap_id: r for r in await s.scalars(select(InboxActivity))}
        stored = {c.ap_id: c for c in await s.scalars(select(Contribution))}
    pages = {}
    async with aiohttp.ClientSession() as http:
        for lang in ("fr", "de"):
            pages[lang] = await _every_thread(http, scene.page, lang)
    for item in sent:
        obj_id = item.activity["object"].get("id")
        item.row = rows.get(item.activity["id"])
        item.contribution = stored.get(obj_id) if isinstance(obj_id, str) else None
        if item.contribution is not None:
            item.html = _article_of(pages["fr"], item.contribution)
            item.html_de = _article_of(pages["de"], item.contribution)
    return sent


# ---- what each input set must show (Mastodon's and Lemmy's rendering are the reference)

def _body(item: Sent) -> str:
    match = re.search(r'<div class="prose content"[^>]*>(.*?)</div>', item.html, re.S)
    return match.group(1) if match else ""


def check_content_warnings(item: Sent) -> None:
    """summary with or without sensitive is a warning; sensitive alone a generic one; the text
    sits inside the native disclosure."""
    html = item.html
    assert '<details class="content-warning">' in html
    assert re.search(r"<details class=\"content-warning\">.*<div class=\"prose content\"", html, re.S)
    if "summary" in item.example:
        assert '<span class="cw-text">summary</span>' in html
    else:
        assert '<span class="cw-text">Contenu sensible</span>' in html  # French page
    if item.index >= 3:  # the sensitive image is behind the warning, as a link
        assert '<ul class="attachments sensitive">' in html and "/images/w00" in html


def check_mentions(item: Sent) -> None:
    """A mention named in the text links to its href; one the text does not name is not shown."""
    tags = item.example["tag"] if isinstance(item.example["tag"], list) else [item.example["tag"]]
    tag = tags[0]
    handle = "@{}@{}".format(*reversed(tag["href"].split("//", 1)[1].split("/", 1))) \
        if tag["href"].count("/") == 3 else None
    named = tag.get("type", "").endswith("Mention") and any(
        n and n in item.example["content"] for n in (tag.get("name"), handle))
    assert (f'<a href="{tag["href"]}" class="u-url mention"' in _body(item)) == bool(named)


def check_hashtags(item: Sent) -> None:
    """A hashtag the text does not name is listed after it; ``url`` is not its link."""
    name = item.example["tag"]["name"]
    shown = name if name.startswith("#") else f"#{name}"
    body = _body(item)
    assert '<p class="tags">' in body
    assert shown.replace("&", "&amp;") in body or shown in body
    assert "ignore.example" not in body


def check_hashtag_jsonld(item: Sent) -> None:
    """Hashtag or as:Hashtag are both hashtags; a tag without type is not."""
    typed = "type" in item.example["tag"]
    assert ('<span class="hashtag">#test</span>' in _body(item)) == typed


def check_attachments(item: Sent) -> None:
    """Each http(s) attachment is a link whose text is its name; payto: and data: are not links."""
    body = _body(item)
    attachments = item.example["attachment"]
    attachments = attachments if isinstance(attachments, list) else [attachments]
    for a in attachments:
        url = a.get("url") if isinstance(a.get("url"), str) else a.get("href")
        if isinstance(url, str) and url.startswith("http"):
            assert f'href="{url}"' in body
            if a.get("name"):
                assert f">{a['name']}</a>" in body
            if a.get("mediaType"):
                assert f"({a['mediaType']})" in body
    assert "payto:" not in body and "data:" not in body


def check_image_attachments(item: Sent) -> None:
    """Every image, whatever the url's shape (string, Link, list of Links), is a link."""
    a = item.example["attachment"]
    a = a[0] if isinstance(a, list) else a
    urls = [u if isinstance(u, str) else u["href"]
            for u in (a["url"] if isinstance(a["url"], list) else [a["url"]])]
    for url in urls:
        if url.startswith("http"):
            assert f'href="{url}"' in _body(item)


def check_image_description(item: Sent) -> None:
    """The description (name) is the link text, else the file name."""
    a = item.example["attachment"]
    a = a[0] if isinstance(a, list) else a
    assert f">{a.get('name') or a['url'].rsplit('/', 1)[-1]}</a>" in _body(item)


def check_recommended_attachments(item: Sent) -> None:
    """Unknown @context (credentials/v2) read as AS2; each source of a video is a link."""
    a = item.example["attachment"][0]
    sources = a["url"] if isinstance(a["url"], list) else [{"href": a["url"]}]
    for source in sources:
        assert f'href="{source["href"]}"' in _body(item)
    assert f">{a['name']}</a>" in _body(item)


def check_language(item: Sent) -> None:
    """contentMap: the reader's language when the map has it, else content; lang on the body."""
    content_map = item.example.get("contentMap", {})
    fr = re.search(r'<div class="prose content"( lang="([^"]+)")?', item.html)
    de = re.search(r'<div class="prose content"( lang="([^"]+)")?', item.html_de)
    if "de" in content_map:
        assert "Deutsch" in item.html_de and de.group(2) == "de"
    assert ">text</div>" in item.html  # the French page: no French text, so content
    # content's language is the map's only one; with several, none is guessed
    assert fr.group(2) == (next(iter(content_map)) if len(content_map) == 1 else None)


def check_html_tags(item: Sent) -> None:
    """Allowed markup kept; headings demoted below the page's own h1-h3; no script, no img."""
    body = _body(item)
    assert "<script" not in body and "<img" not in body and "<h1" not in body
    assert "<h2" not in body and "<h3" not in body
    content = item.example["content"]
    for tag in ("b", "strong", "i", "em", "s", "code", "pre", "blockquote", "sup", "sub"):
        if content.startswith(f"<{tag}>"):
            assert f"<{tag}>" in body
    heading = re.match(r"<h([1-5])>", content)
    if heading:
        assert f"<h{min(int(heading.group(1)) + 3, 6)}>" in body
    if "<img" in content:
        assert '">NLNET Logo</a>' in body


def check_html_tags_summary(item: Sent) -> None:
    """The same tags in a summary: it is a warning in plain text (an image by its alt text),
    hiding the content; a summary with nothing left once sanitised (a lone script) is none."""
    warning = re.search(r'<span class="cw-text"[^>]*>(.*?)</span>', item.html, re.S)
    if item.example["summary"].startswith("<script"):
        assert warning is None and "See summary" in _body(item)
        return
    assert '<details class="content-warning">' in item.html and "See summary" in _body(item)
    assert "&lt;" not in warning.group(1) and "<" not in warning.group(1)
    if "<img" in item.example["summary"]:
        assert warning.group(1) == "NLNET Logo"


def check_object_types(item: Sent) -> None:
    """Article/Page: name is the title, summary an excerpt; Note/media: summary is a warning."""
    kind = item.example["type"]
    kind = kind[0] if isinstance(kind, list) else kind
    assert "<strong>name</strong>" in item.html
    if kind in ("Article", "Page"):
        assert '<p class="excerpt"><em>summary</em></p>' in item.html
        assert "content-warning" not in item.html
    else:
        assert '<span class="cw-text">summary</span>' in item.html


def check_context(item: Sent) -> None:
    """Unknown or broken @context URLs, or none: read as compact AS2, never dropped."""
    assert item.example["content"][:20] in item.html


def check_quotes(item: Sent) -> None:
    """Every way of quoting (quote, quoteUri, quoteUrl, _misskey_quote, FEP-e232 tag) is a
    "RE:" link to the quoted post, as Mastodon shows it."""
    assert '<p class="quote">RE: <a href="http://pasture-one-actor/assets/note1.jsonap"' in _body(item)


CHECKS: dict[str, Callable[[Sent], None]] = {
    "quotes": check_quotes,
    "content_warnings": check_content_warnings,
    "mentions": check_mentions,
    "hashtags": check_hashtags,
    "hashtag_jsonld": check_hashtag_jsonld,
    "attachments": check_attachments,
    "image_attachments": check_image_attachments,
    "image_description": check_image_description,
    "recommended_attachments": check_recommended_attachments,
    "language": check_language,
    "html_tags": check_html_tags,
    "html_tags_article": check_html_tags,
    "html_tags_summary": check_html_tags_summary,
    "html_bad": check_html_tags,
    "html_anchor": check_html_tags,
    "object_types": check_object_types,
    "context": check_context,
}


def _outcome(item: Sent) -> str:
    if item.status >= 400:
        return f"{item.status} {item.answer}"
    return f"{item.row.state}: {item.row.error}" if item.row else "no inbox row"


async def test_pasture_inputs__every_valid_sample_becomes_a_faithful_contribution(node, remote):
    """Each pasture sample sent to a discussion's Group: a contribution rendered as its input set
    requires (rules 7, 20, 21), or — when it is not a valid post — a reason, never silence."""
    scene = await open_scene(node)
    sent = await _send_all(node, remote, scene)
    assert len(sent) == sum(len(d.examples) for d in inputs.available.values()) >= 250

    problems = []
    for item in sent:
        key = (item.set_name, item.index)
        label = f"{item.set_name}[{item.index}] {json.dumps(item.example)[:120]}"
        if key in NOT_CONTRIBUTIONS:
            if item.contribution is not None:
                problems.append(f"{label}: stored, but it is not a valid post")
            elif item.status < 400 and not (item.row and item.row.error
                                            and item.row.state in ("failed", "processed", "ignored")
                                            and item.row.error != "contribution stored"):
                problems.append(f"{label}: dropped without a reason ({_outcome(item)})")
            continue
        if item.contribution is None:
            problems.append(f"{label}: no contribution ({_outcome(item)})")
            continue
        if not item.html:
            problems.append(f"{label}: not on the discussion page")
            continue
        check = CHECKS.get(item.set_name)
        try:
            if check:
                check(item)
            assert "<h1" not in _body(item) and "javascript:" not in item.html.lower()
        except AssertionError as exc:
            problems.append(f"{label}: {exc or 'rendered wrongly'}\n    {item.html[-600:]}")
    assert not problems, f"{len(problems)} samples:\n" + "\n".join(problems)
