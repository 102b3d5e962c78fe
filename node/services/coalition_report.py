"""A coalition's report: its members, campaigns (supports per member, per language, per day) and
shared demands with their support — the document handed to decision makers, as data (``report``),
as CSV (``to_csv``) and as JSON (``report`` is JSON-ready). The web page and ``civic coalition
report`` both print this, so the figures are the same everywhere."""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncSession

from node.errors import NotFound
from node.models import Actor, utcnow
from node.services import campaigns, coalitions, spreadsheet
from node.services.i18n import pick

CSV_COLUMNS = ("section", "campaign", "demand", "member", "member_id", "language", "day", "supports",
               "state")


def _member(actor: Actor | campaigns.Member | None) -> dict | None:
    """A member as the report shows it: its id, name (else handle) and node — the columns
    ``campaigns.Member`` carries, read here of a breakdown's share or of a membership's actor."""
    if actor is None:
        return None
    return {"id": actor.ap_id, "name": actor.name or actor.username, "node": actor.domain}


async def report(session: AsyncSession, coalition_actor: Actor, lang: str = "fr") -> dict:
    """Everything the report shows, from the tallies (never a count of the supports themselves)."""
    coalition = await coalitions.of_actor(session, coalition_actor)
    if coalition is None:
        raise NotFound("no such coalition on this node")
    members = await coalitions.members(session, coalition_actor)
    out_campaigns = []
    for campaign in await campaigns.of_coalition(session, coalition_actor):
        shares = await campaigns.breakdown(session, campaign)
        per_member: dict[str, dict] = {}
        per_language: dict[str, int] = {}
        for share in shares:
            key = share.member.ap_id if share.member else ""
            entry = per_member.setdefault(key, {"member": _member(share.member), "supports": 0})
            entry["supports"] += share.supports
            per_language[share.language] = per_language.get(share.language, 0) + share.supports
        out_campaigns.append({
            "id": campaign.ap_id,
            "name": pick(campaign.name, lang),
            "names": campaign.name,
            "published": campaign.published_at.isoformat() if campaign.published_at else None,
            "supports": campaign.support_count,
            "per_member": sorted(per_member.values(), key=lambda e: (-e["supports"],
                                 (e["member"] or {}).get("name", ""))),
            "per_language": dict(sorted(per_language.items())),
            "breakdown": [{"member": _member(s.member), "language": s.language, "supports": s.supports}
                          for s in shares],
            "growth": [{"day": day.isoformat(), "supports": n}
                       for day, n in await campaigns.growth(session, campaign)],
            "variants": len(await campaigns.variants(session, campaign)),
        })
    demands = [{"id": p.ap_id, "title": p.title, "state": p.state, "supports": p.support_count}
               for p in await campaigns.demands(session, coalition_actor)]
    return {
        "coalition": {"id": coalition_actor.ap_id, "name": coalition_actor.name,
                      "languages": coalition.languages, "visibility": coalition.visibility},
        "generated": utcnow().isoformat(timespec="seconds"),
        "members": [{**_member(row.member), "role": row.role} for row in members],
        "campaigns": out_campaigns,
        "demands": demands,
        "totals": {"members": len(members),
                   "campaigns": len(out_campaigns),
                   "supports": sum(c["supports"] for c in out_campaigns),
                   "demand_supports": sum(d["supports"] for d in demands)},
    }


def to_csv(data: dict) -> str:
    """One row per figure: each campaign's supports per member and language and per day, and each
    demand's supports (spreadsheets read it as it is)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for campaign in data["campaigns"]:
        writer.writerow({"section": "campaign", "campaign": campaign["name"], "supports": campaign["supports"]})
        for share in campaign["breakdown"]:
            member = share["member"] or {}
            writer.writerow({"section": "breakdown", "campaign": campaign["name"],
                             "member": member.get("name", ""), "member_id": member.get("id", ""),
                             "language": share["language"], "supports": share["supports"]})
        for day in campaign["growth"]:
            writer.writerow({"section": "day", "campaign": campaign["name"], "day": day["day"],
                             "supports": day["supports"]})
    for demand in data["demands"]:
        writer.writerow({"section": "demand", "demand": demand["title"], "state": demand["state"],
                         "supports": demand["supports"]})
    return spreadsheet.neutralised(out.getvalue())

