"""`civic coalition campaign create|list|adapt`: campaigns, variants, supports and the report."""

from __future__ import annotations

import csv
import io
import json

from node.models import Campaign
from node.services import actors, campaigns
from node.uris import Uris
from tests.node.cli_run import civic, db
from tests.node.coalition_cli import (  # noqa: F401 (fixtures)
    BASE,
    count,
    events,
    node_dir_fixture,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # accepted by its signature (node/services/media.py)


# -- campaigns, variants and the report ---------------------------------------------------------

def _support(database_url, campaign_ap_id: str, people: dict[str, str | None]) -> None:
    """Supports of the campaign by local people: {handle: the variant's id they liked, or None}."""
    async def work(s):
        uris = Uris(BASE)
        campaign = await campaigns.by_ap_id(s, campaign_ap_id)
        for handle, variant_id in people.items():
            person = (await actors.create_user(s, uris, handle, "password-123", handle)).actor
            variant = await campaigns.variant_by_ap_id(s, variant_id)
            # The campaign's own page is read in French here (without ``language`` the service
            # takes the name map's first key, which JSONB on PostgreSQL does not keep in order).
            assert await campaigns.support(s, uris, campaign, person, variant=variant,
                                           language=None if variant else "fr")
    db(database_url, work)


def test_cli_coalition__campaign_adapt_and_report(node_dir, database_url, capsys, tmp_path):
    """A campaign in French and German with a message and a visual; a member adapts it in German
    with its own visual; supports through the variant and the campaign are in the report as
    text, CSV and JSON, equal to the tallies."""
    visual = tmp_path / "ozean.png"
    visual.write_bytes(PNG)
    code, out, _ = civic(capsys, node_dir, "coalition", "campaign", "create", "blue",
                         "--name", "fr=Océans propres", "--name", "de=Saubere Ozeane",
                         "--summary", "fr=Pour la mer", "--text", "fr=Protégeons <la> mer\n\nVite",
                         "--message", "de=Mach mit!", "--visual", f"de={visual}")
    assert code == 0
    campaign_id = out.strip()
    assert campaign_id.startswith(f"{BASE}/campaigns/")
    campaign = db(database_url, lambda s: campaigns.by_ap_id(s, campaign_id))
    assert campaign.name == {"fr": "Océans propres", "de": "Saubere Ozeane"}
    assert campaign.summary == {"fr": "Pour la mer"}
    assert campaign.content == {"fr": "<p>Protégeons &lt;la&gt; mer</p><p>Vite</p>"}
    message, image = campaign.kit
    assert message == {"language": "de", "kind": "message", "name": "", "content": "<p>Mach mit!</p>"}
    assert image["language"] == "de" and image["kind"] == "visual" and image["media_type"] == "image/png"
    assert (node_dir / "media" / image["url"].removeprefix("/media/")).read_bytes() == PNG
    assert events(database_url, campaigns.CAMPAIGN_PUBLISHED) == [{"campaign_id": campaign.id}]

    code, _, err = civic(capsys, node_dir, "coalition", "campaign", "adapt", "lyon", campaign_id,
                         "--language", "de", "--name", "Ozeane in Lyon", "--text", "Schützt")
    assert code == 1 and campaigns.NOT_A_MEMBER in err
    assert civic(capsys, node_dir, "coalition", "invite", "blue", "lyon")[0] == 0
    assert civic(capsys, node_dir, "coalition", "answer", "lyon", "blue", "accept")[0] == 0
    code, out, _ = civic(capsys, node_dir, "coalition", "campaign", "adapt", "lyon", campaign_id,
                         "--language", "de", "--name", "Ozeane in Lyon", "--text", "Schützt die Rhône",
                         "--visual", str(visual))
    assert code == 0
    variant_id = out.strip()
    variant = db(database_url, lambda s: campaigns.variant_by_ap_id(s, variant_id))
    assert (variant.language, variant.name, variant.content) == ("de", "Ozeane in Lyon", "<p>Schützt die Rhône</p>")
    assert variant.visual_url == image["url"] and variant.visual_media_type == "image/png"
    assert events(database_url, campaigns.VARIANT_PUBLISHED) == [{"variant_id": variant.id}]
    code, _, err = civic(capsys, node_dir, "coalition", "campaign", "adapt", "lyon", campaign_id,
                         "--language", "de", "--name", "Encore", "--text", "Zwei")
    assert code == 1 and "lyon has a variant in de already" in err

    _support(database_url, campaign_id, {"ana": variant_id, "bo": variant_id, "cy": None})
    code, out, _ = civic(capsys, node_dir, "coalition", "campaign", "list", "blue")
    assert code == 0 and out.splitlines() == [f"{campaign_id}\t3 support(s)\t1 variant(s)\tOcéans propres"]

    code, out, _ = civic(capsys, node_dir, "coalition", "report", "blue", "--format", "json")
    assert code == 0
    data = json.loads(out)
    [entry] = data["campaigns"]
    shares = db(database_url, lambda s: campaigns.breakdown(s, campaign))
    tallies = {(s.member.ap_id if s.member else None, s.language): s.supports for s in shares}
    assert tallies == {(f"{BASE}/actors/lyon", "de"): 2, (None, "fr"): 1}
    assert {((b["member"] or {}).get("id"), b["language"]): b["supports"] for b in entry["breakdown"]} == tallies
    assert entry["supports"] == 3 and entry["per_language"] == {"de": 2, "fr": 1} and entry["variants"] == 1
    assert data["totals"] == {"members": 2, "campaigns": 1, "supports": 3, "demand_supports": 0}
    assert sum(day["supports"] for day in entry["growth"]) == 3

    code, out, _ = civic(capsys, node_dir, "coalition", "report", "blue", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["member_id"] or None, r["language"]): int(r["supports"])
            for r in rows if r["section"] == "breakdown"} == tallies
    assert [int(r["supports"]) for r in rows if r["section"] == "campaign"] == [3]

    code, out, _ = civic(capsys, node_dir, "coalition", "report", "blue", "--language", "de")
    assert code == 0
    assert f"Campaign Saubere Ozeane ({campaign_id}): 3 support(s), 1 variant(s)" in out
    assert "  Ville de Lyon\tde\t2" in out and "  (no member)\tfr\t1" in out
    assert "  per language: de 2, fr 1" in out


def test_cli_coalition__a_refused_campaign_leaves_no_visual_behind(node_dir, database_url, capsys, tmp_path):
    """A visual that is not an image is refused before anything is stored; a campaign refused by
    the coalition (a language it does not write) takes its newly stored visual away again."""
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"<svg onload='x'/>")
    code, _, err = civic(capsys, node_dir, "coalition", "campaign", "create", "blue", "--name", "fr=Océans",
                         "--visual", f"fr={fake}")
    assert code == 1 and "the image must be a PNG, JPEG or WebP file" in err
    visual = tmp_path / "v.png"
    visual.write_bytes(PNG + b"other")
    code, _, err = civic(capsys, node_dir, "coalition", "campaign", "create", "blue", "--name", "fr=Océans",
                         "--text", "en=Oceans", "--visual", f"fr={visual}")
    assert code == 1 and "the coalition writes in fr, de" in err
    assert count(database_url, Campaign) == 0
    assert not any((node_dir / "media").glob("*"))
